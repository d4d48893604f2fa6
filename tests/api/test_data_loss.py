"""A node whose data is gone or damaged is never served as a healthy, empty database.

Faults injected into a real node (its engine killed with SIGKILL first, as a lost disk would):
the node directory removed, the database file truncated, bytes flipped in its pages, the data
directory turned into a dangling link (a lost mount; the tests run as root, for whom permission
bits do not make a directory unreadable). For each: the API shows `abnormal` with `DATA_LOST`,
a driver is refused with the reason (never an empty database), and the service recovers the
instance from its newest backup, users included; with incremental backup on, from the
continuous archive up to its last restorable moment. Timings and the writes lost beyond that
moment are printed (`pytest -s`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo.errors import PyMongoError

from dds.db.backups import Backup
from tests.conftest import PASSWORD, Service
from tests.helpers import connect, engine_pids, logs_in, wait_for
from tests.pitr_support import POLICY, mark

DOCS = 1000


def node_dirs(svc: Service, inst: dict[str, Any]) -> tuple[Path, Path]:
    node = svc.parts.settings.instances_dir / inst["id"] / inst["groups"][0]["nodes"][0]["id"]
    return node, node / "data"


def kill_engine(node: Path) -> None:
    for pid in engine_pids(node):
        os.kill(pid, signal.SIGKILL)


def tenant_file(data: Path) -> Path:
    return data / "shop.sqlite"


def remove_directory(node: Path, data: Path) -> None:
    """At once, as a disk goes (a job may be writing into it): moved away, then removed."""
    kill_engine(node)
    gone = node.with_name(node.name + ".gone")
    node.rename(gone)
    shutil.rmtree(gone, ignore_errors=True)  # a process may still write into it; it is gone for the node


def truncate_file(node: Path, data: Path) -> None:
    kill_engine(node)
    path = tenant_file(data)
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)


def flip_bytes(node: Path, data: Path) -> None:
    """Every b-tree page of the tenant's database gets a byte of its page header flipped."""
    kill_engine(node)
    path = tenant_file(data)
    raw = bytearray(path.read_bytes())
    page = int.from_bytes(raw[16:18], "big")
    for start in range(page, len(raw), page):
        raw[start] ^= 0xFF
    path.write_bytes(bytes(raw))


def unreadable(node: Path, data: Path) -> None:
    """The data directory becomes a link to a mount that is gone (moved away at once first)."""
    kill_engine(node)
    gone = data.with_name("data.gone")
    data.rename(gone)
    data.symlink_to(node / "lost-mount" / "data")
    shutil.rmtree(gone, ignore_errors=True)  # a process may still write into it; it is gone for the node


FAULTS: dict[str, Callable[[Path, Path], None]] = {
    "directory-removed": remove_directory,
    "file-truncated": truncate_file,
    "bytes-flipped": flip_bytes,
    "data-unreadable": unreadable,
}


def _prepare(svc: Service, name: str) -> dict[str, Any]:
    """An instance holding DOCS documents and a reader user, with a completed backup of them."""
    created = svc.create_instance(name)
    assert svc.wait_job(created["job_id"])["status"] == "Completed"
    inst = svc.instance(created["id"])
    with connect(inst, PASSWORD) as client:
        client.shop.orders.insert_many([{"_id": i, "v": "x" * 40} for i in range(DOCS)])
        client.shop.command("createUser", "reader", pwd="Reader#Pass_01", roles=["read"])
    with svc.client() as c:
        r = c.post(svc.path("/backups"), json={"backup": {"instance_id": inst["id"], "name": f"{name}-b"}})
        assert r.status_code == 200, r.text
    assert svc.wait_job(r.json()["job_id"])["status"] == "Completed"
    return inst


def _refused(inst: dict[str, Any]) -> str:
    """What a driver gets from the node: never an answer from an empty engine."""
    try:
        with connect(inst, PASSWORD, timeout_ms=1500) as client:
            count = client.shop.orders.count_documents({})
    except PyMongoError as exc:
        return str(exc)
    raise AssertionError(f"the node served {count} documents instead of refusing")


