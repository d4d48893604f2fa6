"""Continuous archiving end to end: real FerretDB, real litestream sidecar, real restores.

A writer changes an instance in phases and takes a wall-clock mark after each; every
mark is then restored into a fresh directory, a FerretDB is started on it, and it must
hold exactly the writes made before the mark. The sidecar is stopped for a few seconds
(a gap: restoring inside it is refused) and killed with SIGKILL (its supervisor brings
it back and coverage continues). One variant archives to a local directory, the other
to S3 (moto's server).
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from pymongo import MongoClient

from dds.archiver import (
    ArchiveConfig,
    DirReplica,
    OutsideRestoreRanges,
    S3Replica,
    Sidecar,
    SidecarPlan,
    read_coverage,
    restore,
    write_config,
)
from dds.archiver.catalog import Incarnation
from dds.archiver.store import LtxLister, open_store
from tests.helpers import free_port, free_ports, wait_for

ROOT = Path(__file__).resolve().parents[2]
FERRETDB = ROOT / "bin" / "ferretdb"
PASSWORD = "Pitr#Pass_01"
SYSTEM_DBS = {"admin", "config", "local"}

Model = dict[str, dict[str, dict[Any, dict[str, Any]]]]

pytestmark = pytest.mark.skipif(not FERRETDB.exists(), reason="engine binary missing; run `make setup`")


def now_ms() -> int:
    return int(time.time() * 1000)


class Processes:
    """Every process a test starts, each in its own group, killed by id at teardown."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                argv, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def kill_all(self) -> None:
        for proc in self.procs:
            self.kill(proc)


@pytest.fixture
def procs() -> Iterator[Processes]:
    p = Processes()
    yield p
    p.kill_all()


# Engines are started from several threads at once: a port picked (and released) by one thread
# could be picked again by another before the first engine binds it; one start at a time.
_STARTING = threading.Lock()


def start_ferretdb(procs: Processes, node: Path) -> tuple[subprocess.Popen[bytes], int]:
    with _STARTING:
        return _start_ferretdb(procs, node)


def _start_ferretdb(procs: Processes, node: Path) -> tuple[subprocess.Popen[bytes], int]:
    (node / "data").mkdir(parents=True, exist_ok=True)
    port, debug = free_ports(2)
    argv = [
        str(FERRETDB),
        "--handler=sqlite",
        f"--sqlite-url=file:{(node / 'data').resolve()}/",
        f"--state-dir={(node / 'state').resolve()}",
        f"--listen-addr=127.0.0.1:{port}",
        f"--debug-addr=127.0.0.1:{debug}",
        "--telemetry=disable",
        "--test-enable-new-auth",
        "--log-level=INFO",
        "--setup-database=admin",
        "--setup-username=svc",
    ]
    proc = procs.start(argv, node / "ferretdb.log", {"FERRETDB_SETUP_PASSWORD": PASSWORD})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, (node / "ferretdb.log").read_text()[-2000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{debug}/debug/readyz", timeout=1) as resp:
                if resp.status == 200:
                    return proc, port
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"FerretDB on {node} not ready")


def mongo(port: int) -> MongoClient[dict[str, Any]]:
    return MongoClient(
        f"mongodb://svc:{PASSWORD.replace('#', '%23')}@127.0.0.1:{port}/?authSource=admin&directConnection=true",
        serverSelectionTimeoutMS=10_000,
    )


def contents(client: MongoClient[dict[str, Any]]) -> Model:
    out: Model = {}
    for db in sorted(set(client.list_database_names()) - SYSTEM_DBS):
        out[db] = {}
        for coll in client[db].list_collection_names():
            out[db][coll] = {d["_id"]: d for d in client[db][coll].find({})}
    return out


def start_moto(procs: Processes, tmp: Path) -> S3Replica:
    port = free_port()
    procs.start([str(ROOT / ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)], tmp / "moto.log")
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            s3.create_bucket(Bucket="pitr")
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    return S3Replica(
        bucket="pitr",
        prefix="instances/i-1/node-1",
        endpoint=f"http://127.0.0.1:{port}",
        access_key="testing",
        secret_key="testing",
    )


def archive_config(tmp: Path, replica: DirReplica | S3Replica) -> ArchiveConfig:
    """Faster cadences than production so the test stays short."""
    return ArchiveConfig(
        data_dir=tmp / "node/data",
        state_dir=tmp / "node/archiver",
        replica=replica,
        sync_interval=timedelta(milliseconds=250),
        monitor_interval=timedelta(milliseconds=250),
        heartbeat_interval=timedelta(milliseconds=500),
        gap_tolerance=timedelta(seconds=2),
    )


