"""Replica sets on PostgreSQL storage: failover, replication lag, write throughput, memory.

A service as the README configures it with `DDS_REPLICA_SET_STORAGE=postgresql`, one 3-member
ReplicaSet instance and, side by side as the baseline, one Single instance (SQLite).

1. Failover, `--trials` times: a `w: "majority"` writer through the replica-set URI; every process
   of the primary member killed (kill -9 of each process group); the longest gap between two
   acknowledged writes (p50, p99 over the trials), acknowledged writes lost (must be 0), and the
   time until the killed member is a Secondary again.
2. Replication lag at a paced rate (`--rate` writes/s): primary commit -> visible on a secondary.
3. Switchover (`--trials` times) and a rolling restart through the API under the writer: the
   longest write gap of each (target <= 3 s).
4. Insert throughput for `--seconds`: `w: 1` and `w: "majority"` on the replica set against the
   Single instance (ratios).
5. RSS per member (server, keeper, engine, gateway) and of the Single instance's node.

Usage: python -m bench.bench_failover [--trials 5] [--rate 500] [--seconds 5] [--small]
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import httpx
from pymongo import MongoClient, WriteConcern
from pymongo.errors import PyMongoError
from tests.helpers import instance_body, member_logs, wait_for, wait_job

from bench.common import ServiceProcess, arguments, pct, table

PASSWORD = "Bench#Pass_01"
HEADERS = {"X-Auth-Token": "dds-dev-token"}


def create(api: httpx.Client, project: str, name: str, mode: str) -> dict[str, Any]:
    r = api.post("/instances", json=instance_body(name, PASSWORD, mode=mode))
    assert r.status_code == 202, r.text
    assert wait_job(api, r.json()["job_id"], timeout=300)["status"] == "Completed"
    return instance(api, project, r.json()["id"])


def instance(api: httpx.Client, project: str, instance_id: str) -> dict[str, Any]:
    found: dict[str, Any] = api.get("/instances", params={"id": instance_id}).json()["instances"][0]
    return found


def nodes(inst: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for g in inst["groups"] for n in g["nodes"]]


def uri(inst: dict[str, Any], **options: str) -> str:
    hosts = ",".join(f"{n['private_ip']}:{inst['port']}" for n in nodes(inst))
    extra = "".join(f"&{k}={v}" for k, v in options.items())
    replica = "&replicaSet=replica" if inst["mode"] == "ReplicaSet" else "&directConnection=true"
    return f"mongodb://rwuser:{quote_plus(PASSWORD)}@{hosts}/?authSource=admin{replica}{extra}"


class Writer(threading.Thread):
    """Inserts with `w: "majority"` as fast as it can; keeps (id, acknowledged at)."""

    def __init__(self, inst: dict[str, Any], collection: str) -> None:
        super().__init__(daemon=True)
        self.client: MongoClient[dict[str, Any]] = MongoClient(uri(inst), serverSelectionTimeoutMS=30000)
        self.coll = self.client.bench.get_collection(collection, write_concern=WriteConcern(w="majority"))
        self.acked: list[tuple[int, float]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.halt.is_set():
            try:
                self.coll.insert_one({"_id": i})
                self.acked.append((i, time.monotonic()))
            except PyMongoError:
                time.sleep(0.02)
            i += 1


def node_dir_of(data_dir: Path, inst: dict[str, Any], address: str) -> Path:
    by_host = {f"{n['private_ip']}:{inst['port']}": n["id"] for n in nodes(inst)}
    return data_dir / "instances" / inst["id"] / by_host[address]


def failover_trial(
    api: httpx.Client, project: str, data_dir: Path, inst: dict[str, Any], k: int
) -> tuple[float, int, float]:
    """(longest write gap s, acknowledged writes lost, s until the killed member is Secondary)."""
    writer = Writer(inst, f"trial{k}")
    writer.start()
    wait_for(lambda: len(writer.acked) > 50, what="the writer", timeout=60)
    primary = writer.client.admin.command("hello")["primary"]
    node_dir = node_dir_of(data_dir, inst, primary)
    t0 = time.monotonic()
    for role in ("storage", "engine", "gateway"):
        try:
            os.killpg(int((node_dir / f"{role}.pid").read_text()), signal.SIGKILL)
        except (ProcessLookupError, FileNotFoundError):
            pass
    wait_for(lambda: writer.acked[-1][1] > t0 + 1, what="writes after the failover", timeout=60)
    time.sleep(1)
    writer.halt.set()
    writer.join(30)
    times = [t0] + [t for _, t in writer.acked if t >= t0]
    gap = max(b - a for a, b in zip(times, times[1:], strict=False))
    with MongoClient(uri(inst), serverSelectionTimeoutMS=30000) as client:
        have = {d["_id"] for d in client.bench[f"trial{k}"].find({}, {"_id": 1})}
    lost = len({i for i, _ in writer.acked} - have)
    writer.client.close()

    def rejoined() -> bool:
        found = {n["id"]: n for n in nodes(instance(api, project, inst["id"]))}
        return found[node_dir.name]["role"] == "Secondary" and all(n["status"] == "normal" for n in found.values())

    try:
        wait_for(rejoined, what="the killed member back as a Secondary", timeout=300, every=0.5)
    except AssertionError as exc:
        steps = [
            line
            for line in (node_dir / "storage.log").read_text(errors="replace").splitlines()
            if any(word in line for word in ("ERROR", "FATAL", "rewind", "basebackup", "checkpoint", "Transition"))
        ]
        raise AssertionError(f"{exc}\n{chr(10).join(steps[-40:])}\n{member_logs(node_dir.parent)}") from None
    return gap, lost, time.monotonic() - t0


def gap_over_job(api: httpx.Client, inst: dict[str, Any], collection: str, method: str, path: str) -> float:
    """The longest gap between acknowledged `w: "majority"` writes over an API job (a switchover,
    a rolling restart), from the request to the job's end."""
    writer = Writer(inst, collection)
    writer.start()
    wait_for(lambda: len(writer.acked) > 50, what="the writer", timeout=60)
    t0 = time.monotonic()
    r = api.request(method, f"/instances/{inst['id']}/{path}", json={})
    assert r.status_code in (200, 202), r.text
    assert wait_job(api, r.json()["job_id"], timeout=300)["status"] == "Completed"
    time.sleep(1)
    writer.halt.set()
    writer.join(30)
    writer.client.close()
    times = [t0] + [t for _, t in writer.acked if t >= t0]
    return max(b - a for a, b in zip(times, times[1:], strict=False))