def _recovered(svc: Service, inst: dict[str, Any], timeout: float = 120, job: bool = True) -> dict[str, Any]:
    """Normal again, and serving: after a recovery job that ended Completed (not merely a job that
    settled); `job=False`: or without one, when the fault never reached the data the node serves."""

    def done() -> dict[str, Any] | None:
        i = svc.instance(inst["id"])
        if i["status"] != "normal" or i["actions"]:
            return None
        if not job:
            with contextlib.suppress(PyMongoError), connect(i, PASSWORD, timeout_ms=1000) as client:
                client.admin.command("ping")
                return i
            return None
        with svc.client() as c:
            jobs = c.get(f"/v3.1/{svc.project_id}/jobs", params={"limit": 100}).json()["jobs"]
        ours = [j for j in jobs if j["instance_id"] == inst["id"] and j["name"] == "MongodbRecoverLostData"]
        return i if any(j["status"] == "Completed" for j in ours) else None

    return wait_for(done, timeout=timeout, what="recovered", every=0.2)  # type: ignore[no-any-return]


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_lost_node_is_refused_then_recovered_from_its_backup(make_service: Any, fault: str) -> None:
    svc: Service = make_service()
    inst = _prepare(svc, f"lost-{fault}")
    with connect(inst, PASSWORD) as client:
        client.shop.orders.insert_one({"_id": "after-backup"})  # not in any backup: lost, and said so
    node, data = node_dirs(svc, inst)

    started = time.monotonic()
    FAULTS[fault](node, data)
    seen = wait_for(
        lambda: (i := svc.instance(inst["id"]))["status"] == "abnormal" and "DATA_LOST" in i["actions"] and i,
        timeout=30,
        what="abnormal with DATA_LOST",
        every=0.05,
    )
    to_abnormal = time.monotonic() - started
    assert seen["groups"][0]["nodes"][0]["status"] == "abnormal"
    if seen["actions"] == ["DATA_LOST"]:  # before the recovery job claims it: clients are refused
        assert "missing or damaged" in _refused(inst) or "RESTORING" in svc.instance(inst["id"])["actions"]

    done = _recovered(svc, inst)
    to_recovered = time.monotonic() - started - to_abnormal
    with connect(done, PASSWORD) as client:
        kept = client.shop.orders.count_documents({})
        assert client.shop.orders.count_documents({"_id": {"$lt": DOCS}}) == DOCS
    assert logs_in(done, "reader", "Reader#Pass_01", auth_db="shop"), "the backup's users come back"
    with svc.client() as c:
        jobs = c.get(f"/v3.1/{svc.project_id}/jobs", params={"limit": 100}).json()["jobs"]
    recovery = [j for j in jobs if j["instance_id"] == inst["id"] and j["name"] == "MongodbRecoverLostData"]
    assert recovery and recovery[0]["status"] == "Completed", recovery
    assert [p.name for p in node.glob("data.damaged-*")] or fault == "directory-removed", "remains are kept"
    print(
        f"\n{fault}: fault -> abnormal {to_abnormal:.2f} s, abnormal -> recovered {to_recovered:.2f} s, "
        f"writes after the backup lost: {DOCS + 1 - kept}"
    )


def test_with_incremental_backup_every_write_up_to_the_last_restorable_moment_comes_back(make_service: Any) -> None:
    svc: Service = make_service()
    inst = _prepare(svc, "lost-archived")
    with svc.client() as c:
        policy = {**POLICY, "enable_incremental_backup": True}
        r = c.put(svc.path(f"/instances/{inst['id']}/backups/policy"), json={"backup_policy": policy})
        assert r.status_code == 200, r.text
        acknowledged: list[int] = []
        with connect(inst, PASSWORD) as client:
            for i in range(200):
                client.shop.later.insert_one({"_id": i})
                acknowledged.append(i)
            mark(c, svc.path(""), inst["id"])  # the archive has caught up with all of them
    node, data = node_dirs(svc, inst)
    started = time.monotonic()
    remove_directory(node, data)
    done = _recovered(svc, inst, timeout=180)
    with connect(done, PASSWORD) as client:
        back = {d["_id"] for d in client.shop.later.find()}
        assert client.shop.orders.count_documents({}) == DOCS
    lost = [i for i in acknowledged if i not in back]
    print(f"\narchive: fault -> recovered {time.monotonic() - started:.2f} s, acknowledged writes lost: {len(lost)}")
    assert not lost


