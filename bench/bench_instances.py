"""Instance provisioning and list throughput, against baselines run side by side.

1. Time from `POST /instances` to a successful authenticated pymongo ping, over N instances,
   next to the bare engine's own start-to-ping time (same binary, same flags, no service).
2. `GET /v3/{project}/instances` with C concurrent clients, next to `GET /` (no auth, no
   metadata read) on the same server: the ratio is what listing costs over bare HTTP.

Usage: python -m bench.bench_instances [--instances 20] [--clients 50] [--requests 3000] [--small]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from pymongo import MongoClient
from tests.helpers import free_port, instance_body

from bench.common import ROOT, ServiceProcess, arguments, hammer, pct, table

PASSWORD = "Bench#Pass_01"


def bare_engine_start(work: Path) -> float:
    """Start FerretDB by hand (as the adapter would) and time until a ping answers."""
    data, state = work / "data", work / "state"
    data.mkdir(parents=True)
    state.mkdir()
    port, debug = free_port(), free_port()
    env = {**os.environ, "FERRETDB_SETUP_PASSWORD": PASSWORD}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [
            str(ROOT / "bin" / "ferretdb"),
            "--handler=sqlite",
            f"--sqlite-url=file:{data}/",
            f"--state-dir={state}",
            f"--listen-addr=127.0.0.1:{port}",
            f"--debug-addr=127.0.0.1:{debug}",
            "--telemetry=disable",
            "--test-enable-new-auth",
            "--setup-database=admin",
            "--setup-username=bench",
            "--repl-set-name=replica",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    try:
        uri = f"mongodb://bench:Bench%23Pass_01@127.0.0.1:{port}/?authSource=admin&directConnection=true"
        while True:  # poll the port tightly, then ping: the fastest a client could notice
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.05).close()
            except OSError:
                time.sleep(0.002)
                continue
            try:
                with MongoClient(uri, serverSelectionTimeoutMS=1000) as c:
                    c.admin.command("ping")
                return time.perf_counter() - t0
            except Exception:
                time.sleep(0.002)
    finally:
        proc.terminate()
        proc.wait(10)


def service_create(svc: ServiceProcess, project: str, i: int) -> tuple[float, str]:
    headers = {"X-Auth-Token": "dds-dev-token"}
    body = instance_body(f"bench-{i:03d}", PASSWORD, version="4.4", series="s6")
    with httpx.Client(base_url=svc.url, headers=headers, timeout=60) as c:
        t0 = time.perf_counter()
        iid = c.post(f"/v3/{project}/instances", json=body).json()["id"]
        while True:
            inst = c.get(f"/v3/{project}/instances", params={"id": iid}).json()["instances"][0]
            if inst["status"] == "normal":
                node = inst["groups"][0]["nodes"][0]
                uri = (
                    f"mongodb://rwuser:Bench%23Pass_01@{node['private_ip']}:{inst['port']}/"
                    "?authSource=admin&directConnection=true"
                )
                try:
                    with MongoClient(uri, serverSelectionTimeoutMS=200) as m:
                        m.admin.command("ping")
                    return time.perf_counter() - t0, iid
                except Exception:
                    pass
            time.sleep(0.01)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=20)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=3000)
    args = arguments(ap, small={"instances": 2, "clients": 10, "requests": 300})
    work = Path(tempfile.mkdtemp(prefix="dds-bench-"))
    try:
        bare = [bare_engine_start(work / f"bare{i}") for i in range(args.instances)]
        svc = ServiceProcess(work / "svc")
        (work / "svc").mkdir()
        svc.start()
        try:
            project = svc.project()
            created = [service_create(svc, project, i) for i in range(args.instances)]
            ours = [t for t, _ in created]
            headers = {"X-Auth-Token": "dds-dev-token"}
            base_s, base_lat = asyncio.run(hammer(svc.url, "/", lambda _: {}, args.clients, args.requests))
            list_s, list_lat = asyncio.run(
                hammer(svc.url, f"/v3/{project}/instances", lambda _: headers, args.clients, args.requests)
            )
        finally:
            svc.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    ms = lambda v: f"{v * 1000:.0f} ms"  # noqa: E731
    print(f"\nProvisioning: POST create -> authenticated ping, {args.instances} instances, sequential")
    print(
        table(
            [
                ("", "p50", "p95", "ratio p50"),
                ("bare FerretDB start -> ping", ms(pct(bare, 50)), ms(pct(bare, 95)), "1.00"),
                ("DDS create -> ping", ms(pct(ours, 50)), ms(pct(ours, 95)), f"{pct(ours, 50) / pct(bare, 50):.2f}"),
            ]
        )
    )
    print(f"\nGET with {args.clients} concurrent clients, {args.requests} requests, {args.instances} instances listed")
    rps_base, rps_list = args.requests / base_s, args.requests / list_s
    print(
        table(
            [
                ("", "req/s", "p50", "p95", "ratio req/s"),
                ("GET / (baseline)", f"{rps_base:.0f}", ms(pct(base_lat, 50)), ms(pct(base_lat, 95)), "1.00"),
                (
                    "GET /instances",
                    f"{rps_list:.0f}",
                    ms(pct(list_lat, 50)),
                    ms(pct(list_lat, 95)),
                    f"{rps_list / rps_base:.2f}",
                ),
            ]
        )
    )


if __name__ == "__main__":
    main()
