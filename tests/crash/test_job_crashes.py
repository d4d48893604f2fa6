"""Crash trials: for every job kind, the service is killed with SIGKILL (a real process) at fixed
points after the request, started again on the same data directory, and the job must end
Completed, with no instance left transitional, exactly one engine and one gateway per node, and
the data as the job promised. Delays are fixed (deterministic); `DDS_CRASH_DELAYS` (comma-separated
seconds) widens the set: `make crash` runs the whole set."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.helpers import (
    ServiceProcess,
    connect,
    engine_pids,
    gateway_pids,
    instance_body,
    process_pids,
    wait_for,
    wait_job,
)
from tests.pitr_support import mark

DELAYS = [float(d) for d in os.environ.get("DDS_CRASH_DELAYS", "0.05,0.6").split(",")]
SETTLED = {"normal", "data_disk_full"}
DOCS = [{"_id": i, "v": "x" * 50} for i in range(2000)]


class Trial:
    """One service process, killed and started again by each trial."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.svc = ServiceProcess(data_dir)
        self.svc.env.update(env or {})
        self.svc.start()
        self.prefix = f"/v3/{self.svc.project()}"

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.svc.url + self.prefix, headers={"X-Auth-Token": "dds-dev-token"}, timeout=60)

    def instance(self, iid: str) -> dict[str, Any]:
        with self.api() as c:
            items = c.get("/instances", params={"id": iid}).json()["instances"]
        assert len(items) == 1, items
        return items[0]  # type: ignore[no-any-return]

    def create(self, name: str, docs: list[dict[str, Any]] | None = None) -> str:
        with self.api() as c:
            r = c.post("/instances", json=instance_body(name, PASSWORD))
            assert r.status_code == 202, r.text
            assert wait_job(c, r.json()["job_id"])["status"] == "Completed"
        iid = str(r.json()["id"])
        if docs:
            with connect(self.instance(iid), PASSWORD) as client:
                client.app.c.insert_many(docs)
        return iid

    def crash_during(self, job_id: str, delay: float) -> dict[str, Any]:
        time.sleep(delay)
        self.svc.kill9()
        self.svc.start()
        with self.api() as c:
            job = wait_job(c, job_id, timeout=180)
        if job["status"] != "Completed":  # shown by pytest with the failure: why, in the service's words
            log = (self.svc.home / "service.log").read_text(errors="replace").splitlines()
            print(f"job {job_id} {job['status']}: {job.get('fail_reason')}", *log[-60:], sep="\n")
        return job

    def assert_settled(self) -> None:
        """Nothing transitional; every node has exactly its engine and its gateway running."""
        with self.api() as c:
            deadline = time.monotonic() + 30
            while True:
                items = c.get("/instances").json()["instances"]
                if all(i["status"] in SETTLED for i in items) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        assert all(i["status"] in SETTLED for i in items), [(i["name"], i["status"]) for i in items]
        root = self.svc.data_dir / "instances"
        assert len(engine_pids(root)) == len(items) == len(gateway_pids(root)), (items, engine_pids(root))

    def docs(self, iid: str) -> list[Any]:
        with connect(self.instance(iid), PASSWORD) as client:
            return sorted(d["_id"] for d in client.app.c.find({}, {"_id": 1}))

    def delete(self, iid: str) -> None:
        with self.api() as c:
            r = c.delete(f"/instances/{iid}")
            assert r.status_code == 202, r.text
            assert wait_job(c, r.json()["job_id"])["status"] == "Completed"


@pytest.fixture(scope="module")
def trial(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trial]:
    t = Trial(tmp_path_factory.mktemp("crash"))
    try:
        yield t
    finally:
        t.svc.stop()
    assert engine_pids(t.svc.data_dir) == set() and gateway_pids(t.svc.data_dir) == set()


@pytest.fixture(scope="module")
def source(trial: Trial) -> str:
    return trial.create("crash-src", DOCS)


@pytest.fixture(scope="module")
def backup(trial: Trial, source: str) -> str:
    with trial.api() as c:
        r = c.post("/backups", json={"backup": {"instance_id": source, "name": "crash-base"}})
        assert r.status_code == 200, r.text
        assert wait_job(c, r.json()["job_id"])["status"] == "Completed"
    return str(r.json()["backup_id"])


