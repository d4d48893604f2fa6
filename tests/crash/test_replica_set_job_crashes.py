"""Crash trials for the job kinds of replica sets on PostgreSQL storage (`DDS_REPLICA_SET_STORAGE=
postgresql`): switchover, promotion, rolling restart and resize, two more members and back, a read
replica added and deleted; a backup, its export and a restore of it into a new instance; restores
as of a time (base backup + archived WAL) to a new instance, in place and of a collection. The
service is killed with SIGKILL at a fixed point after the request and started again on the same
data directory; the job must end Completed, the instance `normal` with the members the job
promised (one primary), every member's engine and gateway running once, and the data whole.
`DDS_CRASH_DELAYS` widens the set (`make crash`)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.crash.test_job_crashes import Trial
from tests.helpers import connect, engine_pids, gateway_pids, instance_body, wait_for, wait_job
from tests.pitr_support import POLICY, mark, now_ms

pytestmark = pytest.mark.skipif(shutil.which("pg_autoctl") is None, reason="pg_auto_failover is not installed")

DELAYS = [float(d) for d in os.environ.get("DDS_CRASH_DELAYS", "0.6").split(",")]
DOCS = [{"_id": i} for i in range(500)]


@pytest.fixture(scope="module")
def trial(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trial]:
    t = Trial(tmp_path_factory.mktemp("crash-rs"), {"DDS_REPLICA_SET_STORAGE": "postgresql"})
    try:
        yield t
    finally:
        t.svc.stop()
    assert engine_pids(t.svc.data_dir) == set() and gateway_pids(t.svc.data_dir) == set()


@pytest.fixture(scope="module")
def rs(trial: Trial) -> str:
    return trial.create("crash-pg-rs", DOCS)


def _nodes(t: Trial, iid: str) -> list[dict[str, Any]]:
    return [n for g in t.instance(iid)["groups"] for n in g["nodes"]]


def _settled(t: Trial, iid: str, roles: list[str]) -> None:
    """Normal, the members the job promised, one engine and one gateway per member, data whole."""
    wait_for(lambda: t.instance(iid)["status"] == "normal", timeout=60, what="the instance normal")
    nodes = _nodes(t, iid)
    assert sorted(n["role"] for n in nodes) == sorted(roles), nodes
    assert all(n["status"] == "normal" for n in nodes), nodes
    root = t.svc.data_dir / "instances" / iid
    assert len(engine_pids(root)) == len(nodes) == len(gateway_pids(root))
    with connect(t.instance(iid), PASSWORD) as client:
        assert client.app.c.count_documents({}) == len(DOCS)


THREE = ["Primary", "Secondary", "Secondary"]
Request = Callable[[Trial, str], tuple[str, str, dict[str, Any]]]


def _crash(t: Trial, iid: str, delay: float, request: Request, roles: list[str]) -> None:
    method, path, body = request(t, iid)
    with t.api() as c:
        r = c.request(method, f"/instances/{iid}/{path}", json=body)
        assert r.status_code in (200, 202), r.text
    job = t.crash_during(r.json()["job_id"], delay)
    assert job["status"] == "Completed", job.get("fail_reason")
    _settled(t, iid, roles)


def _secondary(t: Trial, iid: str) -> str:
    return next(n["id"] for n in _nodes(t, iid) if n["role"] == "Secondary")


def _replica(t: Trial, iid: str) -> str:
    return next(n["id"] for n in _nodes(t, iid) if n["role"] == "ReadOnly")


def _other_spec(t: Trial, iid: str) -> str:
    specs = ("dds.mongodb.s2.large.4.repset", "dds.mongodb.s2.medium.4.repset")
    return specs[0] if _nodes(t, iid)[0]["spec_code"] != specs[0] else specs[1]


KINDS: dict[str, tuple[Request, list[str]]] = {
    "switchover": (lambda t, iid: ("POST", "switchover", {}), THREE),
    "promote": (lambda t, iid: ("POST", f"nodes/{_secondary(t, iid)}/primary", {}), THREE),
    "rolling-restart": (lambda t, iid: ("POST", "restart", {"target_id": iid}), THREE),
    "rolling-resize": (
        lambda t, iid: ("POST", "resize", {"resize": {"target_id": iid, "target_spec_code": _other_spec(t, iid)}}),
        THREE,
    ),
    "enlarge-members": (lambda t, iid: ("POST", "replicaset-node", {"num": 2}), [*THREE, "Secondary", "Secondary"]),
    "shrink-members": (lambda t, iid: ("DELETE", "nodes", {"num": 2}), THREE),
    "add-read-replica": (
        lambda t, iid: ("POST", "readonly-node", {"spec_code": "dds.mongodb.s2.medium.4.rr", "num": 1}),
        [*THREE, "ReadOnly"],
    ),
    "delete-read-replica": (lambda t, iid: ("DELETE", "readonly-node", {"node_list": [_replica(t, iid)]}), THREE),
}


@pytest.mark.parametrize(("delay", "kind"), [(d, k) for d in DELAYS for k in KINDS])
def test_replica_set_job_survives_a_crash(trial: Trial, rs: str, kind: str, delay: float) -> None:
    """Kinds run in order on one instance: each leaves what the next starts from."""
    request, roles = KINDS[kind]
    _crash(trial, rs, delay, request, roles)


def _backup_files(t: Trial, iid: str, backup_id: str, count: int) -> None:
    """The backup's files (the base backup, and the export when `count` is 2) download whole."""
    params = {"instance_id": iid, "backup_id": backup_id}
    with t.api() as c:
        deadline = time.monotonic() + 180
        while len(files := c.get("/backups/download-file", params=params).json()["files"]) < count:
            assert time.monotonic() < deadline, files
            time.sleep(0.3)
        for f in files:
            got = httpx.get(f["download_link"], timeout=60)
            assert got.status_code == 200 and len(got.content) == int(got.headers["content-length"]) > 0, f


