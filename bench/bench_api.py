"""API read throughput with wrk (a C load generator, so the client is not the bottleneck).

`GET /v3/{project}/instances` listing N instances next to `GET /` (no auth, no metadata) on the
same server in the same run, C concurrent connections each: requests/s, p50 and p99. Also
`GET /v3/{project}/jobs?id=` (one row) as a second read path.

Needs `wrk` (Debian package `wrk`). Usage: python -m bench.bench_api [--instances 100] [--connections 50]
[--seconds 10] [--small]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from tests.helpers import instance_body

from bench.common import ServiceProcess, arguments, table

PASSWORD = "Bench#Pass_01"
HEADERS = {"X-Auth-Token": "dds-dev-token"}


def create(url: str, project: str, i: int) -> str:
    body = instance_body(f"api-{i:03d}", PASSWORD, mode="Single", version="4.4", series="s6")
    with httpx.Client(base_url=url, headers=HEADERS, timeout=120) as c:
        r = c.post(f"/v3/{project}/instances", json=body)
        assert r.status_code == 202, r.text
        job = r.json()["job_id"]
        while c.get(f"/v3/{project}/jobs", params={"id": job}).json()["job"]["status"] == "Running":
            time.sleep(0.2)
        return str(r.json()["id"])


def wrk(url: str, connections: int, seconds: int, token: bool) -> dict[str, float]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if token:
        cmd[1:1] = ["-H", f"X-Auth-Token: {HEADERS['X-Auth-Token']}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    unit = {"us": 1e-3, "ms": 1.0, "s": 1000.0}

    def latency(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)$", out, re.M)
        assert m, out
        return float(m.group(1)) * unit[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert errors is None, out
    return {"rps": rps, "p50": latency("50"), "p99": latency("99")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=100)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=10)
    args = arguments(ap, small={"instances": 2, "connections": 10, "seconds": 2})
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian package `wrk`)")
    work = Path(tempfile.mkdtemp(prefix="dds-bench-api-"))
    svc = ServiceProcess(work)
    svc.env["DDS_SUPERVISE_INTERVAL"] = os.environ.get("BENCH_SUPERVISE", "2")
    svc.env["DDS_PORT_RANGE"] = "28000-28999"  # room for 100 instances
    svc.start()
    try:
        project = svc.project()
        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(lambda i: create(svc.url, project, i), range(args.instances)))
        listed = httpx.get(f"{svc.url}/v3/{project}/instances", headers=HEADERS).json()["total_count"]
        assert listed == len(ids) == args.instances
        job = httpx.get(f"{svc.url}/v3.1/{project}/jobs", headers=HEADERS).json()["jobs"][0]["id"]
        rows = [("", "req/s", "p50 ms", "p99 ms", "ratio req/s")]
        base = wrk(f"{svc.url}/", args.connections, args.seconds, token=False)
        for name, path, token in (
            ("GET / (baseline)", "/", False),
            (f"GET /instances ({args.instances} listed)", f"/v3/{project}/instances", True),
            ("GET /jobs?id= (one job)", f"/v3/{project}/jobs?id={job}", True),
        ):
            r = base if path == "/" else wrk(f"{svc.url}{path}", args.connections, args.seconds, token)
            rows.append(
                (name, f"{r['rps']:.0f}", f"{r['p50']:.1f}", f"{r['p99']:.1f}", f"{r['rps'] / base['rps']:.2f}")
            )
        print(f"\nwrk -t2 -c{args.connections} -d{args.seconds}s, same server, same run")
        print(table(rows))
    finally:
        svc.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