def test_without_any_backup_the_node_stays_out_of_service(make_service: Any) -> None:
    """Nothing to recover from: the node is still never served empty, and the API says so."""
    svc: Service = make_service()
    created = svc.create_instance("lost-nothing")
    assert svc.wait_job(created["job_id"])["status"] == "Completed"
    inst = svc.instance(created["id"])
    with connect(inst, PASSWORD) as client:
        client.shop.orders.insert_one({"_id": 1})
    node, data = node_dirs(svc, inst)
    remove_directory(node, data)
    wait_for(lambda: "DATA_LOST" in svc.instance(inst["id"])["actions"], timeout=30, what="DATA_LOST")
    time.sleep(1)
    assert svc.instance(inst["id"])["status"] == "abnormal"
    refusal = _refused(inst)
    assert "missing or damaged" in refusal and "restore a backup onto the instance" in refusal, refusal
    assert not (node / "data").exists(), "nothing is created in its place"
    with svc.client() as c:
        now = datetime.now(UTC)
        window = {
            "start_date": (now - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "end_date": (now + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "limit": 100,
        }
        said = [
            e["content"]
            for e in c.get(svc.path(f"/instances/{inst['id']}/errorlog"), params=window).json()["error_log_list"]
        ]
        assert any("data missing or damaged" in line for line in said), said
        assert any("no backup and no continuous archive" in line for line in said), said

    # The operator brings it back from another instance's backup: a restore onto it rebuilds it.
    other = _prepare(svc, "lost-nothing-donor")
    with svc.client() as c:
        backup_id = c.get(svc.path("/backups"), params={"instance_id": other["id"]}).json()["backups"][0]["id"]
        source = {"type": "backup", "instance_id": other["id"], "backup_id": backup_id}
        r = c.post(svc.path("/instances/recovery"), json={"source": source, "target": {"instance_id": inst["id"]}})
        assert r.status_code == 200, r.text
    assert svc.wait_job(r.json()["job_id"])["status"] == "Completed"
    done = _recovered(svc, inst)
    with connect(done, PASSWORD) as client:
        assert client.shop.orders.count_documents({}) == DOCS


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("during", ["backup", "restore"])
def test_a_fault_while_a_backup_or_restore_runs_is_never_served_empty(
    make_service: Any, during: str, fault: str
) -> None:
    """Each fault injected right after a backup or a restore onto the instance starts: the job
    ends (either way), the instance is recovered, and no client ever reads fewer documents than
    it holds."""
    svc: Service = make_service()
    inst = _prepare(svc, f"lost-{during}-{fault}"[:60])
    served: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            with contextlib.suppress(PyMongoError), connect(inst, PASSWORD, timeout_ms=300) as client:
                served.append(client.shop.orders.count_documents({}))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with svc.client() as c:
            if during == "backup":
                r = c.post(svc.path("/backups"), json={"backup": {"instance_id": inst["id"], "name": "in-flight"}})
            else:
                backup_id = c.get(svc.path("/backups"), params={"instance_id": inst["id"]}).json()["backups"][0]["id"]
                source = {"type": "backup", "instance_id": inst["id"], "backup_id": backup_id}
                r = c.post(
                    svc.path("/instances/recovery"), json={"source": source, "target": {"instance_id": inst["id"]}}
                )
            assert r.status_code in (200, 202), r.text
        node, data = node_dirs(svc, inst)
        FAULTS[fault](node, data)
        svc.wait_job(r.json()["job_id"], timeout=120)
        done = _recovered(svc, inst, job=False)
    finally:
        stop.set()
        watcher.join(10)
    with connect(done, PASSWORD) as client:
        assert client.shop.orders.count_documents({}) == DOCS
    assert min(served, default=DOCS) >= DOCS, f"served counts: {sorted(set(served))}"


def test_a_newest_backup_that_fails_its_checks_is_passed_over_for_an_older_one(make_service: Any) -> None:
    """The newest backup's file is damaged in the store: its recovery fails on the checksum, and the
    next recovery takes the backup before it; the node is never served meanwhile."""
    svc: Service = make_service()
    inst = _prepare(svc, "lost-fallback")  # backup 1: DOCS documents
    with connect(inst, PASSWORD) as client:
        client.shop.orders.insert_one({"_id": "in-the-second-backup"})
    with svc.client() as c:
        r = c.post(svc.path("/backups"), json={"backup": {"instance_id": inst["id"], "name": "lost-fallback-2"}})
        assert r.status_code == 200, r.text
    assert svc.wait_job(r.json()["job_id"])["status"] == "Completed"
    with svc.parts.db.session() as s:
        key = s.get(Backup, r.json()["backup_id"]).object_key
    stored = svc.parts.settings.backup_store_dir / key
    raw = bytearray(stored.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    stored.write_bytes(bytes(raw))

    node, data = node_dirs(svc, inst)
    remove_directory(node, data)
    done = _recovered(svc, inst)
    with connect(done, PASSWORD) as client:
        assert client.shop.orders.count_documents({}) == DOCS  # the first backup's
    with svc.client() as c:
        jobs = c.get(f"/v3.1/{svc.project_id}/jobs", params={"limit": 100}).json()["jobs"]
    ours = sorted(j["status"] for j in jobs if j["instance_id"] == inst["id"] and j["name"] == "MongodbRecoverLostData")
    assert ours == ["Completed", "Failed"], ours
