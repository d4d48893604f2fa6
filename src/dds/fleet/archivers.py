"""Archiver processes: continuous archiving of a node's engine files for point-in-time recovery.

One `python -m dds.archiver` process per node of an instance whose backup policy has
incremental backup on; like the gateway it is a process of its own (archiving goes on while
the service restarts), recorded, revived and stopped with the node. Its replica lives in the
backup store under `pitr/<instance>/<node>/`.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from dds.archiver.config import ArchiveConfig, DirReplica, ReplicaTarget, S3Replica
from dds.archiver.store import open_store
from dds.db.models import Instance, Node
from dds.engine.base import Launch
from dds.fleet import layout
from dds.parts import Parts
from dds.provision.base import Role
from dds.store.s3 import S3Store

DEFAULT_RETENTION_DAYS = 7


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
    env: dict[str, str] = {}
    replica = config.replica
    if isinstance(replica, DirReplica):
        argv += ["--replica-dir", str(replica.path)]
    else:
        argv += ["--s3-bucket", replica.bucket, "--s3-prefix", replica.prefix, "--s3-region", replica.region]
        if replica.endpoint:
            argv += ["--s3-endpoint", replica.endpoint]
        env = {"DDS_ARCHIVER_S3_ACCESS_KEY": replica.access_key, "DDS_ARCHIVER_S3_SECRET_KEY": replica.secret_key}
    return Launch(argv=argv, env=env)


def start_archiver(parts: Parts, inst: Instance, node: Node) -> int:
    """(Re)start the node's archiver; it picks the engine's files up within a poll (about 1 s)."""
    config = config_for(parts, inst, node)
    config.state_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(parts.store, S3Store):
        parts.store.ensure_bucket()  # the archive shares the backups' bucket
    node_dir = layout.node_dir(parts.settings, node)
    return parts.provisioner.start(node_dir, Role.ARCHIVER, launch_for(config), node_dir / "archiver.out")


def stop_archiver(parts: Parts, node: Node) -> None:
    parts.provisioner.stop(layout.node_dir(parts.settings, node), Role.ARCHIVER)


def archiver_pid(parts: Parts, node: Node) -> int | None:
    return parts.provisioner.running_pid(layout.node_dir(parts.settings, node), Role.ARCHIVER)