@pytest.fixture(scope="module")
def moment(trial: Trial, source: str) -> int:
    """A restorable time of the source, with incremental backup on, when it held exactly DOCS."""
    policy = {
        "keep_days": "7",
        "start_time": "23:00-00:00",
        "period": "1,2,3,4,5,6,7",
        "enable_incremental_backup": True,
    }
    with trial.api() as c:
        assert c.put(f"/instances/{source}/backups/policy", json={"backup_policy": policy}).status_code == 200
        # The first heartbeats after the archiver starts are not trusted yet: wait for a covered moment.
        return mark(c, "", source)


Kind = Callable[[Trial, str, str, float], None]
SPECS = ("dds.mongodb.s2.large.4.repset", "dds.mongodb.s2.medium.4.repset")


def _other_spec(inst: dict[str, Any]) -> str:
    """Each resize trial asks for a change: the same flavor again is refused."""
    return SPECS[0] if inst["groups"][0]["nodes"][0]["spec_code"] != SPECS[0] else SPECS[1]


def _larger(inst: dict[str, Any]) -> int:
    return int(inst["groups"][0]["volume"]["size"]) + 10


def _create(t: Trial, source: str, backup: str, delay: float) -> None:
    with t.api() as c:
        r = c.post("/instances", json=instance_body(f"crash-new-{int(delay * 1000)}", PASSWORD))
    job = t.crash_during(r.json()["job_id"], delay)
    assert job["status"] == "Completed", job.get("fail_reason")
    with connect(t.instance(r.json()["id"]), PASSWORD) as client:
        client.app.c.insert_one({"_id": "after"})
    t.assert_settled()
    t.delete(r.json()["id"])


def _backup(t: Trial, source: str, backup: str, delay: float) -> None:
    with t.api() as c:
        r = c.post("/backups", json={"backup": {"instance_id": source, "name": f"crash-b-{int(delay * 1000)}"}})
        job = t.crash_during(r.json()["job_id"], delay)
        assert job["status"] == "Completed", job.get("fail_reason")
        files = c.get("/backups/download-file", params={"instance_id": source, "backup_id": r.json()["backup_id"]})
        assert files.status_code == 200, files.text
        for f in files.json()["files"]:  # the whole archive downloads
            got = httpx.get(f["download_link"], timeout=60)
            assert got.status_code == 200 and len(got.content) > 0, (f, got.status_code)
    t.assert_settled()


def _export(t: Trial, source: str, backup: str, delay: float) -> None:
    """The mongodump-layout export that follows each backup (its own job), killed mid-way."""
    with t.api() as c:
        r = c.post("/backups", json={"backup": {"instance_id": source, "name": f"crash-e-{int(delay * 1000)}"}})
        assert wait_job(c, r.json()["job_id"])["status"] == "Completed"
    time.sleep(delay)  # the export job starts when the backup completes
    t.svc.kill9()
    t.svc.start()
    params = {"instance_id": source, "backup_id": r.json()["backup_id"]}
    deadline = time.monotonic() + 180
    with t.api() as c:
        while len(files := c.get("/backups/download-file", params=params).json()["files"]) < 2:
            assert time.monotonic() < deadline, files
            time.sleep(0.3)
        for f in files:
            got = httpx.get(f["download_link"], timeout=60)
            assert got.status_code == 200 and len(got.content) > 0, (f, got.status_code)
    t.assert_settled()


def _stop_backup(t: Trial, source: str, backup: str, delay: float) -> None:
    """Stopping a running backup, with the service killed while the stop is under way."""
    with t.api() as c:
        r = c.post("/backups", json={"backup": {"instance_id": source, "name": f"crash-s-{int(delay * 1000)}"}})
        backup_job = r.json()["job_id"]
        stop = c.put(f"/backups/{r.json()['backup_id']}", json={"action": "stop"})
        if stop.status_code == 400:  # the backup already finished: nothing to stop
            assert wait_job(c, backup_job)["status"] == "Completed"
            return
        assert stop.status_code in (200, 202), stop.text
    job = t.crash_during(stop.json()["job_id"], delay)
    assert job["status"] == "Completed", job.get("fail_reason", job)
    with t.api() as c:
        assert wait_job(c, backup_job)["status"] in ("Failed", "Completed")
        listed = c.get("/backups", params={"backup_id": r.json()["backup_id"]}).json()["backups"]
        assert listed and listed[0]["status"] in ("FAILED", "COMPLETED"), listed
    t.assert_settled()