def _take_backup(t: Trial, iid: str, delay: float) -> str:
    with t.api() as c:
        r = c.post("/backups", json={"backup": {"instance_id": iid, "name": f"crash-pg-b-{int(delay * 1000)}"}})
        assert r.status_code == 200, r.text
    job = t.crash_during(r.json()["job_id"], delay)
    assert job["status"] == "Completed", job.get("fail_reason")
    _settled(t, iid, THREE)
    _backup_files(t, iid, r.json()["backup_id"], 1)
    return str(r.json()["backup_id"])


def _export_backup(t: Trial, iid: str, delay: float) -> str:
    """The export follows the backup (a job of its own, with a server of its own): killed mid-way."""
    with t.api() as c:
        r = c.post("/backups", json={"backup": {"instance_id": iid, "name": f"crash-pg-e-{now_ms()}"}})
        assert r.status_code == 200, r.text
        assert wait_job(c, r.json()["job_id"], timeout=180)["status"] == "Completed"
    time.sleep(delay)
    t.svc.kill9()
    t.svc.start()
    _backup_files(t, iid, r.json()["backup_id"], 2)
    _settled(t, iid, THREE)
    return str(r.json()["backup_id"])


def _restore_base_backup(t: Trial, iid: str, delay: float) -> str:
    """A new instance from a base backup, the service killed during it: it holds the source's data."""
    backup_id = _export_backup(t, iid, 0.0)
    size = t.instance(iid)["groups"][0]["volume"]["size"]
    point = {"instance_id": iid, "backup_id": backup_id}
    body = {**instance_body(f"crash-pg-r-{int(delay * 1000)}", PASSWORD, size=str(size)), "restore_point": point}
    with t.api() as c:
        r = c.post("/instances", json=body)
        assert r.status_code == 202, r.text
    job = t.crash_during(r.json()["job_id"], delay)
    assert job["status"] == "Completed", job.get("fail_reason")
    assert t.docs(r.json()["id"]) == [d["_id"] for d in DOCS]
    t.delete(r.json()["id"])
    _settled(t, iid, THREE)
    return backup_id


def _recover_in_place(t: Trial, iid: str, delay: float) -> str:
    """A base backup restored onto its own instance through the wire (the target's data and users
    set aside first), the service killed during it: later writes gone, the rest whole."""
    with t.api() as c:
        r = c.post("/backups", json={"backup": {"instance_id": iid, "name": f"crash-pg-rb-{now_ms()}"}})
        assert r.status_code == 200, r.text
        assert wait_job(c, r.json()["job_id"], timeout=180)["status"] == "Completed"
        backup_id = str(r.json()["backup_id"])
    _recover_in_place_from(t, iid, {"type": "backup", "backup_id": backup_id}, delay)
    return backup_id


