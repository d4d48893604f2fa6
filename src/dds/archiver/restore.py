"""Point-in-time restore of an instance's database files into a staging directory."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from dds.archiver.catalog import SUFFIX, Incarnation
from dds.archiver.config import ArchiveConfig, db_key, replica_url, secrets_env
from dds.archiver.coverage import Coverage, read_coverage
from dds.archiver.errors import OutsideRestoreRanges, RestoreFailed
from dds.archiver.store import open_store


@dataclass(frozen=True)
class RestoredDatabase:
    name: str
    incarnation: str
    path: Path
    seconds: float


def restore(
    config: ArchiveConfig,
    at_ms: int,
    target_dir: Path,
    *,
    databases: Collection[str] | None = None,
    parallelism: int = 4,
    coverage: Coverage | None = None,
) -> list[RestoredDatabase]:
    """Restore every database that existed at `at_ms` (or the chosen subset) into `target_dir`.

    The result is a FerretDB data directory: `<db>.sqlite` files only. A time outside
    every covered range raises `OutsideRestoreRanges` before anything is written, so a
    restore is either exact or refused. Databases restore in parallel; each is one
    `litestream restore` process, mostly waiting on I/O.
    """
    cov = coverage if coverage is not None else read_coverage(open_store(config.replica))
    if not cov.contains(at_ms):
        raise OutsideRestoreRanges(at_ms, cov.ranges)
    chosen = [i for i in cov.catalog.incarnations_at(at_ms) if databases is None or i.name in databases]
    target_dir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        futures = [pool.submit(_restore_one, config, inc, cov.txid_at(inc.id, at_ms), target_dir) for inc in chosen]
        return [f.result() for f in futures]


def _restore_one(config: ArchiveConfig, inc: Incarnation, txid: int, target_dir: Path) -> RestoredDatabase:
    """One database, up to the transaction the covered time pins (see `ranges.reach_at`)."""
    out = target_dir / (inc.name + SUFFIX)
    if txid == 0:  # cannot happen inside a covered range; refuse rather than restore "latest"
        raise RestoreFailed(inc.name, -1, "no transaction captured before the restore time")
    argv = [
        str(config.binary),
        "restore",
        "-txid",
        f"{txid:016x}",
        "-o",
        str(out),
        replica_url(config.replica, db_key(inc.name, inc.id)),
    ]
    t0 = time.monotonic()
    proc = subprocess.run(
        argv,
        env={**os.environ, **secrets_env(config.replica)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise RestoreFailed(inc.name, proc.returncode, proc.stderr or proc.stdout)
    return RestoredDatabase(name=inc.name, incarnation=inc.id, path=out, seconds=time.monotonic() - t0)
