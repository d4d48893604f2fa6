"""Physical backups end to end: files back in place with the target's users, both stores,
old mongodump-layout archives, stopping a backup, and the backup download policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import httpx
import pytest
from pymongo import MongoClient

from dds.backup import manifest as manifest_mod
from dds.db.backups import Backup
from dds.store.local import LocalStore
from dds.store.s3 import S3Store
from tests.backup_helpers import (
    backup,
    check_base_backup,
    check_physical,
    download,
    download_body,
    ready_instance,
    recover,
    restore_new,
    seed,
    snapshot,
    tenant,
    wait_export,
)
from tests.conftest import PASSWORD, Service
from tests.helpers import connect, logs_in, wait_for

TARGET_PASSWORD = "Target#Pass_02"


def _reset_password(svc: Service, instance_id: str, password: str) -> None:
    with svc.client() as c:
        r = c.put(svc.path(f"/instances/{instance_id}/reset-password"), json={"user_pwd": password})
    assert r.status_code == 200, r.text


def _every_member_serves(inst: dict[str, Any], doc: dict[str, Any]) -> None:
    """Each member, asked directly, has the write: the standbys started from copies of the
    restored server directory follow the primary (PostgreSQL storage; one node on SQLite)."""
    port = int(inst["port"])
    hosts = [n["private_ip"] for g in inst["groups"] for n in g["nodes"] if n.get("role") != "ReadOnly"]
    for host in hosts:
        url = f"mongodb://rwuser:{quote_plus(PASSWORD)}@{host}:{port}/?authSource=admin&directConnection=true"
        with MongoClient(url, serverSelectionTimeoutMS=5000, readPreference="secondaryPreferred") as client:
            wait_for(lambda c=client: c.shop.orders.find_one(doc) == doc, timeout=30, what=f"the write on {host}")


def _round_trip(svc: Service, tag: str, scratch: Path) -> None:
    """Backup -> restore to a new instance -> recovery onto a third instance with other users."""
    source = ready_instance(svc, f"ph-src-{tag}")
    with tenant(svc, source) as client:
        seed(client, rows=150)
        client.admin.command("createUser", "appuser", pwd="App#Pass_01", roles=[])  # the source's own user
        before = snapshot(client)
    backup_id = backup(svc, source["id"], f"ph-bk-{tag}")
    _, archive = download(svc, source["id"], backup_id)
    if svc.parts.settings.replica_set_storage == "postgresql":
        manifest = check_base_backup(archive, backup_id, source["id"], scratch)
    else:
        manifest = check_physical(archive, backup_id, source["id"])
    assert manifest["point_in_time"]

    created = restore_new(svc, backup_id, f"ph-new-{tag}")
    restored = svc.instance(created["id"])
    assert restored["status"] == "normal"
    with tenant(svc, restored) as client:
        assert snapshot(client) == before  # documents byte for byte, and every index
        client.shop.orders.insert_one({"_id": "written after restore"})  # a writable instance
    _every_member_serves(restored, {"_id": "written after restore"})
    assert logs_in(restored, "appuser", "App#Pass_01")  # the backup's users come back

    target = ready_instance(svc, f"ph-tgt-{tag}")
    _reset_password(svc, target["id"], TARGET_PASSWORD)
    with connect(target, TARGET_PASSWORD) as client:
        client.stale.data.insert_one({"_id": "gone after restore"})
    recover(svc, source["id"], backup_id, target["id"])
    inst = svc.instance(target["id"])
    assert inst["status"] == "normal"
    with connect(inst, TARGET_PASSWORD) as client:  # the target's rwuser password stays
        assert snapshot(client) == before
    assert not logs_in(inst, "rwuser", PASSWORD)  # the source's rwuser password does not open the target
    with svc.client() as c:  # the service still manages it with its own login
        assert c.get(svc.path(f"/instances/{target['id']}/disk-usage")).status_code == 200
    left = [p.name for p in (svc.parts.settings.instances_dir / target["id"]).rglob("*pre-restore*")]
    assert not left, left  # the target's data kept aside during the restore is gone

    with tenant(svc, source) as client:  # recovery onto the original: later changes are undone
        client.shop.orders.delete_many({"n": {"$lt": 50}})
        client.shop.orders.drop_index("cust_at")
        client.later.added.insert_one({"_id": 1})
        client.admin.command("createUser", "lateruser", pwd="Later#Pass_1", roles=[])
    recover(svc, source["id"], backup_id, source["id"])
    with tenant(svc, svc.instance(source["id"])) as client:
        assert snapshot(client) == before
    assert not logs_in(svc.instance(source["id"]), "lateruser", "Later#Pass_1")  # users as of the backup

    for iid in (created["id"], target["id"], source["id"]):
        svc.delete_instance(iid)


STORAGES = ["sqlite", "postgresql"]


@pytest.mark.parametrize("storage", STORAGES)
def test_physical_round_trip_local_store(make_service: Any, storage: str, tmp_path: Path) -> None:
    _round_trip(make_service(replica_set_storage=storage), "local", tmp_path)


@pytest.mark.parametrize("storage", STORAGES)
def test_physical_round_trip_s3_store(
    make_service: Any, s3_server: dict[str, str], storage: str, tmp_path: Path
) -> None:
    svc = make_service(replica_set_storage=storage, **s3_server)
    _round_trip(svc, "s3", tmp_path)


def test_old_mongodump_archive_still_restores(service: Service) -> None:
    """A backup row as the previous releases wrote it (one gzip'd mongodump-layout tar, manifest
    first) goes down the load path; made here from a current backup's export."""
    source = ready_instance(service, "ph-old-src")
    with tenant(service, source) as client:
        seed(client, rows=80)
        before = snapshot(client)
    backup_id = backup(service, source["id"], "ph-old-bk")
    wait_export(service, source["id"], backup_id)
    with service.parts.db.session() as s:
        new = s.get(Backup, backup_id)
        assert new is not None and new.export_key and new.export_size_bytes and new.export_sha256
        old = Backup(
            **{c.name: getattr(new, c.name) for c in Backup.__table__.columns if c.name != "name"},
            name="ph-old-format",
        )
        old.id = backup_id[:-4] + "0ld0"
        old.object_key, old.file_name = new.export_key, f"{old.id}.tar.gz"
        old.size_bytes, old.sha256 = new.export_size_bytes, new.export_sha256
        old.export_key = old.export_file_name = old.export_size_bytes = old.export_sha256 = None
        old.manifest = {"format": manifest_mod.FORMAT}
        s.add(old)
        old_id = old.id
    created = restore_new(service, old_id, "ph-old-new")
    with tenant(service, service.instance(created["id"])) as client:
        assert snapshot(client) == before
    body = download_body(service, source["id"], old_id)
    assert [f["name"] for f in body["files"]] == [f"{old_id}.tar.gz"]  # old backups have their one file
    service.delete_instance(created["id"])


