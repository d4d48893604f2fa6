"""Backup/restore throughput against plain pymongo on the same engine and data.

    .venv/bin/python bench/bench_backup.py --size-mb 1024 [--small]

Starts an in-process service (real HTTP, real FerretDB), loads `--size-mb` of ~1 KB
documents with insert_many (the restore baseline), scans them with pymongo (the backup
baseline), then times a manual backup, the download link, and a restore to a new instance.
The mongodump-layout export that follows the backup in the background is waited for (and
timed, for information) before the restore, so the restore does not share the machine with it
and the service is never stopped in the middle of it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.backup_helpers import backup, ready_instance, restore_new, tenant  # noqa: E402
from tests.conftest import run_service  # noqa: E402

from bench.common import arguments, settings  # noqa: E402
from dds.db.models import Job  # noqa: E402
from dds.domain.jobs import JobName  # noqa: E402
from dds.domain.states import JobStatus  # noqa: E402

MB = 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=1024, help="dataset size in MB (default 1 GB)")
    args = arguments(parser, small={"size_mb": 4})
    with tempfile.TemporaryDirectory(prefix="dds-bench-") as tmp:
        svc, stop = run_service(settings(Path(tmp)))
        try:
            run(svc, args.size_mb)
        finally:
            stop()


def wait_export(svc, backup_id: str, timeout: float) -> None:  # type: ignore[no-untyped-def]
    """Until the backup's background export job has ended; it must have completed."""
    deadline = time.monotonic() + timeout
    while True:
        with svc.parts.db.session() as s:
            jobs = [
                (j.status, j.fail_reason)
                for j in s.scalars(select(Job).where(Job.name == JobName.EXPORT_BACKUP))
                if j.payload.get("backup_id") == backup_id
            ]
        if jobs and jobs[0][0] != JobStatus.RUNNING:
            if jobs[0][0] != JobStatus.COMPLETED:
                raise SystemExit(f"the export of backup {backup_id} failed: {jobs[0][1]}")
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"the export of backup {backup_id} did not end within {timeout:.0f}s")
        time.sleep(0.2)


def run(svc, size_mb: int) -> None:  # type: ignore[no-untyped-def]
    src = ready_instance(svc, "bench-source")
    doc_count = size_mb * 1024  # ~1 KB each
    with tenant(svc, src) as client:
        coll = client.bench.docs
        t0 = time.perf_counter()
        for start in range(0, doc_count, 2000):
            coll.insert_many(
                [
                    {"_id": i, "n": i, "payload": os.urandom(300).hex() + "x" * 400, "tags": ["a", "b"]}
                    for i in range(start, min(start + 2000, doc_count))
                ]
            )
        insert_s = time.perf_counter() - t0
        raw = client.bench.get_collection("docs", codec_options=CodecOptions(document_class=RawBSONDocument))
        t0 = time.perf_counter()
        data_bytes = sum(len(d.raw) for d in raw.find(batch_size=2000))
        scan_s = time.perf_counter() - t0
    print(f"dataset: {doc_count} documents, {data_bytes / MB:.0f} MB of BSON", flush=True)

    t0 = time.perf_counter()
    backup_id = backup(svc, src["id"], "bench-backup", timeout=7200)
    backup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    wait_export(svc, backup_id, timeout=7200)
    export_s = time.perf_counter() - t0

    with svc.client() as c:
        files = c.get(
            svc.path("/backups/download-file"), params={"instance_id": src["id"], "backup_id": backup_id}
        ).json()["files"]
    link = files[0]["download_link"]
    t0 = time.perf_counter()
    got = 0
    with httpx.stream("GET", link, timeout=600) as r:
        for chunk in r.iter_bytes(1024 * 1024):
            got += len(chunk)
    link_s = time.perf_counter() - t0
    archive = next(svc.parts.settings.backup_store_dir.rglob(f"{backup_id}.physical.tar.zst"))
    t0 = time.perf_counter()
    with archive.open("rb") as f:
        while f.read(1024 * 1024):
            pass
    disk_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    restore_new(svc, backup_id, "bench-restored", timeout=7200)
    restore_s = time.perf_counter() - t0

    rows = [
        (
            "backup (physical: zstd+store) MB/s",
            data_bytes / MB / backup_s,
            "pymongo full scan MB/s",
            data_bytes / MB / scan_s,
        ),
        ("restore docs/s", doc_count / restore_s, "insert_many docs/s", doc_count / insert_s),
        ("download link MB/s", got / MB / link_s, "read file from disk MB/s", got / MB / disk_s),
    ]
    print(
        f"archive: {got / MB:.0f} MB; backup {backup_s:.1f}s, restore {restore_s:.1f}s; "
        f"mongodump export afterwards {export_s:.1f}s (background, waited for before the restore)"
    )
    print(f"{'measure':34} {'value':>10}   {'baseline':28} {'value':>10}   {'ratio':>6}")
    for name, value, base_name, base in rows:
        print(f"{name:34} {value:10.1f}   {base_name:28} {base:10.1f}   {value / base:6.2f}")


if __name__ == "__main__":
    main()
