"""Every benchmark in `bench/` runs to the end in its small-size mode (`--small`) and prints its
figures, so none can rot between `make bench` runs. Nothing about speed is asserted: the figures
of a small run on a shared machine mean little, only that they are computed and printed."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.helpers import ROOT

TIMEOUT = 600  # seconds; a small run takes well under a minute on 2 busy cores (bench_failover: a few)

# Each bench as `make bench` starts it, and lines of its printed figures (regular expressions).
BENCHES: dict[str, tuple[list[str], list[str]]] = {
    "bench_instances": (
        ["-m", "bench.bench_instances"],
        [r"DDS create -> ping .*\d+ ms .*\d\.\d\d", r"GET /instances .*\d+ ms .*\d\.\d\d", r"ratio req/s"],
    ),
    "bench_auth": (
        ["-m", "bench.bench_auth"],
        [r"ak/sk +[\d,]+ ", r"throughput ratio ak/sk : token = \d+\.\d\d"],
    ),
    "bench_backup": (
        ["bench/bench_backup.py"],
        [
            r"ratio",
            r"backup \(physical: zstd\+store\) MB/s +\d+\.\d +pymongo full scan MB/s +\d+\.\d +\d+\.\d\d",
            r"restore docs/s +\d+\.\d +insert_many docs/s +\d+\.\d +\d+\.\d\d",
            r"download link MB/s +\d+\.\d +read file from disk MB/s +\d+\.\d +\d+\.\d\d",
        ],
    ),
    "bench_physical": (
        ["bench/bench_physical.py"],
        [
            r"engine files: \d+ MB \([1-9]\d* MB copied by the baseline\)",
            r"physical backup MB/s +\d+\.\d +SQLite backup API copy MB/s +\d+\.\d +\d+\.\d\d",
            r"restore to new instance MB/s +\d+\.\d +SQLite backup API copy MB/s +\d+\.\d +\d+\.\d\d",
        ],
    ),
    "bench_backup_postgresql": (
        ["bench/bench_backup_postgresql.py"],
        [
            r"server directory: \d+ MB in the base backup \([1-9]\d* MB copied by the baseline\)",
            r"base backup MB/s +\d+\.\d +plain file copy MB/s +\d+\.\d +\d+\.\d\d",
            r"restore to new instance MB/s +\d+\.\d +plain file copy MB/s +\d+\.\d +\d+\.\d\d",
        ],
    ),
    "bench_pitr_postgresql": (
        ["bench/bench_pitr_postgresql.py"],
        [
            r"commit -> restorable at \d+ writes/s .*p50 \d+\.\d\d s +p99 \d+\.\d\d s",
            r"base backup alone \(baseline\) +0\.0 +\d+\.\d +1\.00",
            r"as of mark 3/3 +\d+\.\d +\d+\.\d +\d+\.\d\d",
        ],
    ),
    "bench_api": (
        ["-m", "bench.bench_api"],
        [
            r"ratio req/s",
            r"GET /instances \(\d+ listed\) +\d+ .*\d+\.\d\d",
            r"GET /jobs\?id= \(one job\) +\d+ .*\d+\.\d\d",
        ],
    ),
    "bench_gateway": (
        ["-m", "bench.bench_gateway"],
        [r"ping +\d+ +gateway .*\d+\.\d\dx", r"find_one +\d+ +gateway .*\d+\.\d\dx", r"gateway RSS: [\d.]+ MiB idle"],
    ),
    "bench_authz": (
        ["-m", "bench.bench_authz"],
        [r"ping +\d+ +on .*\d+\.\d\dx", r"find_one +\d+ +on .*\d+\.\d\dx", r"target \(on >= [\d.]+x off\): "],
    ),
    "bench_archiver": (
        ["bench/bench_archiver.py"],
        [
            r"capture lag \(commit -> LTX in replica\) +\d+ +[\d.]+ s",
            r"coverage lag \(commit -> restorable\) +\d+ +[\d.]+ s",
            r"\d+ s into the load +[\d.]+ +[\d.]+",
            r"litestream +[\d.]+ +[\d.]+ +[\d.]+ MiB",
        ],
    ),
    "bench_engine": (
        ["-m", "bench.bench_engine"],
        [
            r"find_one by _id +[\d,]+ +[\d,]+ +[\d,.]+ +[\d.]+x",
            r"ping \(floor\) +[\d,]+ +[\d,]+ +[\d,]+",
            r"engine RSS at [\d,]+ documents: ours \d+ MiB, unpatched \d+ MiB",
        ],
    ),
    "bench_failover": (
        ["-m", "bench.bench_failover"],
        [
            r"writes resumed after: p50 [\d.]+ s, p99 [\d.]+ s",
            r"acknowledged majority writes lost: 0",
            r"switchover \(1 trials, API job under the writer\): write gap p50 [\d.]+ s",
            r"rolling restart \(every member, then a switchover\): longest write gap [\d.]+ s",
            r"replication lag at \d+ writes/s: p50 [\d.]+ ms, p99 [\d.]+ ms",
            r"(?m)^ +[\d,]+ +[\d,]+ +[\d,]+ +\d+\.\d\d",
            r"RSS per member: ",
        ],
    ),
    "bench_load": (
        ["-m", "bench.bench_load"],
        [
            r"create instance +\d+ +\d+",
            r"backup one instance +\d+ +\d+",
            r"GET /instances under that load .*: \d+ req/s",
            r"after deleting everything: \d+ processes",
        ],
    ),
}


def test_every_bench_is_covered() -> None:
    scripts = {p.stem for p in (ROOT / "bench").glob("bench_*.py")}
    assert scripts == set(BENCHES)


@pytest.mark.parametrize("name", sorted(BENCHES))
def test_bench_small_runs_to_the_end_and_prints_its_figures(name: str) -> None:
    argv, figures = BENCHES[name]
    try:
        done = subprocess.run(
            [sys.executable, *argv, "--small"], cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{name} --small still running after {TIMEOUT}s; output so far:\n{exc.stdout!r}\n{exc.stderr!r}")
    output = f"--- stdout\n{done.stdout}\n--- stderr (last 3000 characters)\n{done.stderr[-3000:]}"
    assert done.returncode == 0, f"{name} --small exited {done.returncode}\n{output}"
    missing = [figure for figure in figures if not re.search(figure, done.stdout)]
    assert not missing, f"{name} --small did not print {missing}\n{output}"