def _store_keys(svc: Service, s3: Any, bucket: str | None) -> list[str]:
    if bucket is None:
        root = svc.parts.settings.backup_store_dir
        return [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return keys + [f"(upload) {u['Key']}" for u in uploads]


def _mode(storage: str) -> str:
    """Single instances are SQLite on either setting: a replica set tries PostgreSQL storage."""
    return "Single" if storage == "sqlite" else "ReplicaSet"


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("store", ["local", "s3"])
def test_stop_backup_leaves_nothing_in_the_store(
    make_service: Any, s3_server: dict[str, str], store: str, storage: str
) -> None:
    bucket = f"dds-stop-{storage}" if store == "s3" else None
    svc = make_service(replica_set_storage=storage, **({**s3_server, "s3_bucket": bucket} if bucket else {}))
    s3 = None
    if bucket:
        s3 = boto3.client(
            "s3",
            endpoint_url=s3_server["s3_endpoint_url"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
    inst = ready_instance(svc, f"ph-stop-{store}", mode=_mode(storage))
    with tenant(svc, inst) as client:
        client.big.docs.insert_many([{"i": i, "pad": "p" * 500} for i in range(3000)])
    kept = backup(svc, inst["id"], f"ph-kept-{store}")  # a completed backup stays untouched
    wait_export(svc, inst["id"], kept)
    keys_before = _store_keys(svc, s3, bucket)

    lock = svc.parts.locks.of(inst["id"])
    with lock:  # the backup job waits at its freeze step until the stop is recorded
        with svc.client() as c:
            r = c.post(svc.path("/backups"), json={"backup": {"instance_id": inst["id"], "name": f"ph-stop-{store}"}})
            assert r.status_code == 200, r.text
            backup_job, backup_id = r.json()["job_id"], r.json()["backup_id"]
            r = c.put(svc.path(f"/backups/{backup_id}"), json={"action": "stopp"})
            assert r.status_code == 400 and r.json()["error_code"] == "DBS.200001"
            r = c.put(svc.path(f"/backups/{backup_id}"), json={"action": "stop"})
            assert r.status_code == 202, r.text
            assert set(r.json()) == {"job_id"}
            stop_job = r.json()["job_id"]
    stopped = svc.wait_job(stop_job)
    assert stopped["status"] == "Completed" and stopped["name"] == "MongodbStopBackup", stopped
    job = svc.wait_job(backup_job)
    assert job["status"] == "Failed" and "stopped" in job["fail_reason"], job
    with svc.client() as c:
        row = c.get(svc.path("/backups"), params={"backup_id": backup_id}).json()["backups"][0]
        assert row["status"] == "FAILED"
        r = c.put(svc.path(f"/backups/{backup_id}"), json={"action": "stop"})  # no longer running
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.201202"
        r = c.put(svc.path(f"/backups/{kept}"), json={"action": "stop"})
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.201202"
        assert c.put(svc.path("/backups/nope"), json={"action": "stop"}).status_code == 404
    assert svc.instance(inst["id"])["status"] == "normal"
    assert _store_keys(svc, s3, bucket) == keys_before  # no half file, no open upload
    assert not any(svc.parts.settings.backup_staging_dir.glob(f"{backup_id}*"))
    svc.delete_instance(inst["id"])


def test_stopped_mid_stream_upload_is_discarded(make_service: Any, s3_server: dict[str, str]) -> None:
    """The stores' writers themselves: an archive interrupted while streaming leaves no object."""
    for overrides in ({}, s3_server):
        svc = make_service(**overrides)
        store = svc.parts.store

        class Interrupted(Exception):
            pass

        with pytest.raises(Interrupted), store.writer("p/i/half.physical.tar.zst") as sink:
            sink.write(b"x" * (20 * 1024**2))  # more than one S3 part
            raise Interrupted
        assert store.size("p/i/half.physical.tar.zst") is None
        with store.writer("p/i/whole.physical.tar.zst") as sink:
            sink.write(b"y" * (17 * 1024**2))
        assert store.size("p/i/whole.physical.tar.zst") == 17 * 1024**2
        if isinstance(store, LocalStore):
            assert [p.name for p in store.local_path("p/i/x").parent.iterdir()] == ["whole.physical.tar.zst"]
        else:
            assert isinstance(store, S3Store)
            assert store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []


def test_download_policy_is_enforced(make_service: Any) -> None:
    svc = make_service()
    inst = ready_instance(svc, "ph-policy", mode="Single")
    backup_id = backup(svc, inst["id"], "ph-policy-bk")
    body = download_body(svc, inst["id"], backup_id)
    link = body["files"][0]["download_link"]
    path = svc.path("/backups/download-policy")
    with svc.client() as c:
        assert c.get(path).json() == {"action": "open"}  # no policy saved: downloads are open
        assert c.put(path, json={"id": "nope", "action": "close"}).status_code == 404
        assert c.post(path, json={"action": "shut"}).json()["error_code"] == "DBS.200001"
        r = c.post(path, json={"action": "close"})
        assert r.status_code == 200 and r.json() == {}
        policy = c.get(path).json()
        assert policy["action"] == "close" and policy["id"]
        r = c.get(svc.path("/backups/download-file"), params={"instance_id": inst["id"], "backup_id": backup_id})
        assert r.status_code == 403 and r.json()["error_code"] == "DBS.280032"
        refused = httpx.get(link)  # a link handed out before the policy closed
        assert refused.status_code == 403 and refused.json()["error_code"] == "DBS.280032"
        assert c.put(path, json={"id": "other", "action": "open"}).status_code == 404
        r = c.put(path, json={"id": policy["id"], "action": "open"})
        assert r.status_code == 200 and r.json() == {}
        assert c.get(path).json() == {"id": policy["id"], "action": "open"}
    assert httpx.get(link).status_code == 200
    download(svc, inst["id"], backup_id)


@pytest.mark.parametrize("storage", STORAGES)
def test_export_job_runs_beside_backups(make_service: Any, storage: str) -> None:
    """The backup is COMPLETED (and restorable) before its export exists; deleting it deletes both."""
    service = make_service(replica_set_storage=storage)
    inst = ready_instance(service, "ph-export", mode=_mode(storage))
    with tenant(service, inst) as client:
        client.a.b.insert_many([{"_id": i} for i in range(10)])
    backup_id = backup(service, inst["id"], "ph-export-bk")
    wait_export(service, inst["id"], backup_id)
    with service.parts.db.session() as s:
        b = s.get(Backup, backup_id)
        assert b is not None
        keys = b.object_keys()
    root = service.parts.settings.backup_store_dir
    assert all((root / k).exists() for k in keys) and len(keys) == 2
    with service.client() as c:
        r = c.delete(service.path(f"/backups/{backup_id}"))
    assert service.wait_job(r.json()["job_id"])["status"] == "Completed"
    assert not any((root / k).exists() for k in keys)
    assert not any(service.parts.settings.backup_staging_dir.glob(f"{backup_id}*"))
    service.delete_instance(inst["id"])