def _recover_in_place_from(t: Trial, iid: str, source: dict[str, Any], delay: float) -> None:
    """Writes after the restore point, then the instance restored onto itself from `source`, the
    service killed during it: the later writes gone, the rest whole."""
    with connect(t.instance(iid), PASSWORD) as client:
        client.app.c.insert_many([{"_id": f"late-{i}"} for i in range(20)])
    body = {"source": {"instance_id": iid, **source}, "target": {"instance_id": iid}}
    with t.api() as c:
        r = c.post("/instances/recovery", json=body)
        assert r.status_code == 200, r.text
    job = t.crash_during(r.json()["job_id"], delay)
    assert job["status"] == "Completed", job.get("fail_reason")
    _settled(t, iid, THREE)


def _restorable_moment(t: Trial, iid: str) -> int:
    """Incremental backup on (the WAL archiver runs), a base backup taken since, and a moment the
    archive shows covered, with the instance holding DOCS then."""
    with t.api() as c:
        policy = {"backup_policy": {**POLICY, "enable_incremental_backup": True}}
        assert c.put(f"/instances/{iid}/backups/policy", json=policy).status_code == 200
        r = c.post("/backups", json={"backup": {"instance_id": iid, "name": f"crash-pg-pitr-{now_ms()}"}})
        assert r.status_code == 200, r.text
        assert wait_job(c, r.json()["job_id"], timeout=180)["status"] == "Completed"
        return mark(c, "", iid)


def _restore_new_as_of(t: Trial, iid: str, delay: float) -> str:
    """A new replica set as of a time (base backup + archived WAL), the service killed during it."""
    at = _restorable_moment(t, iid)
    point = {"instance_id": iid, "type": "timestamp", "restore_time": str(at)}
    with t.api() as c:
        r = c.post(
            "/instances", json={**instance_body(f"crash-pg-t-{int(delay * 1000)}", PASSWORD), "restore_point": point}
        )
        assert r.status_code == 202, r.text
    job = t.crash_during(r.json()["job_id"], delay)
    assert job["status"] == "Completed", job.get("fail_reason")
    assert t.docs(r.json()["id"]) == [d["_id"] for d in DOCS]
    t.delete(r.json()["id"])
    _settled(t, iid, THREE)
    return str(at)


def _recover_in_place_as_of(t: Trial, iid: str, delay: float) -> str:
    """The instance back to a time, in place: what was written after it is gone, the rest whole."""
    at = _restorable_moment(t, iid)
    _recover_in_place_from(t, iid, {"type": "timestamp", "restore_time": str(at)}, delay)
    return str(at)


def _restore_collection_as_of(t: Trial, iid: str, delay: float) -> str:
    """A collection as of a time back under a new name into the running instance."""
    at = _restorable_moment(t, iid)
    item = {
        "database": "app",
        "collections": [{"old_name": "c", "new_name": "c_back", "restore_collection_time": str(at)}],
    }
    with t.api() as c:
        r = c.post(f"/instances/{iid}/restore/collections", json={"restore_collections": [item]})
        assert r.status_code == 200, r.text
    job = t.crash_during(r.json()["job_id"], delay)
    assert job["status"] == "Completed", job.get("fail_reason")
    _settled(t, iid, THREE)
    with connect(t.instance(iid), PASSWORD) as client:
        assert sorted(d["_id"] for d in client.app.c_back.find()) == [d["_id"] for d in DOCS]
        client.app.drop_collection("c_back")
    return str(at)


BACKUP_KINDS: dict[str, Callable[[Trial, str, float], str]] = {
    "backup": _take_backup,
    "backup-export": _export_backup,
    "restore-new": _restore_base_backup,
    "recovery": _recover_in_place,
    "restore-new-as-of": _restore_new_as_of,
    "recovery-as-of": _recover_in_place_as_of,
    "restore-collection-as-of": _restore_collection_as_of,
}


@pytest.mark.parametrize(("delay", "kind"), [(d, k) for d in DELAYS for k in BACKUP_KINDS])
def test_backup_job_on_postgresql_survives_a_crash(trial: Trial, rs: str, kind: str, delay: float) -> None:
    BACKUP_KINDS[kind](trial, rs, delay)
