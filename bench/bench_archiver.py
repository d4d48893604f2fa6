"""Archiver benchmark: lag under a steady write load, restore time vs history, sidecar cost.

    .venv/bin/python bench/bench_archiver.py [--rate 200] [--seconds 60] [--s3] [--small]

A FerretDB and the litestream sidecar (production cadences: sync 1 s, monitor 0.5 s,
heartbeat 1 s) run on a temporary directory; one writer inserts at a steady rate.

* capture lag: for each insert, from its commit (insert acknowledged) to the moment an
  LTX file captured after the commit is in the replica (a restore could include it);
* coverage lag: from commit to the moment `read_coverage` first reports the commit
  time as covered (heartbeat cadence and the settle margin included);
* restore time: whole-instance restore as of 10 s / 30 s / 60 s into the load;
* sidecar cost: CPU seconds and RSS of litestream and its heartbeat child, from /proc.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from pymongo import MongoClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import arguments  # noqa: E402
from dds.archiver import ArchiveConfig, DirReplica, S3Replica, Sidecar, read_coverage, restore  # noqa: E402
from dds.archiver.config import db_key  # noqa: E402
from dds.archiver.ltx import HEADER_SIZE, parse_header, parse_name  # noqa: E402
from dds.archiver.store import LtxLister, ReplicaStore, open_store  # noqa: E402

PASSWORD = "Bench#Pass_01"
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def now_ms() -> float:
    return time.time() * 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def proc_cpu_rss(pid: int) -> tuple[float, int]:
    """(CPU seconds, RSS bytes) of one process from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
    with open(f"/proc/{pid}/statm") as f:
        rss = int(f.read().split()[1]) * PAGE
    return cpu, rss


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out += [int(c) for c in text]
    return out


def sidecar_usage(pid: int) -> tuple[float, int, float, int]:
    cpu, rss = proc_cpu_rss(pid)
    kid_cpu = kid_rss = 0.0
    for kid in children(pid):
        c, r = proc_cpu_rss(kid)
        kid_cpu, kid_rss = kid_cpu + c, kid_rss + r
    return cpu, rss, kid_cpu, int(kid_rss)


class Procs:
    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            p = subprocess.Popen(
                argv, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs.append(p)
        return p

    def kill_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)


def start_ferretdb(procs: Procs, node: Path) -> tuple[subprocess.Popen[bytes], int]:
    (node / "data").mkdir(parents=True, exist_ok=True)
    port, debug = free_port(), free_port()
    argv = [
        str(ROOT / "bin/ferretdb"),
        "--handler=sqlite",
        f"--sqlite-url=file:{node / 'data'}/",
        f"--state-dir={node / 'state'}",
        f"--listen-addr=127.0.0.1:{port}",
        f"--debug-addr=127.0.0.1:{debug}",
        "--telemetry=disable",
        "--test-enable-new-auth",
        "--log-level=WARN",
        "--setup-database=admin",
        "--setup-username=svc",
    ]
    p = procs.start(argv, node / "ferretdb.log", {"FERRETDB_SETUP_PASSWORD": PASSWORD})
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{debug}/debug/readyz", timeout=1) as r:
                if r.status == 200:
                    return p, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("FerretDB not ready")


def mongo(port: int) -> MongoClient[dict[str, Any]]:
    return MongoClient(
        f"mongodb://svc:{PASSWORD.replace('#', '%23')}@127.0.0.1:{port}/?authSource=admin&directConnection=true"
    )


def start_moto(procs: Procs, tmp: Path) -> S3Replica:
    import boto3

    port = free_port()
    procs.start([str(ROOT / ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)], tmp / "moto.log")
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="k",
        aws_secret_access_key="s",
        region_name="us-east-1",
    )
    for _ in range(100):
        try:
            s3.create_bucket(Bucket="pitr")
            break
        except Exception:
            time.sleep(0.2)
    return S3Replica(bucket="pitr", prefix="bench", endpoint=f"http://127.0.0.1:{port}", access_key="k", secret_key="s")


class ReplicaWatcher(threading.Thread):
    """Notes when each LTX file of one incarnation first appears in the replica."""

    def __init__(self, store: ReplicaStore, prefix: str) -> None:
        super().__init__(daemon=True)
        self.store, self.prefix = store, prefix
        self.seen: dict[str, tuple[int, float]] = {}  # key -> (capture timestamp, first seen)
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.02):
            t = now_ms()
            for key in self.store.keys(self.prefix + "/"):
                if key in self.seen:
                    continue
                name = parse_name(key)
                if name is None or name[0] != 0:
                    continue
                try:
                    _lo, _hi, ts = parse_header(self.store.read(key, HEADER_SIZE))
                except KeyError:
                    continue
                self.seen[key] = (ts, t)


