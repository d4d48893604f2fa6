"""Point-in-time recovery through the API: a real engine, a real archiver (Litestream) process per
node, the local store; restores to new instances at several marks, onto the original, and of
single collections, each checked document by document. The main flow runs on both storages of
replica sets (on PostgreSQL: the WAL archiver and base backups)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.backup_helpers import backup
from tests.conftest import PASSWORD, Service
from tests.helpers import ServiceProcess, connect, instance_body, logs_in, process_pids, wait_job
from tests.pitr_support import POLICY, covered, mark, now_ms, s3_keys, wait_covered

USER_PW = "Early#Pass_2024"


def archiver_pids(under: Path) -> set[int]:
    """Live archiver processes (their heartbeat child, `dds.archiver.heartbeat`, aside)."""
    return process_pids(under, "dds.archiver\x00--data-dir")


def state(inst: dict[str, Any]) -> dict[str, Any]:
    with connect(inst, PASSWORD) as client:
        out: dict[str, Any] = {}
        for db in sorted(set(client.list_database_names()) - {"admin", "local", "config"}):
            for coll in sorted(client[db].list_collection_names()):
                out[f"{db}.{coll}"] = sorted((d["_id"], d.get("v")) for d in client[db][coll].find())
        return out


def _archived(service: Service, name: str) -> tuple[str, int]:
    """A replica set with incremental backup on; and when archiving began."""
    created = service.create_instance(name, mode="ReplicaSet")
    assert service.wait_job(created["job_id"], timeout=600)["status"] == "Completed"
    iid = created["id"]
    before = now_ms()
    with service.client() as c:
        r = c.put(
            service.path(f"/instances/{iid}/backups/policy"),
            json={"backup_policy": {**POLICY, "enable_incremental_backup": True}},
        )
        assert r.status_code == 200, r.text
        policy = c.get(service.path(f"/instances/{iid}/backups/policy")).json()["backup_policy"]
        assert policy["enable_incremental_backup"] is True
    return iid, before


@pytest.fixture(scope="module")
def source(service: Service) -> Any:
    iid, before = _archived(service, "pitr-src")
    yield iid, before
    service.delete_instance(iid)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def on_storage(request: pytest.FixtureRequest) -> Iterator[tuple[Service, str, int]]:
    """A replica set with incremental backup on and a backup taken since (on PostgreSQL a restore
    as of a time starts from one), on each storage of replica sets."""
    service: Service = request.getfixturevalue("service" if request.param == "sqlite" else "pg_service")
    iid, before = _archived(service, f"pitr-{request.param}")
    backup(service, iid, f"pitr-{request.param}-base")
    yield service, iid, before
    service.delete_instance(iid)


def test_point_in_time_restores_hold_exactly_the_writes_up_to_each_mark(on_storage: Any) -> None:
    service, iid, before_archiving = on_storage
    inst = service.instance(iid)
    prefix = service.path("")
    with connect(inst, PASSWORD) as client, service.client() as api:
        client.app.c.insert_many([{"_id": i, "v": 0} for i in range(50)])
        client.app.c.create_index("v", name="v_1")
        m1 = mark(api, prefix, iid)
        client.app.command("createUser", "early", pwd=USER_PW, roles=[{"role": "read", "db": "app"}])
        client.app.c.update_many({"_id": {"$lt": 10}}, {"$set": {"v": 1}})
        client.app.c.delete_many({"_id": {"$gte": 40}})
        client.app.extra.insert_one({"_id": "e", "v": 2})
        client.other.things.insert_one({"_id": "t", "v": 3})
        m2 = mark(api, prefix, iid)
        client.app.command("createUser", "late", pwd=USER_PW, roles=[{"role": "readWrite", "db": "app"}])
        client.app.command("revokeRolesFromUser", "early", roles=[{"role": "read", "db": "app"}])  # after m2
        client.app.drop_collection("extra")
        client.drop_database("other")
        client.app.c.insert_one({"_id": 100, "v": 4})
        m3 = mark(api, prefix, iid)
    state_m1 = {"app.c": [(i, 0) for i in range(50)]}
    state_m2 = {
        "app.c": sorted([(i, 1) for i in range(10)] + [(i, 0) for i in range(10, 40)]),
        "app.extra": [("e", 2)],
        "other.things": [("t", 3)],
    }
    state_m3 = {"app.c": sorted(state_m2["app.c"] + [(100, 4)])}
    assert state(inst) == state_m3

    with service.client() as c:
        wait_covered(c, prefix, iid, m3)
        # What existed at each mark.
        dbs = lambda at: c.get(service.path(f"/instances/{iid}/restore-database"), params={"restore_time": str(at)})  # noqa: E731
        assert dbs(m1).json() == {"databases": ["app"], "total_count": 1}
        assert dbs(m2).json() == {"databases": ["app", "other"], "total_count": 2}
        colls = c.get(
            service.path(f"/instances/{iid}/restore-collection"), params={"db_name": "app", "restore_time": str(m2)}
        )
        assert colls.json() == {"collections": ["c", "extra"], "total_count": 2}, colls.text
        # A time before archiving started is refused before any job starts.
        r = dbs(before_archiving - 60_000)
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.200001", r.text

        # Restores to new instances at each mark hold exactly the writes up to it.
        for at, expected in ((m1, state_m1), (m2, state_m2)):
            body = {
                **instance_body(f"pitr-new-{at % 1000}", PASSWORD),
                "restore_point": {"instance_id": iid, "type": "timestamp", "restore_time": str(at)},
            }
            r = c.post(service.path("/instances"), json=body)
            assert r.status_code == 202, r.text
            assert service.wait_job(r.json()["job_id"], timeout=600)["status"] == "Completed"
            restored = service.instance(r.json()["id"])
            assert state(restored) == expected
            with connect(restored, PASSWORD) as client:
                assert "v_1" in client.app.c.index_information()
            # The users of that moment, with the grants they held then (early's read was revoked since).
            assert logs_in(restored, "early", USER_PW, auth_db="app") is (at == m2)
            assert not logs_in(restored, "late", USER_PW, auth_db="app")
            if at == m2:
                with connect(restored, USER_PW, user="early", auth_db="app") as client:
                    assert client.app.c.count_documents({}) == 40
            service.delete_instance(restored["id"])

        # A dropped collection comes back under a new name; nothing else changes.
        r = c.post(
            service.path(f"/instances/{iid}/restore/collections"),
            json={
                "restore_collections": [
                    {
                        "database": "app",
                        "collections": [
                            {"old_name": "extra", "new_name": "extra_back", "restore_collection_time": str(m2)}
                        ],
                    },
                    {"database": "app", "restore_database_time": str(m1), "collections": [{"old_name": "c"}]},
                ]
            },
        )
        assert r.status_code == 200, r.text
        assert service.wait_job(r.json()["job_id"])["status"] == "Completed"
        after = state(service.instance(iid))
        assert after == {**state_m3, "app.extra_back": [("e", 2)], f"app.c_bak_{m1}": state_m1["app.c"]}
        # Never over an existing collection.
        r = c.post(
            service.path(f"/instances/{iid}/restore/collections"),
            json={
                "restore_collections": [
                    {
                        "database": "app",
                        "restore_database_time": str(m1),
                        "collections": [{"old_name": "c", "new_name": "extra_back"}],
                    }
                ]
            },
        )
        assert r.status_code == 400, r.text

        # The whole instance back to m1, in place; the tenant's password still works.
        r = c.post(
            service.path("/instances/recovery"),
            json={
                "source": {"instance_id": iid, "type": "timestamp", "restore_time": str(m1)},
                "target": {"instance_id": iid},
            },
        )
        assert r.status_code == 200, r.text
        assert service.wait_job(r.json()["job_id"])["status"] == "Completed"
        assert state(service.instance(iid)) == state_m1


def test_a_killed_archiver_is_started_again_and_ranges_go_on(service: Service, source: Any) -> None:
    iid, _ = source
    under = service.parts.settings.instances_dir / iid
    archivers = archiver_pids(under)
    assert len(archivers) == 1
    os.kill(next(iter(archivers)), signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = archiver_pids(under)
        if now and now != archivers:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the archiver was not started again")
    deadline = time.monotonic() + 10  # the killed archiver's Litestream does not live on beside the new one
    while len(process_pids(under, "litestream")) != 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(process_pids(under, "litestream")) == 1
    with connect(service.instance(iid), PASSWORD) as client, service.client() as c:
        client.app.after.insert_one({"_id": 1})
        wait_covered(c, service.path(""), iid, mark(c, service.path(""), iid))


def test_turning_incremental_backup_off_stops_the_archiver(service: Service) -> None:
    created = service.create_instance("pitr-off")
    assert service.wait_job(created["job_id"])["status"] == "Completed"
    iid = created["id"]
    under = service.parts.settings.instances_dir / iid
    with service.client() as c:
        on = {"backup_policy": {**POLICY, "enable_incremental_backup": True}}
        assert c.put(service.path(f"/instances/{iid}/backups/policy"), json=on).status_code == 200
        assert len(archiver_pids(under)) == 1
        off = {"backup_policy": {"keep_days": "0"}}
        assert c.put(service.path(f"/instances/{iid}/backups/policy"), json=off).status_code == 200
        assert archiver_pids(under) == set()
        assert (
            c.get(service.path(f"/instances/{iid}/backups/policy")).json()["backup_policy"]["enable_incremental_backup"]
            is False
        )
        # Incremental backup needs automated backups.
        r = c.put(
            service.path(f"/instances/{iid}/backups/policy"),
            json={"backup_policy": {"enable_incremental_backup": True}},
        )
        assert r.status_code == 400, r.text
    service.delete_instance(iid)


def test_a_period_with_archiving_off_is_a_gap_and_refused(service: Service) -> None:
    created = service.create_instance("pitr-gap")
    assert service.wait_job(created["job_id"])["status"] == "Completed"
    iid, prefix = created["id"], service.path("")
    on = {"backup_policy": {**POLICY, "enable_incremental_backup": True}}
    off = {"backup_policy": {**POLICY, "enable_incremental_backup": False}}
    with connect(service.instance(iid), PASSWORD) as client, service.client() as c:
        assert c.put(f"{prefix}/instances/{iid}/backups/policy", json=on).status_code == 200
        client.app.c.insert_one({"_id": 1})
        before = mark(c, prefix, iid)
        assert c.put(f"{prefix}/instances/{iid}/backups/policy", json=off).status_code == 200
        client.app.c.insert_one({"_id": 2})
        time.sleep(1.0)
        dark = now_ms()  # archiving is off: nothing of this moment is captured
        time.sleep(1.0)
        client.app.c.insert_one({"_id": 3})
        assert c.put(f"{prefix}/instances/{iid}/backups/policy", json=on).status_code == 200
        after = mark(c, prefix, iid)
        assert covered(c, prefix, iid, before, timeout=1) and covered(c, prefix, iid, after, timeout=1)
        assert not covered(c, prefix, iid, dark, timeout=1)
        body = {
            **instance_body("pitr-in-gap", PASSWORD),
            "restore_point": {"instance_id": iid, "type": "timestamp", "restore_time": str(dark)},
        }
        r = c.post(f"{prefix}/instances", json=body)
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.200001", r.text
        assert c.get(f"{prefix}/instances", params={"name": "pitr-in-gap"}).json()["total_count"] == 0
    service.delete_instance(iid)
    assert not (service.parts.settings.backup_store_dir / "pitr" / iid).exists()  # the archive went with it


def test_point_in_time_with_the_s3_store(make_service: Any, s3_server: dict[str, str]) -> None:
    svc = make_service(**s3_server)
    created = svc.create_instance("pitr-s3")
    assert svc.wait_job(created["job_id"])["status"] == "Completed"
    iid, prefix = created["id"], svc.path("")
    with connect(svc.instance(iid), PASSWORD) as client, svc.client() as c:
        on = {"backup_policy": {**POLICY, "enable_incremental_backup": True}}
        assert c.put(f"{prefix}/instances/{iid}/backups/policy", json=on).status_code == 200
        client.s3db.items.insert_many([{"_id": i} for i in range(30)])
        at = mark(c, prefix, iid)
        client.s3db.items.delete_many({})
        body = {
            **instance_body("pitr-s3-new", PASSWORD),
            "restore_point": {"instance_id": iid, "type": "timestamp", "restore_time": str(at)},
        }
        r = c.post(f"{prefix}/instances", json=body)
        assert r.status_code == 202, r.text
        assert svc.wait_job(r.json()["job_id"])["status"] == "Completed"
        with connect(svc.instance(r.json()["id"]), PASSWORD) as restored:
            assert restored.s3db.items.count_documents({}) == 30
    keys = s3_keys(s3_server, f"pitr/{iid}/")
    assert any("/dbs/s3db/" in k for k in keys), keys
    svc.delete_instance(r.json()["id"])
    svc.delete_instance(iid)
    assert not s3_keys(s3_server, f"pitr/{iid}/")


@pytest.mark.parametrize("delay", [0.3, 1.2])
def test_service_killed_mid_point_in_time_recovery_ends_cleanly(tmp_path: Path, delay: float) -> None:
    """kill -9 of the service while a restore onto the original runs: after a restart the job ends,
    never half-applied: either Completed with the state as of the mark, or Failed with the
    instance exactly as before."""
    svc = ServiceProcess(tmp_path)
    svc.start()
    try:
        prefix = f"/v3/{svc.project()}"
        with httpx.Client(base_url=svc.url, headers={"X-Auth-Token": "dds-dev-token"}, timeout=60) as c:
            r = c.post(f"{prefix}/instances", json=instance_body("pitr-crash", PASSWORD))
            assert r.status_code == 202, r.text
            iid = r.json()["id"]
            assert (
                wait_job(httpx.Client(base_url=svc.url + prefix, headers=c.headers), r.json()["job_id"])["status"]
                == "Completed"
            )
            on = {"backup_policy": {**POLICY, "enable_incremental_backup": True}}
            assert c.put(f"{prefix}/instances/{iid}/backups/policy", json=on).status_code == 200
            inst = c.get(f"{prefix}/instances", params={"id": iid}).json()["instances"][0]
            with connect(inst, PASSWORD) as client:
                client.app.c.insert_many([{"_id": i} for i in range(100)])
                at = mark(c, prefix, iid)
                client.app.c.insert_many([{"_id": i} for i in range(100, 150)])
            body = {
                "source": {"instance_id": iid, "type": "timestamp", "restore_time": str(at)},
                "target": {"instance_id": iid},
            }
            r = c.post(f"{prefix}/instances/recovery", json=body)
            assert r.status_code == 200, r.text
            job_id = r.json()["job_id"]
            time.sleep(delay)
            svc.kill9()
            svc.start()
            with httpx.Client(base_url=svc.url + prefix, headers=c.headers, timeout=60) as api:
                job = wait_job(api, job_id)
            inst = c.get(f"{prefix}/instances", params={"id": iid}).json()["instances"][0]
            assert inst["status"] == "normal", inst
            with connect(inst, PASSWORD) as client:
                count = client.app.c.count_documents({})
            assert (job["status"], count) in (("Completed", 100), ("Failed", 150)), (job, count)
    finally:
        svc.stop()
