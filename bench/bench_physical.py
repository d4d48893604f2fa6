"""Physical backup and restore throughput against SQLite's backup API copying the same files.

    .venv/bin/python bench/bench_physical.py --size-mb 1024 [--small]

Starts an in-process service (real HTTP, real FerretDB, local store), loads `--size-mb` of
documents into a Single instance, then times, in one run:

- SQLite's backup API copying the instance's engine files (the files a backup holds: the
  node's `instances/<instance>/<node>/data/*.sqlite` but the engine-internal ones) to a
  scratch directory: the baseline of both figures;
- a manual backup, from `POST /backups` to its job Completed (freeze, zstd, store);
- a restore to a new instance, from `POST /instances` to its job Completed (stream from the
  store, verify, put the files in place, start the engine).

MB/s are engine-file bytes (what the backup covers) per second. The mongodump-layout export
that follows a backup in the background is timed separately, for information.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pymongo.errors import BulkWriteError  # noqa: E402
from sqlalchemy import select  # noqa: E402
from tests.backup_helpers import backup, ready_instance, tenant, wait_export  # noqa: E402
from tests.conftest import PASSWORD, Service, run_service  # noqa: E402

from bench.common import arguments, settings  # noqa: E402
from dds.backup import physical  # noqa: E402
from dds.db.backups import Backup  # noqa: E402
from dds.db.models import Node  # noqa: E402
from dds.fleet import layout  # noqa: E402

MB = 1024 * 1024
DOC_KB = 16  # larger documents load faster; the engine's files are what is measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=128, help="dataset size in MB (default 128; 1024 for 1 GB)")
    args = arguments(parser, small={"size_mb": 8})
    with tempfile.TemporaryDirectory(prefix="dds-bench-physical-") as tmp:
        svc, stop = run_service(settings(Path(tmp)))
        try:
            run(svc, args.size_mb, Path(tmp))
        finally:
            stop()


def load_documents(svc: Service, inst: dict[str, Any], size_mb: int) -> None:
    docs = size_mb * 1024 // DOC_KB
    rnd = random.Random(7)
    words = [os.urandom(4).hex() for _ in range(4096)]
    t0 = time.perf_counter()
    with tenant(svc, inst) as client:
        for start in range(0, docs, 200):
            batch = []
            for i in range(start, min(start + 200, docs)):
                # Text from a small vocabulary plus random bytes: compresses about 3:1, like real data.
                text = " ".join(rnd.choices(words, k=(DOC_KB - 2) * 1024 // 9))
                batch.append({"_id": i, "n": i, "kind": f"k{i % 10}", "text": text, "salt": os.urandom(2048)})
            try:
                (client.app.events if start % 400 else client.shop.orders).insert_many(batch, ordered=False)
            except BulkWriteError as exc:  # a batch retried across a failover may find its first attempt
                if any(e["code"] != 11000 for e in exc.details["writeErrors"]):
                    raise
        client.shop.orders.create_index("kind")
    print(f"loaded {docs} documents of ~{DOC_KB} KB in {time.perf_counter() - t0:.0f}s", flush=True)


def _engine_files(svc: Service, instance_id: str) -> list[Path]:
    """The files a backup of the (Single) instance holds: its node's engine files, found where the
    service keeps them (`fleet.layout`), not by guessing which directory of the instance is the node's."""
    with svc.parts.db.session() as s:
        node = s.scalars(select(Node).where(Node.instance_id == instance_id)).one()
        data = layout.data_dir(svc.parts.settings, node)
    files = sorted(f for f in data.glob("*.sqlite") if f.stem not in physical.SKIP_DATABASES)
    if not files:
        raise SystemExit(f"no engine files under {data}: the baseline would copy nothing")
    return files


def _sqlite_copy(files: list[Path], dest: Path) -> tuple[int, float]:
    """SQLite's backup API over the same files (what the backup's freeze step runs on)."""
    dest.mkdir()
    t0 = time.perf_counter()
    total = 0
    for f in files:
        with contextlib.closing(sqlite3.connect(f)) as src, contextlib.closing(sqlite3.connect(dest / f.name)) as out:
            src.backup(out)
        total += (dest / f.name).stat().st_size
    return total, time.perf_counter() - t0


def run(svc: Service, size_mb: int, tmp: Path) -> None:
    src = ready_instance(svc, "bench-physical-src", mode="Single")
    load_documents(svc, src, size_mb)
    files = _engine_files(svc, src["id"])
    copied, copy_s = _sqlite_copy(files, tmp / "sqlite-copy")

    t0 = time.perf_counter()
    backup_id = backup(svc, src["id"], "bench-physical", timeout=7200)
    backup_s = time.perf_counter() - t0
    with svc.parts.db.session() as s:
        b = s.get(Backup, backup_id)
        assert b is not None
        covered = sum(f["size"] for f in b.manifest["files"])
        archive = b.size_bytes
    t0 = time.perf_counter()
    wait_export(svc, src["id"], backup_id, timeout=7200)
    export_s = time.perf_counter() - t0

    body = {
        "name": "bench-physical-new",
        "availability_zone": "local-1a",
        "password": PASSWORD,
        "vpc_id": "-",
        "subnet_id": "-",
        "security_group_id": "-",
        "restore_point": {"type": "backup", "backup_id": backup_id},
        "flavor": [{"type": "single", "num": 1, "spec_code": "dds.mongodb.s6.large.2.single"}],
    }
    t0 = time.perf_counter()
    with svc.client() as c:
        r = c.post(svc.path("/instances"), json=body)
    assert r.status_code == 202, r.text
    job = svc.wait_job(r.json()["job_id"], timeout=7200)
    restore_s = time.perf_counter() - t0
    assert job["status"] == "Completed", job

    print(
        f"engine files: {covered / MB:.0f} MB ({copied / MB:.0f} MB copied by the baseline); "
        f"archive {archive / MB:.0f} MB (zstd {svc.parts.settings.backup_zstd_level}, "
        f"ratio {covered / archive:.2f}); backup {backup_s:.1f}s, restore {restore_s:.1f}s, "
        f"SQLite copy {copy_s:.1f}s; mongodump export afterwards {export_s:.1f}s (background)"
    )
    base = copied / MB / copy_s
    rows = [
        ("physical backup MB/s", covered / MB / backup_s),
        ("restore to new instance MB/s", covered / MB / restore_s),
    ]
    print(f"{'measure':30} {'value':>8}   {'baseline':30} {'value':>8}   {'ratio':>6}")
    for name, value in rows:
        print(f"{name:30} {value:8.1f}   {'SQLite backup API copy MB/s':30} {base:8.1f}   {value / base:6.2f}")


if __name__ == "__main__":
    main()
