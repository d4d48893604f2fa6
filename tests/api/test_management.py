"""Tags, quotas, recycle bin, maintenance window and scheduled tasks, auto-enlarge, replica set name."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote_plus

import pytest
from pymongo import MongoClient

from tests.conftest import PASSWORD, ROOT, Service
from tests.helpers import connect, engine_pids, instance_body, wait_for


@pytest.fixture(scope="module")
def instance(service: Service) -> Iterator[dict[str, Any]]:
    with service.ready_instance("mgmt-1", tags=[{"key": "team", "value": "core"}]) as inst:
        yield inst


# --- tags ---------------------------------------------------------------------------------------


def test_tags_batch_list_and_filter(service: Service, instance: dict[str, Any]) -> None:
    iid = instance["id"]
    with service.client() as api:
        assert api.get(service.path(f"/instances/{iid}/tags")).json() == {"tags": [{"key": "team", "value": "core"}]}
        r = api.post(
            service.path(f"/instances/{iid}/tags/action"),
            json={"action": "create", "tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": "data"}]},
        )
        assert r.status_code == 204 and r.content == b"", r.text
        tags = {t["key"]: t["value"] for t in api.get(service.path(f"/instances/{iid}/tags")).json()["tags"]}
        assert tags == {"team": "data", "env": "prod"}
        project = api.get(service.path("/tags")).json()["tags"]
        assert {"key": "env", "values": ["prod"]} in project

        def by(body: dict[str, Any]) -> dict[str, Any]:
            r = api.post(service.path("/instances/action"), json=body)
            assert r.status_code == 200, r.text
            return r.json()  # type: ignore[no-any-return]

        hit = by(
            {"action": "filter", "tags": [{"key": "env", "values": ["prod", "test"]}], "offset": "0", "limit": "10"}
        )
        assert [i["instance_id"] for i in hit["instances"]] == [iid] and hit["total_count"] == 1
        assert by({"action": "count", "tags": [{"key": "env", "values": ["test"]}]}) == {"total_count": 0}
        assert by({"action": "count", "matches": [{"key": "instance_name", "value": "MGMT"}]})["total_count"] == 1

        r = api.post(service.path(f"/instances/{iid}/tags/action"), json={"action": "delete", "tags": [{"key": "env"}]})
        assert r.status_code == 204, r.text
        assert [t["key"] for t in api.get(service.path(f"/instances/{iid}/tags")).json()["tags"]] == ["team"]


@pytest.mark.parametrize(
    "body",
    [
        {"action": "create", "tags": [{"key": "", "value": "x"}]},
        {"action": "create", "tags": [{"key": " lead", "value": "x"}]},
        {"action": "create", "tags": [{"key": "k" * 129, "value": "x"}]},
        {"action": "create", "tags": [{"key": "ok", "value": "v" * 256}]},
        {"action": "create", "tags": [{"key": f"k{i}", "value": "v"} for i in range(20)]},  # 21 with "team"
        {"action": "move", "tags": [{"key": "ok", "value": "v"}]},
        {"action": "create", "tags": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]},
    ],
)
def test_bad_tags_are_refused_and_change_nothing(
    service: Service, instance: dict[str, Any], body: dict[str, Any]
) -> None:
    iid = instance["id"]
    with service.client() as api:
        before = api.get(service.path(f"/instances/{iid}/tags")).json()
        r = api.post(service.path(f"/instances/{iid}/tags/action"), json=body)
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.200001", r.text
        assert api.get(service.path(f"/instances/{iid}/tags")).json() == before


# --- quotas -------------------------------------------------------------------------------------


def test_instance_quota_refuses_and_creates_nothing(make_service: Any) -> None:
    svc: Service = make_service(quota_instances=1, quota_volume_gb=30)
    first = svc.create_instance("quota-1")
    with svc.client() as api:
        quotas = {q["type"]: q for q in api.get(svc.path("/quotas")).json()["quotas"]["resources"]}
        assert (quotas["instance"]["quota"], quotas["instance"]["used"]) == (1, 1)
        assert (quotas["volume"]["quota"], quotas["volume"]["used"]) == (30, 10)
        from tests.helpers import instance_body

        r = api.post(svc.path("/instances"), json=instance_body("quota-2", PASSWORD))
        assert r.status_code == 413 and r.json()["error_code"] == "DBS.200046", r.text
        listed = api.get(svc.path("/instances")).json()
        assert [i["name"] for i in listed["instances"]] == ["quota-1"]
        assert svc.wait_job(first["job_id"])["status"] == "Completed"
        r = api.post(svc.path(f"/instances/{first['id']}/enlarge-volume"), json={"volume": {"size": 40}})
        assert r.status_code == 413 and r.json()["error_code"] == "DBS.200046", r.text
        assert svc.instance(first["id"])["groups"][0]["volume"]["size"] == "10"


# --- recycle bin --------------------------------------------------------------------------------


def test_deleted_instance_comes_back_from_the_recycle_bin(make_service: Any) -> None:
    svc: Service = make_service(scheduler_interval=0.2)
    created = svc.create_instance("recycle-1")
    assert svc.wait_job(created["job_id"])["status"] == "Completed"
    with connect(svc.instance(created["id"]), PASSWORD) as client:
        client.keep.me.insert_many([{"n": i} for i in range(50)])
    with svc.client() as api:
        assert api.get(svc.path("/instances/recycle-policy")).json()["recycle_policy"]["enabled"] is False
        r = api.put(
            svc.path("/instances/recycle-policy"),
            json={"recycle_policy": {"enabled": True, "retention_period_in_days": 3}},
        )
        assert r.status_code == 200, r.text
        bad = api.put(
            svc.path("/instances/recycle-policy"),
            json={"recycle_policy": {"enabled": True, "retention_period_in_days": 9}},
        )
        assert bad.status_code == 400
        svc.delete_instance(created["id"])
        recycled = api.get(svc.path("/recycle-instances")).json()
        assert recycled["total_count"] == 1
        entry = recycled["instances"][0]
        assert entry["id"] == created["id"] and entry["backup_id"]
        assert api.get(svc.path("/instances"), params={"id": created["id"]}).json()["instances"] == []

        from tests.helpers import instance_body

        body = {**instance_body("recycle-back", PASSWORD), "restore_point": {"backup_id": entry["backup_id"]}}
        r = api.post(svc.path("/instances"), json=body)
        assert r.status_code == 202, r.text
        assert svc.wait_job(r.json()["job_id"])["status"] == "Completed"
        with connect(svc.instance(r.json()["id"]), PASSWORD) as client:
            assert client.keep.me.count_documents({}) == 50

        svc.clock.advance(timedelta(days=3, minutes=1))  # past the retention: purged with its backup
        wait_for(lambda: api.get(svc.path("/recycle-instances")).json()["total_count"] == 0)
        wait_for(
            lambda: not [b for b in api.get(svc.path("/backups")).json()["backups"] if b["id"] == entry["backup_id"]]
        )


def test_a_delete_whose_recycle_backup_fails_leaves_the_instance_serving(make_service: Any) -> None:
    """The backup is the delete's first step: if it cannot be written, nothing is removed, the
    instance serves again (not stuck `deleting`), the backup is FAILED, and a later delete works."""
    svc: Service = make_service()
    created = svc.create_instance("recycle-fails")
    assert svc.wait_job(created["job_id"])["status"] == "Completed"
    with connect(svc.instance(created["id"]), PASSWORD) as client:
        client.keep.me.insert_many([{"n": i} for i in range(20)])
    store = svc.parts.settings.backup_store_dir
    aside = store.with_name(store.name + ".aside")
    with svc.client() as api:
        policy = {"recycle_policy": {"enabled": True, "retention_period_in_days": 1}}
        assert api.put(svc.path("/instances/recycle-policy"), json=policy).status_code == 200
        if store.exists():
            store.rename(aside)
        store.write_text("not a directory: no backup can be written here")
        try:
            r = api.delete(svc.path(f"/instances/{created['id']}"))
            assert r.status_code == 202, r.text
            job = svc.wait_job(r.json()["job_id"])
            assert job["status"] == "Failed" and job["fail_reason"], job
        finally:
            store.unlink()
            if aside.exists():
                aside.rename(store)
        assert svc.instance(created["id"])["status"] == "normal"
        with connect(svc.instance(created["id"]), PASSWORD) as client:
            assert client.keep.me.count_documents({}) == 20
        backups = api.get(svc.path("/backups"), params={"instance_id": created["id"]}).json()["backups"]
        assert [b["status"] for b in backups] == ["FAILED"]
        assert api.get(svc.path("/recycle-instances")).json()["total_count"] == 0

        svc.delete_instance(created["id"])  # the store is back: the delete goes through, into the bin
        assert api.get(svc.path("/recycle-instances")).json()["total_count"] == 1


def test_an_instance_whose_engine_cannot_start_goes_to_the_bin_from_its_files(make_service: Any, tmp_path: Any) -> None:
    """`abnormal` (the engine dies and cannot be started again): a delete with a recycle policy
    backs the instance up from its files as they lie, and it comes back from the bin; if even that
    backup cannot be written, the instance is deleted without an entry instead of staying stuck."""
    engine = tmp_path / "ferretdb"
    shutil.copy2(ROOT / "bin" / "ferretdb", engine)
    svc: Service = make_service(engine_bin=engine)
    kept, lost = svc.create_instance("cold-kept"), svc.create_instance("cold-lost")
    for created in (kept, lost):
        assert svc.wait_job(created["job_id"])["status"] == "Completed"
        with connect(svc.instance(created["id"]), PASSWORD) as client:
            client.keep.me.insert_many([{"n": i} for i in range(30)])
    broken = engine.with_name("ferretdb.real")
    engine.rename(broken)
    engine.write_text("#!/bin/sh\necho 'this engine cannot start' >&2\nexit 1\n")
    engine.chmod(0o755)
    for created in (kept, lost):
        for pid in engine_pids(svc.parts.settings.instances_dir / created["id"]):
            os.kill(pid, signal.SIGKILL)
    for created in (kept, lost):
        wait_for(lambda c=created: svc.instance(c["id"])["status"] == "abnormal", 60, "abnormal")  # type: ignore[misc]

    store = svc.parts.settings.backup_store_dir
    aside = store.with_name(store.name + ".aside")
    with svc.client() as api:
        policy = {"recycle_policy": {"enabled": True, "retention_period_in_days": 2}}
        assert api.put(svc.path("/instances/recycle-policy"), json=policy).status_code == 200
        if store.exists():
            store.rename(aside)
        store.write_text("not a directory: no backup can be written here")
        try:
            svc.delete_instance(lost["id"])  # its job completes: deleted, without an entry
        finally:
            store.unlink()
            if aside.exists():
                aside.rename(store)
        assert api.get(svc.path("/recycle-instances")).json()["total_count"] == 0
        assert api.get(svc.path("/backups"), params={"instance_id": lost["id"]}).json()["backups"] == []

        svc.delete_instance(kept["id"])
        entry = api.get(svc.path("/recycle-instances")).json()["instances"][0]
        assert entry["id"] == kept["id"] and entry["backup_id"]

        engine.unlink()
        broken.rename(engine)  # an engine that starts again, for the instance brought back
        body = {**instance_body("cold-back", PASSWORD), "restore_point": {"backup_id": entry["backup_id"]}}
        r = api.post(svc.path("/instances"), json=body)
        assert r.status_code == 202, r.text
        assert svc.wait_job(r.json()["job_id"])["status"] == "Completed"
        with connect(svc.instance(r.json()["id"]), PASSWORD) as client:
            assert client.keep.me.count_documents({}) == 30


# --- maintenance window and scheduled tasks ----------------------------------------------------


def test_resize_scheduled_for_the_window_runs_inside_it(make_service: Any) -> None:
    svc: Service = make_service(scheduler_interval=0.2)
    created = svc.create_instance("window-1")
    iid = created["id"]
    assert svc.wait_job(created["job_id"])["status"] == "Completed"
    with svc.client() as api:  # run at 22:xx UTC, the moved clock would open the 00:00 backup window
        off = {"backup_policy": {"keep_days": 0}}
        assert api.put(svc.path(f"/instances/{iid}/backups/policy"), json=off).status_code == 200
    now = svc.clock.now()
    start = (now + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    window = {"start_time": f"{start:%H}:00", "end_time": f"{(start + timedelta(hours=1)):%H}:00"}
    spec = "dds.mongodb.s2.large.4.repset"
    with svc.client() as api:
        bad = api.put(
            svc.path(f"/instances/{iid}/maintenance-window"), json={"start_time": "02:30", "end_time": "03:00"}
        )
        assert bad.status_code == 400
        r = api.put(svc.path(f"/instances/{iid}/maintenance-window"), json=window)
        assert r.status_code == 200, r.text
        assert svc.instance(iid)["maintenance_window"] == f"{window['start_time']}-{window['end_time']}"
        r = api.post(
            svc.path(f"/instances/{iid}/resize"), json={"resize": {"target_spec_code": spec}, "is_delay": True}
        )
        assert r.status_code == 202, r.text
        scheduled = r.json()["job_id"]
        r = api.post(
            svc.path(f"/instances/{iid}/resize"), json={"resize": {"target_spec_code": spec}, "is_delay": True}
        )
        cancelled = r.json()["job_id"]
        assert api.delete(svc.path(f"/scheduled-jobs/{cancelled}")).status_code == 200

        def task(job_id: str) -> dict[str, Any]:
            tasks = api.get(svc.path("/scheduled-jobs"), params={"instance_id": iid}).json()["schedules"]
            return next(t for t in tasks if t["job_id"] == job_id)

        assert task(scheduled)["job_status"] == "Pending" and task(cancelled)["job_status"] == "Canceled"
        time.sleep(1.0)  # several scheduler ticks before the window: nothing runs
        assert svc.instance(iid)["groups"][0]["nodes"][0]["spec_code"] != spec
        assert task(scheduled)["job_status"] == "Pending"
        again = api.delete(svc.path(f"/scheduled-jobs/{cancelled}"))
        assert again.status_code == 400

        svc.clock.advance(start - now + timedelta(minutes=5))  # inside the window
        wait_for(lambda: task(scheduled)["job_status"] == "Completed")
        assert svc.instance(iid)["groups"][0]["nodes"][0]["spec_code"] == spec
        assert task(cancelled)["job_status"] == "Canceled"
        assert api.delete(svc.path(f"/scheduled-jobs/{scheduled}")).status_code == 400  # no longer pending


# --- auto-enlarge --------------------------------------------------------------------------------


def test_instance_grows_before_it_turns_read_only(make_service: Any) -> None:
    svc: Service = make_service(volume_unit_bytes=1024**2)
    created = svc.create_instance("grow-1", size="10")
    iid = created["id"]
    assert svc.wait_job(created["job_id"])["status"] == "Completed"
    with svc.client() as api:
        bad = api.put(
            svc.path("/instances/auto-enlarge-volume-policies"),
            json={"switch_option": "on", "policies": [{"instance_id": iid, "threshold": 81, "step": 10, "size": 100}]},
        )
        assert bad.status_code == 400
        r = api.put(
            svc.path("/instances/auto-enlarge-volume-policies"),
            json={"switch_option": "on", "policies": [{"instance_id": iid, "threshold": 80, "step": 20, "size": 100}]},
        )
        assert r.status_code == 200, r.text
        shown = api.get(svc.path(f"/instances/{iid}/auto-enlarge-volume-policy")).json()
        assert shown == {
            "switch_option": "on",
            "policy": {"instance_id": iid, "threshold": 80, "step": 20, "size": 100},
        }
    blob = "x" * 100_000
    with connect(svc.instance(iid), PASSWORD) as client:
        for i in range(60):  # ~6 MB of a 10 "GB" (= 10 MiB) volume, then more after it grows
            client.big.blobs.insert_one({"i": i, "blob": blob})
            if i % 10 == 9:
                time.sleep(0.3)
    grown = wait_for(lambda: int(svc.instance(iid)["groups"][0]["volume"]["size"]) > 10 and svc.instance(iid))
    assert grown["status"] in ("normal", "resizing")
    assert int(grown["groups"][0]["volume"]["size"]) in (20, 30)
    with svc.client() as api:  # an ordinary job, in the task list
        listed = api.get(f"/v3.1/{svc.project_id}/jobs", params={"name": "EnlargeInstanceVolume"}).json()["jobs"]
        assert [j for j in listed if j["instance_id"] == iid]
    assert svc.instance(iid)["status"] != "data_disk_full"


# --- replica set name ---------------------------------------------------------------------------


def test_replica_set_name_shown_changed_and_in_hello(service: Service, instance: dict[str, Any]) -> None:
    iid = instance["id"]
    with service.client() as api:
        assert api.get(service.path(f"/instances/{iid}/replica-set/name")).json() == {"name": "replica"}
        bad = api.put(service.path(f"/instances/{iid}/replica-set/name"), json={"name": "1bad"})
        assert bad.status_code == 400
        r = api.put(service.path(f"/instances/{iid}/replica-set/name"), json={"name": "orders_rs"})
        assert r.status_code == 200, r.text
        assert service.wait_job(r.json()["job_id"])["status"] == "Completed"
        assert api.get(service.path(f"/instances/{iid}/replica-set/name")).json() == {"name": "orders_rs"}
    inst = service.instance(iid)
    node = inst["groups"][0]["nodes"][0]
    url = f"mongodb://rwuser:{quote_plus(PASSWORD)}@{node['private_ip']}:{inst['port']}/?authSource=admin&replicaSet=orders_rs"
    with MongoClient(url, serverSelectionTimeoutMS=5000) as client:
        assert client.admin.command("hello")["setName"] == "orders_rs"
        client.t.rs.insert_one({"ok": 1})
