"""Point-in-time recovery of a replica set on PostgreSQL storage, through the API: a real WAL
archiver (`pg_receivewal` following the primary), a real base backup, real recoveries by
PostgreSQL to a time, across a switchover (a new timeline). Restores to a new replica set
(physical) and onto the original (through the wire), each checked document by document; the
archive in S3 and its archiver killed. The flow every storage shares (listing what existed at a
time, collections back under new names, users as of a time) is tests/api/test_pitr.py's."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from tests.backup_helpers import backup
from tests.conftest import PASSWORD, Service
from tests.helpers import connect, instance_body, process_pids
from tests.pitr_support import POLICY, mark, now_ms, ranges_on, s3_keys

DAY_MS = 86_400_000


def state(inst: dict[str, Any]) -> dict[str, Any]:
    with connect(inst, PASSWORD, timeout_ms=20000) as client:
        out: dict[str, Any] = {}
        for db in sorted(set(client.list_database_names()) - {"admin", "local", "config"}):
            for coll in sorted(client[db].list_collection_names()):
                out[f"{db}.{coll}"] = sorted((d["_id"], d.get("v")) for d in client[db][coll].find())
        return out


def _restore_new(svc: Service, name: str, source_id: str, at: int) -> dict[str, Any]:
    body = {
        **instance_body(name, PASSWORD),
        "restore_point": {"instance_id": source_id, "type": "timestamp", "restore_time": str(at)},
    }
    with svc.client() as c:
        r = c.post(svc.path("/instances"), json=body)
    assert r.status_code == 202, r.text
    job = svc.wait_job(r.json()["job_id"], timeout=600)
    assert job["status"] == "Completed", job
    return svc.instance(r.json()["id"])


def test_point_in_time_restores_of_a_replica_set_on_postgresql(pg_service: Service) -> None:
    svc = pg_service
    created = svc.create_instance("pitr-pg", mode="ReplicaSet")
    assert svc.wait_job(created["job_id"], timeout=600)["status"] == "Completed"
    iid = created["id"]
    inst = svc.instance(iid)
    prefix = svc.path("")
    with svc.client() as c:
        r = c.put(
            svc.path(f"/instances/{iid}/backups/policy"),
            json={"backup_policy": {**POLICY, "enable_incremental_backup": True}},
        )
        assert r.status_code == 200, r.text
    root = svc.server.parts.settings.data_dir
    assert len(process_pids(root, "dds.walarchive")) == 1, "one WAL archiver runs"

    with connect(inst, PASSWORD, timeout_ms=20000) as client, svc.client() as api:
        client.app.c.insert_many([{"_id": i, "v": 0} for i in range(50)])
        before_backup = now_ms()
        # Nothing is restorable before a base backup taken while the archive runs.
        assert not [r for r in ranges_on(api, prefix, iid, before_backup) if r["start_time"] <= before_backup]
        backup(svc, iid, "pitr-pg-base")
        m1 = mark(api, prefix, iid)
        client.app.c.update_many({"_id": {"$lt": 10}}, {"$set": {"v": 1}})
        client.app.c.delete_many({"_id": {"$gte": 40}})
        client.other.things.insert_one({"_id": "t", "v": 3})
        m2 = mark(api, prefix, iid)
    # A switchover: the primary moves and the WAL goes on on a new timeline.
    with svc.client() as c:
        r = c.post(svc.path(f"/instances/{iid}/switchover"), json={})
        assert r.status_code in (200, 202), r.text
        assert svc.wait_job(r.json()["job_id"], timeout=300)["status"] == "Completed"
    with connect(inst, PASSWORD, timeout_ms=20000) as client, svc.client() as api:
        client.drop_database("other")
        client.app.c.insert_one({"_id": 100, "v": 4})
        m3 = mark(api, prefix, iid)
    state_m1 = {"app.c": [(i, 0) for i in range(50)]}
    state_m2 = {
        "app.c": sorted([(i, 1) for i in range(10)] + [(i, 0) for i in range(10, 40)]),
        "other.things": [("t", 3)],
    }
    state_m3 = {"app.c": sorted(state_m2["app.c"] + [(100, 4)])}
    assert state(inst) == state_m3

    with svc.client() as c:
        day = ranges_on(c, prefix, iid, m3)
        assert any(r["start_time"] <= m1 and m3 <= r["end_time"] for r in day), day
        refused = c.post(
            svc.path("/instances"),
            json={
                **instance_body("pitr-pg-early", PASSWORD),
                "restore_point": {"instance_id": iid, "type": "timestamp", "restore_time": str(before_backup - 1)},
            },
        )
        assert refused.status_code == 400 and refused.json()["error_code"] == "DBS.200001", refused.text
        future = c.post(
            svc.path("/instances"),
            json={
                **instance_body("pitr-pg-future", PASSWORD),
                "restore_point": {"instance_id": iid, "type": "timestamp", "restore_time": str(now_ms() + DAY_MS)},
            },
        )
        assert future.status_code == 400 and future.json()["error_code"] == "DBS.200001", future.text

    # A new replica set on PostgreSQL storage as of m3, after the switchover: the base backup
    # (taken on the first timeline) recovered physically along the new one.
    restored = _restore_new(svc, "pitr-pg-m3", iid, m3)
    assert len([n for g in restored["groups"] for n in g["nodes"]]) == 3
    assert state(restored) == state_m3
    svc.delete_instance(restored["id"])

    # The original instance back to m2 and then to m1, in place (recovered by a server of its own,
    # loaded through the wire); the tenant's password still works.
    for at, expected in ((m2, state_m2), (m1, state_m1)):
        with svc.client() as c:
            r = c.post(
                svc.path("/instances/recovery"),
                json={
                    "source": {"instance_id": iid, "type": "timestamp", "restore_time": str(at)},
                    "target": {"instance_id": iid},
                },
            )
            assert r.status_code == 200, r.text
            assert svc.wait_job(r.json()["job_id"], timeout=600)["status"] == "Completed"
        assert state(svc.instance(iid)) == expected
    svc.delete_instance(iid)
    with svc.client() as c:
        gone = c.get(svc.path(f"/instances/{iid}/restore-time"), params={"date": "2026-01-01"})
    assert gone.status_code == 404, gone.text
    assert not process_pids(root, "dds.walarchive"), "the archiver stopped with the instance"


def test_the_wal_archive_in_s3_goes_on_after_its_archiver_is_killed(
    make_service: Any, s3_server: dict[str, str]
) -> None:
    svc = make_service(**s3_server, replica_set_storage="postgresql")
    created = svc.create_instance("pitr-pg-s3", mode="ReplicaSet")
    assert svc.wait_job(created["job_id"], timeout=600)["status"] == "Completed"
    iid, prefix = created["id"], svc.path("")
    under = svc.server.parts.settings.instances_dir / iid
    with connect(svc.instance(iid), PASSWORD, timeout_ms=20000) as client, svc.client() as c:
        on = {"backup_policy": {**POLICY, "enable_incremental_backup": True}}
        assert c.put(f"{prefix}/instances/{iid}/backups/policy", json=on).status_code == 200
        client.s3db.items.insert_many([{"_id": i} for i in range(30)])
        backup(svc, iid, "pitr-pg-s3-base")
        # kill -9 of the archiver: its receiver goes with it, the supervisor starts both again and
        # the archive goes on from where the receiver's spool ended, in the same range.
        archivers = process_pids(under, "dds.walarchive")
        assert len(archivers) == 1 and len(process_pids(under, "pg_receivewal")) == 1
        os.kill(next(iter(archivers)), signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process_pids(under, "dds.walarchive") in (set(), archivers):
            time.sleep(0.1)
        assert process_pids(under, "dds.walarchive") - archivers, "the archiver was not started again"
        client.s3db.items.insert_many([{"_id": i} for i in range(30, 40)])
        at = mark(c, prefix, iid)
        deadline = time.monotonic() + 10
        while len(process_pids(under, "pg_receivewal")) != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(process_pids(under, "pg_receivewal")) == 1, "one receiver, not the killed one's beside it"
        client.s3db.items.delete_many({})
        r = c.post(
            f"{prefix}/instances",
            json={
                **instance_body("pitr-pg-s3-new", PASSWORD),
                "restore_point": {"instance_id": iid, "type": "timestamp", "restore_time": str(at)},
            },
        )
        assert r.status_code == 202, r.text
        assert svc.wait_job(r.json()["job_id"], timeout=600)["status"] == "Completed"
        with connect(svc.instance(r.json()["id"]), PASSWORD, timeout_ms=20000) as restored:
            assert restored.s3db.items.count_documents({}) == 40
    keys = s3_keys(s3_server, f"pitr/{iid}/wal/")
    assert f"pitr/{iid}/wal/coverage.json" in keys and any("/partial/" in k or "/files/" in k for k in keys), keys
    svc.delete_instance(r.json()["id"])
    svc.delete_instance(iid)
    assert not s3_keys(s3_server, f"pitr/{iid}/")