def replication_lag(inst: dict[str, Any], rate: int, seconds: float) -> list[float]:
    """Commit on the primary (w: 1) -> the document readable on a secondary, at `rate` writes/s."""
    with MongoClient(uri(inst), serverSelectionTimeoutMS=30000) as client:
        hello = client.admin.command("hello")
        secondary = next(h for h in hello["hosts"] if h != hello["primary"])
        coll = client.bench.lag
        coll.drop()
        direct = f"mongodb://rwuser:{quote_plus(PASSWORD)}@{secondary}/?authSource=admin&directConnection=true"
        with MongoClient(direct) as other:
            mirror = other.bench.lag
            seen: dict[int, float] = {}
            sent: dict[int, float] = {}
            until = [float("inf")]

            def watch() -> None:
                low = 0
                while time.monotonic() < until[0] and (low < len(sent) or until[0] == float("inf")):
                    for d in mirror.find({"_id": {"$gte": low}}, {"_id": 1}):
                        seen.setdefault(d["_id"], time.monotonic())
                    while low in seen:
                        low += 1
                    time.sleep(0.002)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            start = time.monotonic()
            for i in range(int(rate * seconds)):
                pause = start + i / rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                coll.insert_one({"_id": i})
                sent[i] = time.monotonic()
            until[0] = time.monotonic() + 10
            watcher.join(15)
    return [seen[i] - sent[i] for i in sent if i in seen]