def _restore_new(t: Trial, source: str, backup: str, delay: float) -> None:
    _restored_new(t, f"crash-r-{int(delay * 1000)}", {"instance_id": source, "backup_id": backup}, delay)


def _restored_new(t: Trial, name: str, restore_point: dict[str, Any], delay: float) -> None:
    """A new instance from a restore point, the service killed during it: it holds the source's data."""
    size = t.instance(restore_point["instance_id"])["groups"][0]["volume"]["size"]  # other trials enlarge it
    body = {**instance_body(name, PASSWORD, size=str(size)), "restore_point": restore_point}
    with t.api() as c:
        r = c.post("/instances", json=body)
        assert r.status_code == 202, r.text
    job = t.crash_during(r.json()["job_id"], delay)
    assert job["status"] == "Completed", job.get("fail_reason")
    assert t.docs(r.json()["id"]) == list(range(len(DOCS)))
    t.assert_settled()
    t.delete(r.json()["id"])


def _restore_current(t: Trial, source: str, backup: str, delay: float) -> None:
    target = t.create(f"crash-t-{int(delay * 1000)}", [{"_id": "other"}])
    with t.api() as c:
        r = c.post(
            "/instances/recovery",
            json={"source": {"instance_id": source, "backup_id": backup}, "target": {"instance_id": target}},
        )
        assert r.status_code == 200, r.text
    job = t.crash_during(r.json()["job_id"], delay)
    assert job["status"] == "Completed", job.get("fail_reason")
    assert t.docs(target) == list(range(len(DOCS)))
    t.assert_settled()
    t.delete(target)


def _maintenance(path: str, body: Callable[[str, dict[str, Any]], dict[str, Any]]) -> Kind:
    def run(t: Trial, source: str, backup: str, delay: float) -> None:
        with t.api() as c:
            r = c.post(f"/instances/{source}/{path}", json=body(source, t.instance(source)))
            assert r.status_code in (200, 202), r.text
        job = t.crash_during(r.json()["job_id"], delay)
        assert job["status"] == "Completed", job.get("fail_reason")
        assert t.docs(source) == list(range(len(DOCS)))
        t.assert_settled()

    return run


def _pitr_new(t: Trial, source: str, at: int, delay: float) -> None:
    point = {"instance_id": source, "type": "timestamp", "restore_time": str(at)}
    _restored_new(t, f"crash-p-{int(delay * 1000)}", point, delay)


def _pitr_collections(t: Trial, source: str, at: int, delay: float) -> None:
    new = f"c_crash_{int(delay * 1000)}"
    body = {
        "restore_collections": [
            {"database": "app", "restore_database_time": str(at), "collections": [{"old_name": "c", "new_name": new}]}
        ]
    }
    with t.api() as c:
        r = c.post(f"/instances/{source}/restore/collections", json=body)
        assert r.status_code == 200, r.text
    job = t.crash_during(r.json()["job_id"], delay)
    assert job["status"] == "Completed", job.get("fail_reason", job)
    with connect(t.instance(source), PASSWORD) as client:
        assert client.app[new].count_documents({}) == len(DOCS)  # whole: a half copy was dropped and redone
        assert client.app.c.count_documents({}) == len(DOCS)  # the original untouched
    t.assert_settled()


PITR_KINDS: dict[str, Callable[[Trial, str, int, float], None]] = {
    "pitr-new": _pitr_new,
    "pitr-collections": _pitr_collections,
}