class CoverageWatcher(threading.Thread):
    """Samples the instance's covered ranges as an operator would."""

    def __init__(self, store: ReplicaStore) -> None:
        super().__init__(daemon=True)
        self.lister = LtxLister(store)
        self.samples: list[tuple[float, list[tuple[int, int]]]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            t = now_ms()
            self.samples.append((t, read_coverage(self.lister.store, lister=self.lister).ranges))


def covered_at(samples: list[tuple[float, list[tuple[int, int]]]], c: float) -> float | None:
    for t, ranges in samples:
        if any(a <= c <= b for a, b in ranges):
            return t
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--s3", action="store_true", help="archive to moto's S3 server instead of a directory")
    args = arguments(ap, small={"rate": 50, "seconds": 12})

    tmp = Path(tempfile.mkdtemp(prefix="bench-archiver-"))
    procs = Procs()
    sidecar: Sidecar | None = None
    try:
        replica = start_moto(procs, tmp) if args.s3 else DirReplica(tmp / "replica")
        config = ArchiveConfig(data_dir=tmp / "node/data", state_dir=tmp / "node/archiver", replica=replica)
        fdb, port = start_ferretdb(procs, tmp / "node")
        client = mongo(port)
        sidecar = Sidecar(config)
        sidecar.start()
        client.bench.items.insert_one({"_id": -1})  # creates bench.sqlite: the sidecar restarts once
        deadline = time.monotonic() + 10
        while not any(i.name == "bench" for i in sidecar.catalog.live()) or sidecar.pid is None:
            assert time.monotonic() < deadline, "bench database not picked up"
            time.sleep(0.1)
        time.sleep(3)
        inc = next(i for i in sidecar.catalog.live() if i.name == "bench")
        store = open_store(replica)
        rw, cw = ReplicaWatcher(store, db_key("bench", inc.id)), CoverageWatcher(open_store(replica))
        rw.start()
        cw.start()

        pid = sidecar.pid
        assert pid is not None
        usage0, fdb0 = sidecar_usage(pid), proc_cpu_rss(fdb.pid)
        commits: list[float] = []
        marks: dict[int, int] = {}
        payload = "x" * 200
        t0 = time.monotonic()
        n = 0
        while True:
            elapsed = time.monotonic() - t0
            if elapsed >= args.seconds:
                break
            for m in (10, 30, 60):
                if m not in marks and elapsed >= m:
                    marks[m] = int(now_ms())
            wait = t0 + n / args.rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            client.bench.items.insert_one({"_id": n, "payload": payload})
            commits.append(now_ms())
            n += 1
        end_mark = int(now_ms())
        marks.setdefault(int(args.seconds), end_mark)
        usage1, fdb1 = sidecar_usage(pid), proc_cpu_rss(fdb.pid)
        load_s = time.monotonic() - t0
        time.sleep(5)  # let the tail be captured and covered
        rw.stop.set()
        cw.stop.set()
        rw.join()
        cw.join()

        files = sorted(rw.seen.values())
        capture_lag: list[float] = []
        for c in commits:
            first = min((seen for ts, seen in files if ts > c), default=None)
            if first is not None:
                capture_lag.append(first - c)
        coverage_lag = [t - c for c in commits if (t := covered_at(cw.samples, c)) is not None]

        restores = []
        for m, at in sorted(marks.items()):
            out = tmp / f"restore-{m}"
            t = time.monotonic()
            cov = read_coverage(open_store(replica))  # a cold listing: every LTX header read once
            t_cov = time.monotonic() - t
            done = restore(config, at, out / "data", coverage=cov)
            secs = time.monotonic() - t - t_cov
            size = sum(r.path.stat().st_size for r in done)
            restores.append((m, t_cov, secs, size, cov.txid_at(inc.id, at), len(done)))
        ltx_count = len([k for k in store.keys(db_key("bench", inc.id) + "/") if parse_name(k)])

        print(
            f"\nArchiver under load: {n} inserts in {load_s:.1f} s ({n / load_s:.0f}/s), "
            f"replica={'s3 (moto)' if args.s3 else 'local directory'}, sync 1 s, monitor 0.5 s, heartbeat 1 s\n"
        )
        rows: list[tuple[str, ...]] = [("measure", "n", "p50", "p99", "max")]
        for label, values in (
            ("capture lag (commit -> LTX in replica)", capture_lag),
            ("coverage lag (commit -> restorable)", coverage_lag),
        ):
            rows.append(
                (
                    label,
                    str(len(values)),
                    f"{pct(values, 50) / 1000:.2f} s",
                    f"{pct(values, 99) / 1000:.2f} s",
                    f"{max(values) / 1000:.2f} s",
                )
            )
        print(table(rows))
        print()
        rows = [("restore as of", "ranges s", "restore s", "databases", "restored bytes", "bench txid")]
        for m, t_cov, secs, size, chain, dbs in restores:
            rows.append((f"{m} s into the load", f"{t_cov:.2f}", f"{secs:.2f}", str(dbs), f"{size:,}", str(chain)))
        print(table(rows))
        print(f"(bench incarnation holds {ltx_count} LTX files at the end)\n")
        rows = [("process", "CPU s during load", "CPU % of one core", "RSS at end")]
        for label, a, b, rss in (
            ("litestream", usage0[0], usage1[0], usage1[1]),
            ("heartbeat child", usage0[2], usage1[2], usage1[3]),
            ("ferretdb (for scale)", fdb0[0], fdb1[0], fdb1[1]),
        ):
            rows.append((label, f"{b - a:.2f}", f"{100 * (b - a) / load_s:.1f}", f"{rss / 2**20:.1f} MiB"))
        print(table(rows))
    finally:
        if sidecar is not None:
            sidecar.close()
        procs.kill_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