@pytest.mark.parametrize("target", ["dir", "s3"])
def test_restore_at_each_mark_gives_exactly_the_writes_before_it(target: str, tmp_path: Path, procs: Processes) -> None:
    replica = start_moto(procs, tmp_path) if target == "s3" else DirReplica(tmp_path / "replica")
    config = archive_config(tmp_path, replica)
    _, port = start_ferretdb(procs, tmp_path / "node")
    sidecar = Sidecar(config, poll_interval=0.2)
    lister = LtxLister(open_store(replica))  # caches LTX headers across polls

    def covered(t: int) -> bool:
        return read_coverage(lister.store, lister=lister).contains(t)

    try:
        marks, expected, gap_at, kill_info = _write_in_phases(mongo(port), sidecar, covered)
        cov = read_coverage(lister.store, lister=lister)
        live_after = contents(mongo(port))
    finally:
        sidecar.close()

    # Every mark is covered, the stop is a gap, and coverage reaches past the last mark.
    for name, t in marks.items():
        assert cov.contains(t), (name, t, cov.ranges)
    assert not cov.contains(gap_at), cov.ranges
    assert any(end < gap_at for _, end in cov.ranges) and any(start > gap_at for start, _ in cov.ranges)
    assert cov.covered_up_to is not None and cov.covered_up_to >= marks["m8_recreated"]
    with pytest.raises(OutsideRestoreRanges):
        restore(config, gap_at, tmp_path / "refused", coverage=cov)
    assert not (tmp_path / "refused").exists()
    with pytest.raises(OutsideRestoreRanges):
        restore(config, marks["m1_inserted"] - 60_000, tmp_path / "refused", coverage=cov)

    # The kill: the supervisor started a new litestream and recorded the pause, which is
    # shorter than the gap tolerance and so would pass unnoticed by heartbeats alone.
    old_pid, new_pid, killed_at = kill_info
    assert new_pid != old_pid and sidecar.restarts >= 5  # 2 creations, 1 drop, the stop, the kill
    assert not cov.contains(killed_at), cov.ranges

    # Which databases existed when, from the catalog in the replica.
    assert cov.databases_at(marks["m3_new_database"]) == {"admin", "app", "extra"}
    assert cov.databases_at(marks["m7_dropped"]) == {"admin", "app"}
    assert cov.databases_at(marks["m8_recreated"]) == {"admin", "app", "extra"}

    # Restore every mark, start a FerretDB on each restored directory, compare.
    def check(name: str) -> tuple[str, Model]:
        node = tmp_path / "restored" / name
        restored = restore(config, marks[name], node / "data", coverage=cov)
        assert sorted(p.name for p in (node / "data").iterdir()) == sorted(r.path.name for r in restored)
        proc, rport = start_ferretdb(procs, node)
        try:
            return name, contents(mongo(rport))
        finally:
            procs.kill(proc)

    with ThreadPoolExecutor(max_workers=4) as pool:
        got = dict(pool.map(check, marks))
    for name in marks:
        assert got[name] == expected[name], name

    # FerretDB itself was not harmed: its live data is the model's, litestream's tables stay hidden.
    assert live_after == expected["m8_recreated"]


def _write_in_phases(
    client: MongoClient[dict[str, Any]], sidecar: Sidecar, covered: Callable[[int], bool]
) -> tuple[dict[str, int], dict[str, Model], int, tuple[int, int, int]]:
    model: Model = {}
    marks: dict[str, int] = {}
    expected: dict[str, Model] = {}

    def mark(name: str, settle: float) -> None:
        # The writes are committed; litestream captures them within a monitor interval. A
        # time is covered once a heartbeat captured after it is in the replica: wait for
        # that before the next disruption (a stop, a kill), as an operator would.
        time.sleep(settle)
        marks[name] = now_ms()
        expected[name] = copy.deepcopy(model)
        # 60 s: once in a fresh CI run the first coverage after a new database (a Litestream
        # restart) took longer than 30 s on the loaded two cores; coverage itself is checked below.
        wait_for(lambda: covered(marks[name]), 60, f"{name} to be covered", every=0.05)

    def put(db: str, coll: str, doc: dict[str, Any]) -> None:
        client[db][coll].replace_one({"_id": doc["_id"]}, doc, upsert=True)
        model.setdefault(db, {}).setdefault(coll, {})[doc["_id"]] = doc

    sidecar.start()
    time.sleep(1.5)

    for i in (1, 2, 3):
        put("app", "items", {"_id": i, "v": i})
    put("app", "tmp", {"_id": "t", "note": "dropped later"})
    mark("m1_inserted", 2.5)  # app.sqlite is new: picked up after a restart

    put("app", "items", {"_id": 2, "v": 20})
    client.app.items.delete_one({"_id": 3})
    del model["app"]["items"][3]
    put("app", "items", {"_id": 4, "v": 4})
    mark("m2_updated", 1.0)

    put("extra", "things", {"_id": 1, "gen": 1})
    mark("m3_new_database", 2.5)

    client.app.drop_collection("tmp")
    del model["app"]["tmp"]
    put("app", "items", {"_id": 1, "v": 100})
    mark("m4_collection_dropped", 1.0)

    sidecar.stop()
    time.sleep(1.0)
    put("app", "items", {"_id": 5, "v": 5})  # written while nothing archives
    time.sleep(1.0)
    gap_at = now_ms()
    time.sleep(1.5)
    sidecar.start()
    mark("m5_after_stop", 2.5)

    old_pid = sidecar.pid
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    killed_at = now_ms()
    put("app", "items", {"_id": 6, "v": 6})
    wait_for(lambda: sidecar.pid not in (None, old_pid), 10, "the supervisor to restart litestream", every=0.05)
    new_pid = sidecar.pid
    assert new_pid is not None
    mark("m6_after_kill", 2.5)

    client.drop_database("extra")
    del model["extra"]
    mark("m7_dropped", 2.5)

    put("extra", "things", {"_id": 2, "gen": 2})
    mark("m8_recreated", 2.5)
    return marks, expected, gap_at, (old_pid, new_pid, killed_at)


def test_litestream_accepts_the_rendered_config(tmp_path: Path) -> None:
    config = archive_config(tmp_path, DirReplica(tmp_path / "replica"))
    inc = Incarnation(name="app", id="0000000001000-a", created_ms=1000, ino=10)
    path = write_config(config, SidecarPlan(heartbeat_id="0000000000001-b", incarnations=(inc,)))
    out = subprocess.run(
        [str(config.binary), "databases", "-config", str(path), "-no-expand-env", "-json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(out.stdout) == [
        {"path": str(config.heartbeat_path.resolve()), "replica": "file"},
        {"path": str((tmp_path / "node/data/app.sqlite").resolve()), "replica": "file"},
    ]