def throughput(inst: dict[str, Any], w: Any, seconds: float) -> float:
    with MongoClient(uri(inst), serverSelectionTimeoutMS=30000) as client:
        coll = client.bench.get_collection(f"tp_{w}", write_concern=WriteConcern(w=w))
        coll.drop()
        i, end = 0, time.monotonic() + seconds
        while time.monotonic() < end:
            coll.insert_one({"_id": i, "v": "x" * 64})
            i += 1
    return i / seconds


def rss_mib(root: Path) -> float:
    """RSS of every process whose command line or working directory is under `root`."""
    total, marker = 0, str(root.resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
            if marker in cmd or cwd.startswith(marker):
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = arguments(parser, {"trials": 1, "rate": 200, "seconds": 1.0})
    with tempfile.TemporaryDirectory(prefix="dds-bench-failover-") as tmp:
        svc = ServiceProcess(Path(tmp))
        svc.env["DDS_REPLICA_SET_STORAGE"] = "postgresql"
        svc.start()
        try:
            project = svc.project_id()
            with httpx.Client(base_url=f"{svc.url}/v3/{project}", headers=HEADERS, timeout=120) as api:
                rs = create(api, project, "bench-rs", "ReplicaSet")
                single = create(api, project, "bench-single", "Single")
                trials = [failover_trial(api, project, svc.data_dir, rs, k) for k in range(args.trials)]
                gaps = [t[0] for t in trials]
                print(f"failover ({args.trials} trials, kill -9 of every process of the primary member)")
                print(f"  writes resumed after: p50 {pct(gaps, 50):.2f} s, p99 {pct(gaps, 99):.2f} s (target <= 10 s)")
                print(f"  acknowledged majority writes lost: {sum(t[1] for t in trials)}")
                rejoin = [t[2] for t in trials]
                print(f"  killed member a Secondary again after: p50 {pct(rejoin, 50):.1f} s")
                switches = [gap_over_job(api, rs, f"switch{k}", "POST", "switchover") for k in range(args.trials)]
                print(
                    f"switchover ({args.trials} trials, API job under the writer): write gap "
                    f"p50 {pct(switches, 50):.2f} s, p99 {pct(switches, 99):.2f} s (target <= 3 s)"
                )
                rolled = gap_over_job(api, rs, "rolled", "POST", "restart")
                print(f"rolling restart (every member, then a switchover): longest write gap {rolled:.2f} s")
                lags = replication_lag(rs, args.rate, args.seconds)
                print(
                    f"replication lag at {args.rate} writes/s: p50 {pct(lags, 50) * 1000:.1f} ms, "
                    f"p99 {pct(lags, 99) * 1000:.1f} ms ({len(lags)} writes)"
                )
                one = throughput(rs, 1, args.seconds)
                majority = throughput(rs, "majority", args.seconds)
                sqlite = throughput(single, 1, args.seconds)
                print(
                    table(
                        [
                            ("inserts/s", "replica set w:1", "replica set w:majority", "Single (SQLite)", "ratio"),
                            ("", f"{one:,.0f}", f"{majority:,.0f}", f"{sqlite:,.0f}", f"{majority / sqlite:.2f}"),
                        ]
                    )
                )
                members = [rss_mib(svc.data_dir / "instances" / rs["id"] / n["id"]) for n in nodes(rs)]
                monitor = rss_mib(svc.data_dir / "instances" / rs["id"] / "monitor")
                base = rss_mib(svc.data_dir / "instances" / single["id"])
                print(
                    f"RSS per member: {', '.join(f'{m:.0f}' for m in members)} MiB; monitor {monitor:.0f} MiB; "
                    f"Single instance node {base:.0f} MiB"
                )
        finally:
            svc.stop()


if __name__ == "__main__":
    main()
