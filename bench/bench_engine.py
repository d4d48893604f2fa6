"""Queries that use indexes: our engine (FerretDB v1.24.2 with engine/patches) beside the same
FerretDB as released (`scripts/build-engine.sh --unpatched`), each behind an instance gateway,
as collections grow.

At each size (default 1k, 100k, 1M documents `{_id, g, v}`, an index on `g`): `find_one` by `_id`,
`find_one` by the indexed `g`, a range on `g` with a sort and `limit(10)`, `update_one` by `_id`,
one pymongo client; `insert_many` rate while the collection grows; ping through the same gateway
(the round-trip floor). Each workload runs in `--rounds` rounds of `--seconds` (at least one
operation), each right after a ping measurement of the same length, and the medians are printed
(this machine's speed drifts by a third within a minute, so a ratio to a floor measured once
says little). The unpatched engine runs one round (its figures are orders of magnitude apart).
Printed: rates, ratio to the unpatched engine and to ping, and each engine's RSS at the largest
size.

Usage: python -m bench.bench_engine [--sizes 1000,100000,1000000] [--seconds 1] [--rounds 5] [--small]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from pymongo import ASCENDING, MongoClient

from bench.bench_gateway import PASSWORD, SERVICE_PASSWORD, SERVICE_USER, USER, rss_kib, start_engine, start_gateway
from bench.bench_gateway import client as gateway_client
from bench.common import ROOT, arguments, stop, table

BATCH = 10_000


def rate(op: Callable[[int], Any], seconds: float) -> float:
    """Operations per second over `seconds` (at least one operation, however long it takes)."""
    done, started = 0, time.perf_counter()
    while True:
        op(done)
        done += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return done / elapsed


def rounds_of(
    op: Callable[[int], Any], ping: Callable[[int], Any], seconds: float, rounds: int
) -> tuple[float, float, float]:
    """Median rate of op, median rate of ping and median ratio, over rounds of ping then op."""
    pairs = [(rate(ping, seconds), rate(op, seconds)) for _ in range(rounds)]
    return (
        statistics.median(o for _, o in pairs),
        statistics.median(p for p, _ in pairs),
        statistics.median(o / p for p, o in pairs),
    )


def measure(binary: Path, sizes: list[int], seconds: float, rounds: int) -> tuple[dict[tuple[str, int], float], float]:
    """Every workload at every size on one engine behind a gateway (with "<workload> vs ping"
    ratios and "ping" rates beside them); and its RSS at the end."""
    results: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        base = Path(tmp)
        (base / "engine").mkdir()
        engine, engine_port = start_engine(base / "engine", binary=binary)
        service_uri = f"mongodb://{SERVICE_USER}:{quote_plus(SERVICE_PASSWORD)}@127.0.0.1:{engine_port}/admin"
        with MongoClient[dict[str, Any]](service_uri, directConnection=True) as svc:
            svc.admin.command("createUser", USER, pwd=PASSWORD, roles=[])
        gateway, port = start_gateway(base / "gateway", engine_port, "auto")
        try:
            with gateway_client(port, 1) as client:
                coll = client.bench.docs
                coll.create_index([("g", ASCENDING)])
                have = 0
                for size in sizes:
                    started = time.perf_counter()
                    while have < size:
                        n = min(BATCH, size - have)
                        coll.insert_many([{"_id": i, "g": i * 7, "v": "x" * 40} for i in range(have, have + n)])
                        have += n
                    grown = size - (sizes[sizes.index(size) - 1] if sizes.index(size) else 0)
                    results[("insert_many (docs/s)", size)] = grown / (time.perf_counter() - started)
                    rng = random.Random(size)
                    keys = [rng.randrange(size) for _ in range(100_000)]
                    workloads: dict[str, Callable[[int], Any]] = {
                        "find_one by _id": lambda i, keys=keys: coll.find_one({"_id": keys[i % len(keys)]}),
                        "find_one by indexed g": lambda i, keys=keys: coll.find_one({"g": keys[i % len(keys)] * 7}),
                        "g range + sort + limit(10)": lambda i, keys=keys: list(
                            coll.find({"g": {"$gt": keys[i % len(keys)] * 7}}).sort("g", 1).limit(10)
                        ),
                        "update_one by _id": lambda i, keys=keys: coll.update_one(
                            {"_id": keys[i % len(keys)]}, {"$set": {"u": i}}
                        ),
                    }
                    pings = []
                    for what, op in workloads.items():
                        value, floor, ratio = rounds_of(op, lambda i: client.admin.command("ping"), seconds, rounds)
                        results[(what, size)] = value
                        results[(f"{what} vs ping", size)] = ratio
                        pings.append(floor)
                    results[("ping", size)] = statistics.median(pings)
            memory = rss_kib(engine.pid) / 1024
        finally:
            stop(gateway)
            stop(engine)
    return results, memory


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,100000,1000000", help="collection sizes, comma-separated")
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds per round of a workload (and of ping)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per workload and size on our engine")
    args = arguments(parser, {"sizes": "1000,20000", "seconds": 0.3, "rounds": 3}, argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    subprocess.run([str(ROOT / "scripts" / "build-engine.sh"), "--unpatched"], check=True, capture_output=True)
    ours, ours_rss = measure(ROOT / "bin" / "ferretdb", sizes, args.seconds, args.rounds)
    theirs, theirs_rss = measure(ROOT / "bin" / "ferretdb-unpatched", sizes, args.seconds, 1)
    rows = [("workload", "documents", "ours/s", "unpatched/s", "ratio", "ours vs ping", "vs ours at first size")]
    for (what, size), value in ours.items():
        if what == "ping" or what.endswith(" vs ping"):
            continue
        rows.append(
            (
                what,
                f"{size:,}",
                f"{value:,.0f}",
                f"{theirs[(what, size)]:,.1f}",
                f"{value / theirs[(what, size)]:.1f}x",
                f"{ours[(f'{what} vs ping', size)]:.2f}" if "docs/s" not in what else "-",
                f"{value / ours[(what, sizes[0])]:.2f}",
            )
        )
    for size in sizes:
        rows.append(
            (
                "ping (floor)",
                f"{size:,}",
                f"{ours[('ping', size)]:,.0f}",
                f"{theirs[('ping', size)]:,.0f}",
                "-",
                "1.00",
                "-",
            )
        )
    print(
        f"one pymongo client through an instance gateway; medians of {args.rounds} rounds of {args.seconds} s,"
        " each after a ping round (ratios per round)"
    )
    print(table(rows))
    print(f"engine RSS at {sizes[-1]:,} documents: ours {ours_rss:.0f} MiB, unpatched {theirs_rss:.0f} MiB")


if __name__ == "__main__":
    main()
