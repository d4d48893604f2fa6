"""Point-in-time recovery of PostgreSQL-backed replica sets: how soon a commit is restorable, and
what a restore as of a time costs against a restore of the base backup alone.

    .venv/bin/python bench/bench_pitr_postgresql.py [--rate 200] [--seconds 60] [--small]

Starts an in-process service with `DDS_REPLICA_SET_STORAGE=postgresql` (real HTTP, real members
under pg_auto_failover, the WAL archiver `pg_receivewal` + shipper, local store), turns
incremental backup on, takes a base backup, then one writer inserts at `--rate` documents/s with
`w: "majority"` for `--seconds`:

- commit -> restorable: for each insert, from its acknowledgement to the first moment
  `GET /restore-time` (polled every 50 ms) shows its time covered; p50/p99/max;
- restore as of a time at three marks of the load, from `POST /instances` to its job Completed,
  against the amount of WAL replayed (from the base backup's end to the mark), side by side with
  a restore of the base backup alone (no WAL replayed): the baseline.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from pymongo import WriteConcern

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.backup_helpers import backup, ready_instance, restore_new, tenant  # noqa: E402
from tests.conftest import PASSWORD, Service, run_service  # noqa: E402
from tests.helpers import instance_body  # noqa: E402
from tests.pitr_support import POLICY  # noqa: E402

from bench.common import arguments, pct, settings, table  # noqa: E402
from dds.db.backups import Backup  # noqa: E402
from dds.db.models import Instance  # noqa: E402
from dds.engine import postgres  # noqa: E402
from dds.fleet import members  # noqa: E402
from dds.walarchive import wal  # noqa: E402

MB = 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=200, help="inserts per second (default 200)")
    parser.add_argument("--seconds", type=int, default=60, help="how long the writer writes (default 60)")
    args = arguments(parser, small={"seconds": 8})
    with tempfile.TemporaryDirectory(prefix="dds-bench-pg-pitr-") as tmp:
        svc, stop = run_service(settings(Path(tmp), replica_set_storage="postgresql"))
        try:
            run(svc, args.rate, args.seconds)
        finally:
            stop()


def _covered_until(svc: Service, iid: str) -> int:
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    with svc.client() as c:
        ranges = c.get(svc.path(f"/instances/{iid}/restore-time"), params={"date": day}).json()["restore_time"]
    return max((r["end_time"] for r in ranges), default=0)


def _primary_lsn(svc: Service, iid: str) -> int:
    with svc.parts.db.session() as s:
        inst = s.get(Instance, iid)
        assert inst is not None
        port = next(m.port for m in members.states(svc.parts, inst) if m.primary)
    with psycopg.connect(postgres.member_url(port)) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    return wal.parse_lsn(str(row[0]))


def _restore_as_of(svc: Service, iid: str, at: int, name: str) -> float:
    body = {
        **instance_body(name, PASSWORD),
        "restore_point": {"instance_id": iid, "type": "timestamp", "restore_time": str(at)},
    }
    t0 = time.perf_counter()
    with svc.client() as c:
        r = c.post(svc.path("/instances"), json=body)
    assert r.status_code == 202, r.text
    assert svc.wait_job(r.json()["job_id"], timeout=3600)["status"] == "Completed"
    elapsed = time.perf_counter() - t0
    svc.delete_instance(r.json()["id"])
    return elapsed


def run(svc: Service, rate: int, seconds: int) -> None:
    src: dict[str, Any] = ready_instance(svc, "bench-pitr-pg")
    iid = src["id"]
    with svc.client() as c:
        policy = {"backup_policy": {**POLICY, "enable_incremental_backup": True}}
        assert c.put(svc.path(f"/instances/{iid}/backups/policy"), json=policy).status_code == 200
    backup_id = backup(svc, iid, "bench-pitr-base", timeout=600)
    with svc.parts.db.session() as s:
        b = s.get(Backup, backup_id)
        assert b is not None
        backup_end_lsn = int(b.manifest["end_lsn"])

    commits: list[int] = []  # acknowledgement times, UTC ms
    polls: list[tuple[int, int]] = []  # (when polled, covered until), UTC ms
    marks: list[tuple[int, int]] = []  # (time, WAL position) at a third, two thirds, the end
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            polls.append((int(time.time() * 1000), _covered_until(svc, iid)))
            time.sleep(0.05)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    with tenant(svc, svc.instance(iid)) as client:
        coll = client.get_database("bench", write_concern=WriteConcern(w="majority")).docs
        start = time.perf_counter()
        for i in range(rate * seconds):
            due = start + i / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            coll.insert_one({"_id": i, "pad": "x" * 200})
            commits.append(int(time.time() * 1000))
            if (i + 1) % (rate * seconds // 3) == 0:
                marks.append((commits[-1], _primary_lsn(svc, iid)))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not polls or polls[-1][1] < commits[-1]):
        time.sleep(0.1)
    done.set()
    poller.join()

    lags = []
    for at in commits:
        seen = next((when for when, covered in polls if covered >= at), None)
        assert seen is not None, "a commit never became restorable"
        lags.append(max(0, seen - at) / 1000)
    achieved = len(commits) / (commits[-1] - commits[0]) * 1000
    print(
        f"commit -> restorable at {achieved:.0f} writes/s ({len(commits)} commits, restore-time polled every 50 ms): "
        f"p50 {pct(lags, 50):.2f} s  p99 {pct(lags, 99):.2f} s  max {max(lags):.2f} s"
    )

    baseline = time.perf_counter()
    created = restore_new(svc, backup_id, "bench-pitr-plain", timeout=3600)
    baseline = time.perf_counter() - baseline
    svc.delete_instance(created["id"])
    rows = [("restore", "WAL replayed MB", "seconds", "ratio to base backup alone")]
    rows.append(("base backup alone (baseline)", "0.0", f"{baseline:.1f}", "1.00"))
    for n, (at, lsn) in enumerate(marks, 1):
        elapsed = _restore_as_of(svc, iid, at, f"bench-pitr-{n}")
        replayed = max(0, lsn - backup_end_lsn) / MB
        rows.append((f"as of mark {n}/3", f"{replayed:.1f}", f"{elapsed:.1f}", f"{elapsed / baseline:.2f}"))
    print(table(rows))
    svc.delete_instance(iid)


if __name__ == "__main__":
    main()
