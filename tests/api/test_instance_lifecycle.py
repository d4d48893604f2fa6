"""An instance is a real database: create over HTTP, connect with pymongo, delete."""

from __future__ import annotations

import time

import pytest
from pymongo.errors import OperationFailure

from tests.conftest import PASSWORD, Service
from tests.helpers import connect, engine_pids, port_free


def test_create_connect_round_trip_delete(service: Service) -> None:
    created = service.create_instance("lifecycle-1")
    assert created["status"] == "creating"
    job = service.wait_job(created["job_id"])
    assert job["status"] == "Completed", job
    assert job["name"] == "CreateMongoDB"
    assert job["instance"] == {"id": created["id"], "name": "lifecycle-1"}

    inst = service.instance(created["id"])
    assert inst["status"] == "normal"
    assert inst["mode"] == "ReplicaSet"
    assert inst["datastore"]["whole_version"].endswith("(FerretDB v1.24.2)")
    node = inst["groups"][0]["nodes"][0]
    assert node["role"] == "Primary" and node["status"] == "normal"

    with connect(inst, PASSWORD) as client:
        client.shop.orders.insert_one({"_id": 1, "item": "tea", "qty": 3})
        assert client.shop.orders.find_one({"_id": 1}) == {"_id": 1, "item": "tea", "qty": 3}

    with connect(inst, "Wrong#Pass_99") as bad, pytest.raises(OperationFailure) as err:
        bad.shop.orders.find_one()
    assert err.value.code == 18  # AuthenticationFailed

    pids = engine_pids(service.parts.settings.instances_dir / created["id"])
    assert len(pids) == 1
    port = int(inst["port"])
    service.delete_instance(created["id"])

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (engine_pids(service.parts.settings.instances_dir) & pids):
        time.sleep(0.1)
    assert not engine_pids(service.parts.settings.instances_dir) & pids
    assert port_free(port)
    assert not (service.parts.settings.instances_dir / created["id"]).exists()
    with service.client() as c:
        assert c.get(service.path("/instances"), params={"id": created["id"]}).json()["total_count"] == 0


def test_anonymous_access_is_refused(service: Service) -> None:
    from pymongo import MongoClient

    created = service.create_instance("anon-check", mode="Single")
    assert service.wait_job(created["job_id"])["status"] == "Completed"
    inst = service.instance(created["id"])
    assert inst["groups"][0]["type"] == "single"
    with (
        MongoClient(
            f"mongodb://127.0.0.1:{inst['port']}/?directConnection=true", serverSelectionTimeoutMS=3000
        ) as anon,
        pytest.raises(OperationFailure) as err,
    ):
        anon.db.c.find_one()
    assert err.value.code == 13  # Unauthorized
    service.delete_instance(created["id"])


def test_operations_on_a_running_instance(service: Service) -> None:
    created = service.create_instance("ops-1")
    iid = created["id"]
    assert service.wait_job(created["job_id"])["status"] == "Completed"
    inst = service.instance(iid)
    with connect(inst, PASSWORD) as client:
        client.app.items.insert_many([{"n": i} for i in range(50)])

    with service.client() as c:
        assert (
            c.put(service.path(f"/instances/{iid}/modify-name"), json={"new_instance_name": "ops-renamed"}).json() == {}
        )
        assert c.put(service.path(f"/instances/{iid}/remark"), json={"remark": "for tests"}).json() == {}
        r = c.post(service.path(f"/instances/{iid}/restart"), json={"target_id": iid})
        assert r.status_code == 202
        assert service.wait_job(r.json()["job_id"])["status"] == "Completed"

        new_port = int(service.parts.settings.port_bounds[1])
        r = c.post(service.path(f"/instances/{iid}/modify-port"), json={"port": new_port})
        assert r.status_code == 200, r.text
        assert r.json()["port"] == new_port
        assert service.wait_job(r.json()["job_id"])["status"] == "Completed"

        r = c.put(service.path(f"/instances/{iid}/reset-password"), json={"user_pwd": "Other#Pass_22"})
        assert r.status_code == 200, r.text

        r = c.post(
            service.path(f"/instances/{iid}/resize"),
            json={"resize": {"target_id": iid, "target_spec_code": "dds.mongodb.s2.large.4.repset"}},
        )
        assert r.status_code == 202, r.text
        assert service.wait_job(r.json()["job_id"])["status"] == "Completed"

        usage = c.get(service.path(f"/instances/{iid}/disk-usage")).json()["volumes"][0]
        assert usage["size"] == "10" and usage["used_bytes"] > 0

        tasks = c.get(f"/v3.1/{service.project_id}/jobs", params={"limit": 100}).json()
        names = {j["name"] for j in tasks["jobs"] if j["instance_id"] == iid}
        assert {"CreateMongoDB", "RestartInstance", "ModifyPort", "ResizeInstance"} <= names

    inst = service.instance(iid)
    assert inst["name"] == "ops-renamed" and inst["remark"] == "for tests"
    assert inst["port"] == str(new_port)
    assert inst["groups"][0]["nodes"][0]["spec_code"] == "dds.mongodb.s2.large.4.repset"
    with connect(inst, "Other#Pass_22") as client:
        assert client.app.items.count_documents({}) == 50  # data survived restart, port move and resize
    with connect(inst, PASSWORD) as old, pytest.raises(OperationFailure):
        old.app.items.find_one()
    service.delete_instance(iid)


def test_listing_pages_and_counts(service: Service) -> None:
    made = [service.create_instance(f"page-{i}", mode="Single") for i in range(2)]
    for m in made:
        assert service.wait_job(m["job_id"])["status"] == "Completed"
    with service.client() as c:
        full = c.get(service.path("/instances")).json()
        assert full["total_count"] == len(full["instances"]) >= 2
        first = c.get(service.path("/instances"), params={"limit": 1}).json()
        second = c.get(service.path("/instances"), params={"limit": 1, "offset": 1}).json()
        assert len(first["instances"]) == len(second["instances"]) == 1
        assert first["total_count"] == second["total_count"] == full["total_count"]
        assert first["instances"][0]["id"] != second["instances"][0]["id"]
        named = c.get(service.path("/instances"), params={"name": "page-1", "mode": "Single"}).json()
        assert [i["id"] for i in named["instances"]] == [made[1]["id"]] and named["total_count"] == 1
    for m in made:
        service.delete_instance(m["id"])
