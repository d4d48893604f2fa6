"""What the instance gateway costs: the same workload straight to the engine and through the gateway.

One engine (bin/ferretdb, SQLite, the service's flags) and one gateway process in front of it
(`python -m dds.gateway`, default slow_ms 100), both on 127.0.0.1. Each workload runs with 1 and
with N client threads (one pymongo client per path, pool >= N), directly and through the gateway
in ten alternating slices, so load from elsewhere on the host falls on both paths alike.
Printed: ops/s, p50, p99 per path, the ratio, and the gateway's RSS (VmRSS) idle and after.

Targets: throughput >= 0.8x direct, p50 <= +0.3 ms.

Usage: python -m bench.bench_gateway [--ops 5000] [--threads 8] [--loop auto|asyncio|uvloop] [--small]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from pymongo import MongoClient

from bench.common import arguments, pct, stop, table

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "bin" / "ferretdb"
SERVICE_USER, SERVICE_PASSWORD = "dds_service", "Bench#Svc_01"
USER, PASSWORD = "bench", "Bench#Pass_01"
TARGET_RATIO, TARGET_P50_MS = 0.8, 0.3
DOCS = 100
ROUNDS = 10  # alternating slices per comparison


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{what} did not start within {timeout}s")


def port_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def start_engine(base: Path, binary: Path = ENGINE) -> tuple[subprocess.Popen[bytes], int]:
    port, debug = free_port(), free_port()
    (base / "data").mkdir()
    (base / "state").mkdir()
    argv = [
        str(binary),
        "--handler=sqlite",
        f"--sqlite-url=file:{base}/data/",
        f"--state-dir={base}/state",
        f"--listen-addr=127.0.0.1:{port}",
        f"--debug-addr=127.0.0.1:{debug}",
        "--telemetry=disable",
        "--test-enable-new-auth",
        "--log-level=INFO",
        "--repl-set-name=replica",
        "--setup-database=admin",
        f"--setup-username={SERVICE_USER}",
    ]
    env = {**os.environ, "FERRETDB_SETUP_PASSWORD": SERVICE_PASSWORD}
    log = open(base / "engine.log", "wb")  # noqa: SIM115 - the child holds it
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()

    def ready() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{debug}/debug/readyz", timeout=1) as resp:
            return bool(resp.status == 200) and port_open(port)

    wait_until(ready, 20, "engine")
    return proc, port


def start_gateway(base: Path, engine_port: int, loop: str, **extra: Any) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    base.mkdir(parents=True, exist_ok=True)
    config = {
        "listen_host": "127.0.0.1",
        "listen_port": port,
        "engine_host": "127.0.0.1",
        "engine_port": engine_port,
        "advertised_host": "127.0.0.1",
        "advertised_port": port,
        "repl_set_name": "replica",
        "protected_users": [SERVICE_USER],
        "log_dir": str(base / "gateway-logs"),
        "slow_ms": 100,
        "max_connections": 0,
        **extra,
    }
    (base / "gateway.json").write_text(json.dumps(config))
    out = open(base / "gateway.out", "wb")  # noqa: SIM115 - the child holds it
    proc = subprocess.Popen(
        [sys.executable, "-m", "dds.gateway", "--config", str(base / "gateway.json"), "--loop", loop],
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    out.close()
    wait_until(lambda: port_open(port), 10, "gateway")
    return proc, port


def client(port: int, threads: int) -> MongoClient[dict[str, Any]]:
    uri = f"mongodb://{quote_plus(USER)}:{quote_plus(PASSWORD)}@127.0.0.1:{port}/admin?directConnection=true"
    return MongoClient(uri, maxPoolSize=max(threads, 1), minPoolSize=threads)


class Measured:
    """One measured path (direct or through the gateway): a warm client and what it measured."""

    def __init__(self, port: int, workload: str, threads: int) -> None:
        self.client = client(port, threads)
        coll = self.client.bench.items
        admin = self.client.admin
        self.threads = threads
        self.op: Callable[[int], object]
        if workload == "ping":
            self.op = lambda _: admin.command("ping")
        else:
            self.op = lambda i: coll.find_one({"_id": i % DOCS})
        for i in range(200):  # warm the pool and the engine's caches
            self.op(i)
        self.elapsed = 0.0
        self.latencies: list[float] = []

    def run(self, ops: int) -> None:
        """`ops` operations spread over the threads; adds to elapsed time and latencies (ms)."""
        per_thread = ops // self.threads
        latencies: list[list[float]] = [[] for _ in range(self.threads)]
        start_line = threading.Barrier(self.threads + 1)
        op = self.op

        def worker(k: int) -> None:
            own = latencies[k]
            start_line.wait()
            for i in range(per_thread):
                t0 = time.perf_counter()
                op(k * per_thread + i)
                own.append((time.perf_counter() - t0) * 1000)

        pool = [threading.Thread(target=worker, args=(k,)) for k in range(self.threads)]
        for t in pool:
            t.start()
        start_line.wait()
        t0 = time.perf_counter()
        for t in pool:
            t.join()
        self.elapsed += time.perf_counter() - t0
        for own in latencies:
            self.latencies.extend(own)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed


def compare(engine_port: int, gateway_port: int, workload: str, threads: int, ops: int) -> tuple[Measured, Measured]:
    """Direct and gateway in alternating slices, so load from elsewhere on the host hits both alike."""
    direct, through = Measured(engine_port, workload, threads), Measured(gateway_port, workload, threads)
    try:
        for i in range(ROUNDS):
            for path in (direct, through) if i % 2 == 0 else (through, direct):
                path.run(ops // ROUNDS)
    finally:
        direct.client.close()
        through.client.close()
    return direct, through


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto", help="the gateway's loop")
    args = arguments(parser, small={"ops": 400, "threads": 2})
    if not ENGINE.exists():
        raise SystemExit(f"{ENGINE} is missing: run `make setup`")
    base = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    engine, engine_port = start_engine(base)
    gateway: subprocess.Popen[bytes] | None = None
    try:
        service_uri = f"mongodb://{SERVICE_USER}:{quote_plus(SERVICE_PASSWORD)}@127.0.0.1:{engine_port}/admin"
        with MongoClient[dict[str, Any]](service_uri, directConnection=True) as svc:
            svc.admin.command("createUser", USER, pwd=PASSWORD, roles=[])
            # Small on purpose: the engine scans for find_one (no _id index use), and the bench
            # measures the gateway, not the scan.
            items: list[dict[str, Any]] = [{"_id": i, "name": f"item-{i}", "qty": i % 17} for i in range(DOCS)]
            svc.bench.items.insert_many(items)
        gateway, gateway_port = start_gateway(base, engine_port, args.loop)
        time.sleep(0.5)
        idle_rss = rss_kib(gateway.pid)

        rows: list[tuple[str, ...]] = [("workload", "threads", "path", "ops/s", "p50 ms", "p99 ms", "ratio", "Δp50 ms")]
        verdicts: list[bool] = []
        for workload in ("ping", "find_one"):
            for threads in (1, args.threads):
                direct, through = compare(engine_port, gateway_port, workload, threads, args.ops)
                (d_rate, d_lat), (g_rate, g_lat) = (direct.rate, direct.latencies), (through.rate, through.latencies)
                ratio = g_rate / d_rate
                delta = pct(g_lat, 50) - pct(d_lat, 50)
                verdicts.append(ratio >= TARGET_RATIO and delta <= TARGET_P50_MS)
                for path, rate, lat in (("direct", d_rate, d_lat), ("gateway", g_rate, g_lat)):
                    rows.append(
                        (
                            workload,
                            str(threads),
                            path,
                            f"{rate:,.0f}",
                            f"{pct(lat, 50):.3f}",
                            f"{pct(lat, 99):.3f}",
                            f"{ratio:.2f}x" if path == "gateway" else "",
                            f"{delta:+.3f}" if path == "gateway" else "",
                        )
                    )
        loaded_rss = rss_kib(gateway.pid)
        print(table(rows))
        print()
        started = json.loads((base / "gateway-logs" / "gateway.log").read_text().splitlines()[0])
        print(f"gateway loop: {started['loop']}; ops per run: {args.ops}; docs: {DOCS}")
        print(f"gateway RSS: {idle_rss / 1024:.1f} MiB idle, {loaded_rss / 1024:.1f} MiB after the runs")
        print(f"targets (>= {TARGET_RATIO}x ops/s, <= +{TARGET_P50_MS} ms p50): {'met' if all(verdicts) else 'MISSED'}")
    finally:
        for proc in (gateway, engine):
            stop(proc)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
