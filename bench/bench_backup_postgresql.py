"""Backups of PostgreSQL-backed replica sets against a plain copy of the same server directory.

    .venv/bin/python bench/bench_backup_postgresql.py --size-mb 1024 [--small]

Starts an in-process service with `DDS_REPLICA_SET_STORAGE=postgresql` (real HTTP, real members
under pg_auto_failover, local store), loads `--size-mb` of documents into a replica set, then
times, in one run:

- a plain recursive file copy of a secondary's server directory (`pgdata/`, what a base backup
  holds) to a scratch directory: the baseline of both figures;
- a manual backup, from `POST /backups` to its job Completed (base backup of a secondary, zstd,
  store);
- a restore to a new instance (a replica set on PostgreSQL storage), from `POST /instances` to
  its job Completed: the base backup verified, brought up once, made the first member's server
  directory, the other members base-backed-up from it.

MB/s are server-directory bytes (what the base backup holds, its WAL included) per second; the
last line gives the loaded documents' megabytes per second too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.backup_helpers import backup, ready_instance, restore_new  # noqa: E402
from tests.conftest import Service, run_service  # noqa: E402

from bench.bench_physical import load_documents  # noqa: E402
from bench.common import arguments, settings  # noqa: E402
from dds.db.backups import Backup  # noqa: E402
from dds.db.models import Instance  # noqa: E402
from dds.engine import postgres  # noqa: E402
from dds.fleet import members  # noqa: E402

MB = 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=128, help="dataset size in MB (default 128; 1024 for 1 GB)")
    args = arguments(parser, small={"size_mb": 8})
    with tempfile.TemporaryDirectory(prefix="dds-bench-pg-backup-") as tmp:
        svc, stop = run_service(settings(Path(tmp), replica_set_storage="postgresql"))
        try:
            run(svc, args.size_mb, Path(tmp))
        finally:
            stop()


def _secondary_pgdata(svc: Service, instance_id: str) -> Path:
    """A caught-up standby's server directory, found where the service keeps it."""
    with svc.parts.db.session() as s:
        inst = s.get(Instance, instance_id)
        assert inst is not None
        found = members.states(svc.parts, inst)
        name = next(m.name for m in found if m.caught_up)
        node = next(n for n in inst.nodes if n.id == name)
        return postgres.pgdata(members.store_dir(svc.parts, node))


def _plain_copy(src: Path, dest: Path) -> tuple[int, float]:
    """Every file of the server directory copied as it lies (what `cp -r` does)."""
    t0 = time.perf_counter()
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("postmaster.pid"))
    elapsed = time.perf_counter() - t0
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(dest) for f in fs)
    return total, elapsed


def run(svc: Service, size_mb: int, tmp: Path) -> None:
    src: dict[str, Any] = ready_instance(svc, "bench-pg-src")
    load_documents(svc, src, size_mb)
    copied, copy_s = _plain_copy(_secondary_pgdata(svc, src["id"]), tmp / "plain-copy")

    t0 = time.perf_counter()
    backup_id = backup(svc, src["id"], "bench-pg", timeout=7200)
    backup_s = time.perf_counter() - t0
    with svc.parts.db.session() as s:
        b = s.get(Backup, backup_id)
        assert b is not None
        covered = sum(f["size"] for f in b.manifest["files"])
        archive = b.size_bytes

    t0 = time.perf_counter()
    created = restore_new(svc, backup_id, "bench-pg-new", timeout=7200)
    restore_s = time.perf_counter() - t0
    for iid in (created["id"], src["id"]):  # their servers and keepers stop with them
        svc.delete_instance(iid)

    print(
        f"server directory: {covered / MB:.0f} MB in the base backup ({copied / MB:.0f} MB copied by the baseline); "
        f"archive {archive / MB:.0f} MB (zstd {svc.parts.settings.backup_zstd_level}, ratio {covered / archive:.2f}); "
        f"backup {backup_s:.1f}s, restore {restore_s:.1f}s, plain copy {copy_s:.1f}s"
    )
    base = copied / MB / copy_s
    rows = [
        ("base backup MB/s", covered / MB / backup_s),
        ("restore to new instance MB/s", covered / MB / restore_s),
    ]
    print(f"{'measure':30} {'value':>8}   {'baseline':22} {'value':>8}   {'ratio':>6}")
    for name, value in rows:
        print(f"{name:30} {value:8.1f}   {'plain file copy MB/s':22} {base:8.1f}   {value / base:6.2f}")
    docs = f"backup {size_mb / backup_s:.1f} MB/s, restore {size_mb / restore_s:.1f} MB/s"
    print(f"documents ({size_mb} MB loaded): {docs}")


if __name__ == "__main__":
    main()