def _switch_ssl(t: Trial, source: str, backup: str, delay: float) -> None:
    """TLS on (the service killed during it), then off again so the other trials connect in plain."""
    with t.api() as c:
        r = c.post(f"/instances/{source}/switch-ssl", json={"ssl_option": "1"})
        assert r.status_code == 202, r.text
    job = t.crash_during(r.json()["job_id"], delay)
    assert job["status"] == "Completed", job.get("fail_reason", job)
    assert t.instance(source)["ssl"] == 1
    with t.api() as c:
        r = c.post(f"/instances/{source}/switch-ssl", json={"ssl_option": "0"})
        assert r.status_code == 202 and wait_job(c, r.json()["job_id"])["status"] == "Completed", r.text
    assert t.docs(source) == list(range(len(DOCS)))
    t.assert_settled()


def _delete(t: Trial, source: str, backup: str, delay: float) -> None:
    iid = t.create(f"crash-d-{int(delay * 1000)}")
    with t.api() as c:
        r = c.delete(f"/instances/{iid}")
    job = t.crash_during(r.json()["job_id"], delay)
    assert job["status"] == "Completed", job.get("fail_reason")
    assert not (t.svc.data_dir / "instances" / iid).exists()
    t.assert_settled()


def _apply_parameters(t: Trial, source: str, backup: str, delay: float) -> None:
    """A parameter change that restarts the engine (cache size), the service killed during it."""
    size = str(32 + int(delay * 1000) % 997)  # a new value each trial: a change, so a restart
    with t.api() as c:
        r = c.put(
            f"/instances/{source}/configurations",
            json={"entity_id": source, "parameter_values": {"storage.cacheSizeMB": size}},
        )
        assert r.status_code == 200 and r.json()["restart_required"] is True, r.text
    job = t.crash_during(r.json()["job_id"], delay)
    assert job["status"] == "Completed", job.get("fail_reason", job)
    with t.api() as c:
        shown = {p["name"]: p["value"] for p in c.get(f"/instances/{source}/configurations").json()["parameters"]}
        history = c.get(f"/instances/{source}/configuration-histories").json()["histories"][0]
    assert shown["storage.cacheSizeMB"] == size
    assert (history["new_value"], history["applied"], history["update_result"]) == (size, True, "SUCCESS")
    assert t.docs(source) == list(range(len(DOCS)))
    t.assert_settled()


def _delete_to_recycle_bin(t: Trial, source: str, backup: str, delay: float) -> None:
    """Delete with a recycle policy (a backup first), killed during it: in the bin, its backup whole."""
    iid = t.create(f"crash-r-{int(delay * 1000)}")
    with t.api() as c:
        policy = {"recycle_policy": {"enabled": True, "retention_period_in_days": 1}}
        assert c.put("/instances/recycle-policy", json=policy).status_code == 200
        try:
            r = c.delete(f"/instances/{iid}")
            job = t.crash_during(r.json()["job_id"], delay)
        finally:
            off = {"recycle_policy": {"enabled": False, "retention_period_in_days": 1}}
            assert c.put("/instances/recycle-policy", json=off).status_code == 200
        assert job["status"] == "Completed", job.get("fail_reason", job)
        entry = next(i for i in c.get("/recycle-instances").json()["instances"] if i["id"] == iid)
        kept = c.get("/backups", params={"backup_id": entry["backup_id"]}).json()["backups"]
        assert kept and kept[0]["status"] == "COMPLETED", kept
    assert not (t.svc.data_dir / "instances" / iid).exists()
    t.assert_settled()


KINDS: dict[str, Kind] = {
    "create": _create,
    "backup": _backup,
    "backup-export": _export,
    "stop-backup": _stop_backup,
    "restore-new": _restore_new,
    "restore-current": _restore_current,
    "restart": _maintenance("restart", lambda iid, inst: {"target_id": iid}),
    "resize": _maintenance(
        "resize",
        lambda iid, inst: {
            "resize": {"target_type": "replica", "target_id": iid, "target_spec_code": _other_spec(inst)}
        },
    ),
    "enlarge": _maintenance("enlarge-volume", lambda iid, inst: {"volume": {"size": _larger(inst)}}),
    "switch-ssl": _switch_ssl,
    "delete": _delete,
    "apply-parameters": _apply_parameters,
    "delete-to-recycle-bin": _delete_to_recycle_bin,
}


