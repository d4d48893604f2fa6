"""Manual backup -> download link -> checksums -> restore, through real HTTP and real engines, on
both storages of a replica set: SQLite (the default) and PostgreSQL (`DDS_REPLICA_SET_STORAGE`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from dds.db.backups import Backup
from dds.db.models import Project
from tests.backup_helpers import (
    backup,
    check_base_backup,
    check_manifest,
    check_physical,
    download,
    ready_instance,
    recover,
    restore_new,
    seed,
    snapshot,
    tenant,
    wait_export,
)
from tests.conftest import Service


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(request: pytest.FixtureRequest, service: Service) -> Iterator[Service]:
    """The shared service (replica sets on SQLite), then one whose replica sets are on PostgreSQL."""
    yield service if request.param == "sqlite" else request.getfixturevalue("pg_service")


def on_postgresql(svc: Service) -> bool:
    return svc.parts.settings.replica_set_storage == "postgresql"


@pytest.fixture(scope="module")
def source(service: Service) -> Iterator[dict[str, Any]]:
    inst = ready_instance(service, "bk-source")
    with tenant(service, inst) as client:
        seed(client)
    yield inst
    service.delete_instance(inst["id"])


def _check_archive(svc: Service, archive: bytes, backup_id: str, instance_id: str, into: Path) -> dict[str, Any]:
    """The physical archive of the storage the replica set is on."""
    if on_postgresql(svc):
        return check_base_backup(archive, backup_id, instance_id, into)
    manifest = check_physical(archive, backup_id, instance_id)
    assert {"data/shop.sqlite", "data/analytics.sqlite"} <= {f["path"] for f in manifest["files"]}
    return manifest


def test_round_trip_local_store(service: Service, source: dict[str, Any], tmp_path: Path) -> None:
    with tenant(service, source) as client:
        before = snapshot(client)
    assert {"shop.orders", "shop.products", "analytics.events", "analytics.empty"} <= set(before)

    backup_id = backup(service, source["id"], "bk-roundtrip-1")
    assert backup_id.endswith("br02")
    with service.client() as c:
        listed = c.get(service.path("/backups"), params={"backup_id": backup_id}).json()
    assert listed["total_count"] == 1
    row = listed["backups"][0]
    assert row["status"] == "COMPLETED" and row["type"] == "Manual" and row["instance_id"] == source["id"]
    assert row["datastore"] == {"type": "DDS-Community", "version": "4.0"}
    assert row["size"] > 0
    begin = datetime.strptime(row["begin_time"], "%Y-%m-%d %H:%M:%S")
    assert datetime.strptime(row["end_time"], "%Y-%m-%d %H:%M:%S") >= begin

    body, archive = download(service, source["id"], backup_id)
    assert body["files"][0]["name"] == f"{backup_id}.physical.tar.zst"
    assert "/backup-files/" in body["files"][0]["download_link"]
    manifest = _check_archive(service, archive, backup_id, source["id"], tmp_path)
    assert manifest["consistency"] == "snapshot" and manifest["mode"] == "ReplicaSet"
    assert set(manifest["databases"]["shop"]) == {"orders", "products"}
    files = wait_export(service, source["id"], backup_id)  # the portable copy, made in the background
    export = check_manifest(files[f"{backup_id}.mongodump.tar.gz"], backup_id, source["id"])
    assert export["format"] == "dds-backup/1" and export["point_in_time"] == manifest["point_in_time"]
    assert "shop/orders.bson" in {f["path"] for f in export["files"]}

    created = restore_new(service, backup_id, "bk-restored-1")
    restored = service.instance(created["id"])
    assert restored["status"] == "normal" and restored["mode"] == "ReplicaSet"
    with tenant(service, restored) as client:
        after = snapshot(client)
    assert after.keys() == before.keys()
    for ns in before:
        assert after[ns]["indexes"] == before[ns]["indexes"], ns
        assert after[ns]["docs"] == before[ns]["docs"], ns  # byte-identical BSON, value by value
    service.delete_instance(created["id"])


def test_range_request_and_tampering(service: Service, source: dict[str, Any]) -> None:
    backup_id = backup(service, source["id"], "bk-range-1")
    body, archive = download(service, source["id"], backup_id)
    link = body["files"][0]["download_link"]
    part = httpx.get(link, headers={"Range": "bytes=10-99"})
    assert part.status_code == 206
    assert part.content == archive[10:100]
    assert part.headers["content-range"] == f"bytes 10-99/{len(archive)}"
    assert part.headers["content-length"] == "90"
    tail = httpx.get(link, headers={"Range": "bytes=-7"})
    assert tail.status_code == 206 and tail.content == archive[-7:]
    assert httpx.get(link, headers={"Range": f"bytes={len(archive)}-"}).status_code == 416

    flipped = link[:-1] + ("0" if link[-1] != "0" else "1")
    assert httpx.get(flipped).status_code == 403
    later = link.replace("expires=", "expires=9")  # a longer life is a different signature
    assert httpx.get(later).status_code == 403
    other = link.replace(f"/backup-files/{service.project_id}/", "/backup-files/0123456789abcdef0123456789abcdef/")
    refused = httpx.get(other)
    assert refused.status_code == 403 and refused.json()["error_code"] == "DBS.280032"


def test_other_projects_backups_are_invisible(service: Service, source: dict[str, Any]) -> None:
    backup_id = backup(service, source["id"], "bk-private-1")
    rt = service.parts
    with rt.db.session() as s:
        if s.get(Project, "f" * 32) is None:
            s.add(Project(id="f" * 32, name="other-project", created=rt.clock.now()))
        b = s.get(Backup, backup_id)
        assert b is not None
        b.project_id = "f" * 32  # now it belongs to another project
    try:
        with service.client() as c:
            assert c.get(service.path("/backups"), params={"backup_id": backup_id}).json()["total_count"] == 0
            r = c.delete(service.path(f"/backups/{backup_id}"))
            assert r.status_code == 404 and r.json()["error_code"] == "DBS.201204"
            r = c.get(
                service.path("/backups/download-file"), params={"instance_id": source["id"], "backup_id": backup_id}
            )
            assert r.status_code == 404
            r = c.post(
                service.path("/instances/recovery"),
                json={
                    "source": {"instance_id": source["id"], "type": "backup", "backup_id": backup_id},
                    "target": {"instance_id": source["id"]},
                },
            )
            assert r.status_code == 404
    finally:
        with rt.db.session() as s:
            b = s.get(Backup, backup_id)
            assert b is not None
            b.project_id = service.project_id


def test_bad_requests_are_dds_errors(service: Service, source: dict[str, Any]) -> None:
    with service.client() as c:
        r = c.post(service.path("/backups"), json={"backup": {"instance_id": source["id"], "name": "1bad"}})
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.280277"
        r = c.post(
            service.path("/backups"),
            json={"backup": {"instance_id": source["id"], "name": "okname", "description": "a=b"}},
        )
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.280127"
        r = c.post(service.path("/backups"), json={"backup": {"instance_id": "nope", "name": "okname"}})
        assert r.status_code == 404 and r.json()["error_code"] == "DBS.200002"
        r = c.post(service.path("/backups"), json={"backup": "x"})
        assert r.status_code == 400
        r = c.get(service.path("/backups"), params={"begin_time": "2024-01-01 00:00:00"})
        assert r.status_code == 400
        r = c.get(service.path("/backups"), params={"backup_type": "Weekly"})
        assert r.status_code == 400
        r = c.get(service.path("/backups/download-file"), params={"instance_id": source["id"]})
        assert r.status_code == 400
        r = c.put(
            service.path(f"/instances/{source['id']}/backups/policy"),
            json={"backup_policy": {"keep_days": 3, "start_time": "01:00-02:00", "period": "1,2"}},
        )
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.280215"
        r = c.put(service.path(f"/instances/{source['id']}/backups/policy"), json={"backup_policy": {"keep_days": 900}})
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.280214"
        r = c.post(
            service.path("/instances/recovery"),
            json={
                "source": {"instance_id": source["id"], "type": "timestamp", "restore_time": 1},
                "target": {"instance_id": source["id"]},
            },
        )
        # No archive covers 1970: refused before any job (point-in-time restores: tests/api/test_pitr.py).
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.200001"


def test_policy_round_trip(service: Service, source: dict[str, Any]) -> None:
    path = service.path(f"/instances/{source['id']}/backups/policy")
    with service.client() as c:
        r = c.put(path, json={"backup_policy": {"keep_days": "9", "start_time": "23:00-00:00", "period": "5,1,4"}})
        assert r.status_code == 200 and r.json() == {}
        assert c.get(path).json() == {
            "backup_policy": {
                "keep_days": 9,
                "start_time": "23:00-00:00",
                "period": "1,4,5",
                "enable_incremental_backup": False,
            }
        }
        assert c.put(path, json={"backup_policy": {"keep_days": 0}}).status_code == 200
        assert c.get(path).json() == {"backup_policy": {"keep_days": 0, "enable_incremental_backup": False}}


def test_corrupt_archive_fails_restore_and_leaves_target(service: Service, source: dict[str, Any]) -> None:
    target = ready_instance(service, "bk-target-1")
    with tenant(service, target) as client:
        client.keep.me.insert_many([{"_id": i, "v": f"original {i}"} for i in range(20)])
        before = snapshot(client)
    backup_id = backup(service, source["id"], "bk-corrupt-1")
    rt = service.parts
    with rt.db.session() as s:
        key = s.scalars(select(Backup.object_key).where(Backup.id == backup_id)).one()
    path = rt.settings.backup_store_dir / key
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))

    job = recover(service, source["id"], backup_id, target["id"], expect="Failed")
    assert "sha256" in job["fail_reason"], job
    assert service.instance(target["id"])["status"] == "normal"
    with tenant(service, target) as client:
        assert snapshot(client) == before

    restore_new(service, backup_id, "bk-from-corrupt", expect="Failed")
    service.delete_instance(target["id"])


def test_recovery_onto_existing_instance(service: Service, source: dict[str, Any]) -> None:
    with tenant(service, source) as client:
        expected = snapshot(client)
    backup_id = backup(service, source["id"], "bk-recover-1")
    target = ready_instance(service, "bk-target-2")
    with tenant(service, target) as client:
        client.stale.data.insert_one({"_id": "gone after restore"})
    with service.client() as c:
        r = c.post(
            service.path("/instances/recovery"),
            json={
                "source": {"instance_id": source["id"], "type": "backup", "backup_id": backup_id},
                "target": {"instance_id": target["id"]},
            },
        )
    assert r.status_code == 200 and set(r.json()) == {"job_id"}
    job = service.wait_job(r.json()["job_id"], timeout=180)
    assert job["status"] == "Completed", job
    inst = service.instance(target["id"])
    assert inst["status"] == "normal"
    with tenant(service, inst) as client:  # the tenant's own password still works on the target
        assert snapshot(client) == expected
    left = [p.name for p in (service.parts.settings.instances_dir / target["id"]).rglob("*pre-restore*")]
    assert not left, left  # the target's data kept aside during the restore is gone
    service.delete_instance(target["id"])


def test_delete_and_batch_delete(service: Service, source: dict[str, Any]) -> None:
    ids = [backup(service, source["id"], f"bk-del-{i}") for i in range(3)]
    rt = service.parts
    with rt.db.session() as s:
        keys = {b.id: b.object_key for b in s.scalars(select(Backup).where(Backup.id.in_(ids)))}
    with service.client() as c:
        r = c.delete(service.path(f"/backups/{ids[0]}"))
        assert r.status_code == 200 and set(r.json()) == {"job_id"}
        assert service.wait_job(r.json()["job_id"])["status"] == "Completed"
        r = c.request("DELETE", service.path("/instances/backups"), json={"backup_ids": [ids[1], "missing"]})
        assert r.status_code == 404  # all or nothing: ids[1] was not touched
        assert (
            c.get(service.path("/backups"), params={"backup_id": ids[1]}).json()["backups"][0]["status"] == "COMPLETED"
        )
        r = c.request("DELETE", service.path("/instances/backups"), json={"backup_ids": ids[1:]})
        assert r.status_code == 200 and r.json() == {}
        for _ in range(100):
            left = c.get(service.path("/backups"), params={"instance_id": source["id"]}).json()["backups"]
            if not {b["id"] for b in left} & set(ids):
                break
            import time

            time.sleep(0.1)
        assert not {b["id"] for b in left} & set(ids)
    for key in keys.values():
        assert not (rt.settings.backup_store_dir / key).exists()


def test_deleting_instance_keeps_manual_backups(service: Service) -> None:
    inst = ready_instance(service, "bk-shortlived", mode="Single")
    with tenant(service, inst) as client:
        client.a.b.insert_one({"_id": 1, "x": "kept"})
    backup_id = backup(service, inst["id"], "bk-kept-1")
    service.delete_instance(inst["id"])
    with service.client() as c:
        rows = c.get(service.path("/backups"), params={"backup_id": backup_id}).json()["backups"]
    assert rows and rows[0]["status"] == "COMPLETED" and rows[0]["instance_mode"] == "Single"
    files = wait_export(service, inst["id"], backup_id)
    manifest = check_manifest(files[f"{backup_id}.mongodump.tar.gz"], backup_id, inst["id"])
    assert manifest["consistency"] == "snapshot"  # no oplog needed: single nodes get the same guarantee
    assert manifest["documents"] == 1


def test_backup_of_an_empty_instance_restores(service: Service) -> None:
    inst = ready_instance(service, "bk-empty")
    backup_id = backup(service, inst["id"], "bk-empty-1")
    created = restore_new(service, backup_id, "bk-empty-r")
    restored = service.instance(created["id"])
    assert restored["status"] == "normal"
    with tenant(service, restored) as client:
        assert set(client.list_database_names()) - {"admin", "local", "config"} == set()
    service.delete_instance(created["id"])
    service.delete_instance(inst["id"])
