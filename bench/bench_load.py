"""Load: 20 concurrent creates, 20 concurrent backups of one instance, and 50 API clients listing
while those jobs run; then everything is deleted and nothing may be left behind.

Reports completion, p50/p99 of each job from request to Completed, errors (5xx must be 0; DDS-style
refusals are counted apart), the list's throughput and latency under the job load (wrk, so the
client is not the bottleneck), the service's RSS before and after, and what deletion left: processes
under the data directory, listening ports of the range, files under `instances/`.

Needs `wrk` (Debian package; `make bench` installs it).
Usage: python -m bench.bench_load [--jobs 20] [--connections 50] [--seconds 20] [--small]
"""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from tests.helpers import instance_body, process_pids

from bench.common import ServiceProcess, arguments, pct, table

PASSWORD = "Bench#Pass_01"
HEADERS = {"X-Auth-Token": "dds-dev-token"}


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_job(c: httpx.Client, method: str, path: str, body: dict[str, Any] | None) -> tuple[str, float, int]:
    """(outcome, seconds to the job's end, HTTP status of the request)."""
    t0 = time.perf_counter()
    r = c.request(method, path, json=body)
    if r.status_code >= 500:
        return "5xx", 0.0, r.status_code
    if r.status_code >= 400:
        return "refused", 0.0, r.status_code
    job = r.json()["job_id"]
    while True:
        status = c.get("/jobs", params={"id": job}).json()["job"]["status"]
        if status != "Running":
            return status, time.perf_counter() - t0, r.status_code
        time.sleep(0.1)


def wrk_during(url: str, connections: int, seconds: int, out: dict[str, Any]) -> None:
    token = f"X-Auth-Token: {HEADERS['X-Auth-Token']}"
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", token, url]
    text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    unit = {"us": 1e-3, "ms": 1.0, "s": 1000.0}
    for p in ("50", "99"):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)$", text, re.M)
        out[f"p{p}"] = float(m.group(1)) * unit[m.group(2)] if m else float("nan")
    out["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non2xx"] = int(bad.group(1)) if bad else 0


def summarize(name: str, results: list[tuple[str, float, int]]) -> tuple[str, ...]:
    done = [t for s, t, _ in results if s == "Completed"]
    count = {k: sum(1 for s, _, _ in results if s == k) for k in ("Completed", "Failed", "refused", "5xx")}
    p50 = f"{pct(done, 50):.2f} s" if done else "-"
    p99 = f"{pct(done, 99):.2f} s" if done else "-"
    return (name, str(count["Completed"]), str(count["Failed"]), str(count["refused"]), str(count["5xx"]), p50, p99)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=20, help="concurrent creates, then concurrent backups")
    ap.add_argument("--connections", type=int, default=50, help="wrk connections listing meanwhile")
    ap.add_argument("--seconds", type=int, default=20, help="how long wrk lists")
    args = arguments(ap, small={"jobs": 3, "connections": 10, "seconds": 5})
    n = args.jobs
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    svc = ServiceProcess(work)
    svc.start()
    assert svc.proc is not None
    prefix = f"/v3/{svc.project()}"
    rss_before = rss_mib(svc.proc.pid)
    listing: dict[str, Any] = {}
    with httpx.Client(base_url=svc.url + prefix, headers=HEADERS, timeout=300) as c:
        url = f"{svc.url}{prefix}/instances"
        reader = threading.Thread(target=wrk_during, args=(url, args.connections, args.seconds, listing))
        reader.start()
        with ThreadPoolExecutor(n) as pool:
            bodies = [instance_body(f"load-{i:02d}", PASSWORD) for i in range(n)]
            creates = list(pool.map(lambda b: run_job(c, "POST", "/instances", b), bodies))
        ids = [i["id"] for i in c.get("/instances").json()["instances"]]
        target = ids[0]
        with ThreadPoolExecutor(n) as pool:
            backups = list(
                pool.map(
                    lambda i: run_job(
                        c, "POST", "/backups", {"backup": {"instance_id": target, "name": f"load-b{i:02d}"}}
                    ),
                    range(n),
                )
            )
        reader.join()
        rss_after = rss_mib(svc.proc.pid)
        with ThreadPoolExecutor(n) as pool:
            deletes = list(pool.map(lambda i: run_job(c, "DELETE", f"/instances/{i}", None), ids))
    left_procs = process_pids(work, "ferretdb") | process_pids(work, "dds.gateway") | process_pids(work, "dds.archiver")
    low, high = (int(x) for x in svc.env["DDS_PORT_RANGE"].split("-"))
    listening = [p for p in range(low, high + 1) if _listening(p) and _ours(p, work)]
    left_files = list((work / "instances").iterdir()) if (work / "instances").exists() else []
    svc.stop()

    print(
        f"\nLoad: {n} concurrent creates, then {n} concurrent backups of one instance, "
        f"{args.connections} clients listing meanwhile"
    )
    head = ("jobs", "completed", "failed", "refused (DDS error)", "5xx", "p50", "p99")
    print(
        table(
            [
                head,
                summarize("create instance", creates),
                summarize("backup one instance", backups),
                summarize("delete instance", deletes),
            ]
        )
    )
    print(
        f"\nGET /instances under that load (wrk, {args.connections} connections, {args.seconds} s): "
        f"{listing['rps']:.0f} req/s, "
        f"p50 {listing['p50']:.1f} ms, p99 {listing['p99']:.1f} ms, non-2xx {listing['non2xx']}"
    )
    print(f"service RSS: {rss_before:.1f} MiB before, {rss_after:.1f} MiB after the jobs")
    print(
        f"after deleting everything: {len(left_procs)} processes, {len(listening)} listening ports, "
        f"{len(left_files)} instance dirs"
    )


def _ours(port: int, work: Path) -> bool:
    """A listener in the range counts only if a process of this run holds it (the range is shared
    with whatever else runs on the host)."""
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True).stdout
    pids = {int(m) for m in re.findall(r"pid=(\d+)", out)}
    return any(
        str(work) in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        for pid in pids
        if Path(f"/proc/{pid}").exists()
    )


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.05)
        return s.connect_ex(("127.0.0.1", port)) == 0


if __name__ == "__main__":
    main()