@pytest.mark.parametrize("delay", DELAYS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_job_survives_a_crash(trial: Trial, source: str, backup: str, kind: str, delay: float) -> None:
    KINDS[kind](trial, source, backup, delay)


@pytest.mark.parametrize("delay", DELAYS)
@pytest.mark.parametrize("kind", list(PITR_KINDS))
def test_point_in_time_job_survives_a_crash(trial: Trial, source: str, moment: int, kind: str, delay: float) -> None:
    PITR_KINDS[kind](trial, source, moment, delay)


def _lose_disk_during(t: Trial, job_id: str, iid: str, delay: float) -> dict[str, Any]:
    """The service killed during the job and the instance's node directories removed while it is
    down (a disk lost with the machine), then started again: the job must end, either way."""
    time.sleep(delay)
    t.svc.kill9()
    for node in (t.svc.data_dir / "instances" / iid).glob("*no02"):
        for program in ("ferretdb", "dds.gateway", "dds.archiver", "litestream"):
            for pid in process_pids(node, program):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(node)
    t.svc.start()
    with t.api() as c:
        return wait_job(c, job_id, timeout=180)


def _never_served_empty(t: Trial, iid: str, expected: list[Any], recoverable: bool) -> None:
    """Whatever the job's end, the instance is `normal` only with its data: a created one usable,
    a restored or backed-up one holding every document. Otherwise it is `createfail`, or (when it
    has no backup of its own to be recovered from) `abnormal` with DATA_LOST: then deleted."""

    def settled() -> dict[str, Any] | None:
        i = t.instance(iid)
        lost = i["status"] == "abnormal" and i["actions"] == ["DATA_LOST"] and not recoverable
        return i if (i["status"] in ("normal", "createfail") and not i["actions"]) or lost else None

    inst = wait_for(settled, timeout=180, what="a settled instance")
    if inst["status"] != "normal":
        t.delete(iid)
        return
    assert t.docs(iid) == expected


def _disk_lost_create(t: Trial, source: str, backup: str, delay: float) -> None:
    with t.api() as c:
        r = c.post("/instances", json=instance_body(f"crash-lost-new-{int(delay * 1000)}", PASSWORD))
    _lose_disk_during(t, r.json()["job_id"], r.json()["id"], delay)
    _never_served_empty(t, r.json()["id"], [], recoverable=False)
    with t.api() as c:
        if c.get("/instances", params={"id": r.json()["id"]}).json()["instances"]:
            t.delete(r.json()["id"])


def _disk_lost_backup(t: Trial, source: str, backup: str, delay: float) -> None:
    """The source's disk lost during its backup: recovered from its newest backup, never empty."""
    with t.api() as c:
        r = c.post("/backups", json={"backup": {"instance_id": source, "name": f"crash-lost-b-{int(delay * 1000)}"}})
        assert r.status_code == 200, r.text
    _lose_disk_during(t, r.json()["job_id"], source, delay)
    _never_served_empty(t, source, list(range(len(DOCS))), recoverable=True)


def _disk_lost_restore(t: Trial, source: str, backup: str, delay: float) -> None:
    size = t.instance(source)["groups"][0]["volume"]["size"]
    body = {
        **instance_body(f"crash-lost-r-{int(delay * 1000)}", PASSWORD, size=str(size)),
        "restore_point": {"instance_id": source, "backup_id": backup},
    }
    with t.api() as c:
        r = c.post("/instances", json=body)
        assert r.status_code == 202, r.text
    _lose_disk_during(t, r.json()["job_id"], r.json()["id"], delay)
    _never_served_empty(t, r.json()["id"], list(range(len(DOCS))), recoverable=False)
    with t.api() as c:
        if c.get("/instances", params={"id": r.json()["id"]}).json()["instances"]:
            t.delete(r.json()["id"])


LOST_KINDS: dict[str, Kind] = {"create": _disk_lost_create, "backup": _disk_lost_backup, "restore": _disk_lost_restore}


@pytest.mark.parametrize("delay", DELAYS)
@pytest.mark.parametrize("kind", list(LOST_KINDS))
def test_a_disk_lost_during_a_job_is_never_served_empty(
    trial: Trial, source: str, backup: str, kind: str, delay: float
) -> None:
    LOST_KINDS[kind](trial, source, backup, delay)
    trial.assert_settled()
