"""Archiver processes: continuous archiving of a node's engine files for point-in-time recovery.

One `python -m dds.archiver` process per node of an instance whose backup policy has
incremental backup on; like the gateway it is a process of its own (archiving goes on while
the service restarts), recorded, revived and stopped with the node. Its replica lives in the
backup store under `pitr/<instance>/<node>/`.

A replica set on PostgreSQL storage has one archiver instead, `python -m dds.walarchive`, beside
its first member: it archives the WAL of whichever member is primary into `pitr/<instance>/wal/`.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from dds.archiver.config import ArchiveConfig, DirReplica, ReplicaTarget, S3Replica
from dds.archiver.store import open_store
from dds.db.models import Instance, Node
from dds.engine.base import Launch
from dds.fleet import layout, members
from dds.parts import Parts
from dds.provision.base import Role
from dds.store.s3 import S3Store
from dds.walarchive.shipper import WalArchiveConfig

DEFAULT_RETENTION_DAYS = 7
WAL = "wal"  # the WAL archive of a replica set on PostgreSQL storage, beside the nodes' replicas


def replica_for(parts: Parts, instance_id: str, node_id: str) -> ReplicaTarget:
    settings = parts.settings
    rel = f"pitr/{instance_id}/{node_id}".rstrip("/")
    if settings.backup_store == "s3":
        return S3Replica(
            bucket=settings.s3_bucket,
            prefix=rel,
            endpoint=settings.s3_endpoint_url or "",
            region=settings.s3_region,
            access_key=settings.s3_access_key or "",
            secret_key=settings.s3_secret_key or "",
        )
    return DirReplica(settings.backup_store_dir / rel)


def drop_archive(parts: Parts, instance_id: str) -> None:
    """Delete every node's replica of the instance (safe to repeat)."""
    open_store(replica_for(parts, instance_id, "")).delete_prefix("")


def state_dir(parts: Parts, node: Node) -> Path:
    """Outside the engine's data directory: the archiver never writes beside the engine's files."""
    return layout.node_dir(parts.settings, node) / "archiver"


def config_for(parts: Parts, inst: Instance, node: Node) -> ArchiveConfig:
    days = inst.backup_keep_days or DEFAULT_RETENTION_DAYS
    return ArchiveConfig(
        data_dir=layout.data_dir(parts.settings, node),
        state_dir=state_dir(parts, node),
        replica=replica_for(parts, inst.id, node.id),
        retention=timedelta(days=days),
    )


def launch_for(config: ArchiveConfig) -> Launch:
    argv = [sys.executable, "-m", "dds.archiver", "--data-dir", str(config.data_dir), "--state-dir"]
    argv += [str(config.state_dir), "--retention-days", str(config.retention.days)]
    return _with_replica(argv, config.replica)


def _with_replica(argv: list[str], replica: ReplicaTarget) -> Launch:
    """An archiver's command line naming its archive (S3 keys in its environment only)."""
    if isinstance(replica, DirReplica):
        return Launch(argv=[*argv, "--replica-dir", str(replica.path)], env={})
    argv = [*argv, "--s3-bucket", replica.bucket, "--s3-prefix", replica.prefix, "--s3-region", replica.region]
    if replica.endpoint:
        argv += ["--s3-endpoint", replica.endpoint]
    env = {"DDS_ARCHIVER_S3_ACCESS_KEY": replica.access_key, "DDS_ARCHIVER_S3_SECRET_KEY": replica.secret_key}
    return Launch(argv=argv, env=env)


def archives(inst: Instance, node: Node) -> bool:
    """The node runs an archiver: every node of an instance with incremental backup on, but on
    PostgreSQL storage only the first member (one stream of WAL for the whole replica set)."""
    return inst.incremental_backup and (inst.storage != "postgresql" or node.id == inst.nodes[0].id)


def wal_replica(parts: Parts, instance_id: str) -> ReplicaTarget:
    return replica_for(parts, instance_id, WAL)


def wal_config_for(parts: Parts, inst: Instance, node: Node) -> WalArchiveConfig:
    t = members.tools(parts)
    ports = [n.storage_port for n in inst.nodes if n.role != members.READ_REPLICA and n.storage_port is not None]
    return WalArchiveConfig(
        spool=state_dir(parts, node) / "wal",
        ports=tuple(ports),
        bin_dir=t.bin_dir,
        user=t.user,
        replica=wal_replica(parts, inst.id),
        retention_days=inst.backup_keep_days or DEFAULT_RETENTION_DAYS,
    )


def wal_launch_for(config: WalArchiveConfig) -> Launch:
    argv = [sys.executable, "-m", "dds.walarchive", "--spool", str(config.spool), "--bin-dir", str(config.bin_dir)]
    for port in config.ports:
        argv += ["--port", str(port)]
    if config.user:
        argv += ["--user", config.user]
    return _with_replica([*argv, "--retention-days", str(config.retention_days)], config.replica)


def start_archiver(parts: Parts, inst: Instance, node: Node) -> int:
    """(Re)start the node's archiver; it picks the engine's files up within a poll (about 1 s)."""
    if isinstance(parts.store, S3Store):
        parts.store.ensure_bucket()  # the archive shares the backups' bucket
    node_dir = layout.node_dir(parts.settings, node)
    if inst.storage == "postgresql":
        wal = wal_config_for(parts, inst, node)
        wal.spool.parent.mkdir(parents=True, exist_ok=True)
        launch = wal_launch_for(wal)
    else:
        config = config_for(parts, inst, node)
        config.state_dir.mkdir(parents=True, exist_ok=True)
        launch = launch_for(config)
    return parts.provisioner.start(node_dir, Role.ARCHIVER, launch, node_dir / "archiver.out")


def stop_archiver(parts: Parts, node: Node) -> None:
    parts.provisioner.stop(layout.node_dir(parts.settings, node), Role.ARCHIVER)


def archiver_pid(parts: Parts, node: Node) -> int | None:
    return parts.provisioner.running_pid(layout.node_dir(parts.settings, node), Role.ARCHIVER)
