"""Backups across storages: taken on SQLite storage (earlier releases, or before
`DDS_REPLICA_SET_STORAGE=postgresql` was set) they restore into PostgreSQL-backed replica sets, a
new instance and onto an existing one; taken on PostgreSQL storage they round-trip through S3."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests import conftest
from tests.backup_helpers import (
    backup,
    check_manifest,
    download_body,
    ready_instance,
    recover,
    restore_new,
    seed,
    snapshot,
    tenant,
    wait_export,
)

pytestmark = pytest.mark.skipif(shutil.which("pg_autoctl") is None, reason="pg_auto_failover is not installed")


def test_a_sqlite_replica_set_backup_restores_into_postgresql(tmp_path_factory: pytest.TempPathFactory) -> None:
    settings = conftest.test_settings(tmp_path_factory.mktemp("dds-storage-change"))
    svc, stop = conftest.run_service(settings)
    try:
        source = ready_instance(svc, "sqlite-rs")
        with tenant(svc, source) as client:
            seed(client, rows=120)
            before = snapshot(client)
        backup_id = backup(svc, source["id"], "sqlite-rs-backup")
    finally:
        stop()
    svc, stop = conftest.run_service(settings.model_copy(update={"replica_set_storage": "postgresql"}))
    try:
        svc.delete_instance(source["id"])  # its manual backup stays, and restores without it
        created = restore_new(svc, backup_id, "pg-from-sqlite", timeout=300)
        target = svc.instance(created["id"])
        root = svc.parts.settings.instances_dir / target["id"]
        members = [d for d in root.iterdir() if (d / "gateway.json").exists()]
        assert len(members) == 3 and all((d / "pg" / "pgdata").is_dir() for d in members)  # on PostgreSQL
        with tenant(svc, target) as client:
            assert snapshot(client) == before  # documents byte for byte, and every index
            client.shop.orders.delete_many({})
            client.other.c.insert_one({"_id": "gone after the restore"})
        recover(svc, source["id"], backup_id, target["id"])
        with tenant(svc, svc.instance(target["id"])) as client:
            assert snapshot(client) == before
        svc.delete_instance(created["id"])
    finally:
        stop()


def test_a_postgresql_backup_round_trips_through_s3(make_service: Any, s3_server: dict[str, str]) -> None:
    """The base backup and its export go into a real S3-compatible server and come back through
    presigned links; the backup restores from there into a new PostgreSQL-backed replica set; a
    deleted one goes to the recycle bin and comes back from it."""
    svc = make_service(replica_set_storage="postgresql", **s3_server)
    source = ready_instance(svc, "pg-s3-src")
    with tenant(svc, source) as client:
        seed(client, rows=80)
        before = snapshot(client)
    backup_id = backup(svc, source["id"], "pg-s3-backup")
    files = wait_export(svc, source["id"], backup_id)
    body = download_body(svc, source["id"], backup_id)
    assert all("X-Amz-Signature" in f["download_link"] for f in body["files"]), body  # presigned by S3
    assert check_manifest(files[f"{backup_id}.mongodump.tar.gz"], backup_id, source["id"])["documents"] >= 80
    created = restore_new(svc, backup_id, "pg-s3-new", timeout=300)
    with tenant(svc, svc.instance(created["id"])) as client:
        assert snapshot(client) == before
    svc.delete_instance(created["id"])

    with svc.client() as api:  # deleted into the recycle bin (a base backup), and back from there
        policy = {"recycle_policy": {"enabled": True, "retention_period_in_days": 3}}
        assert api.put(svc.path("/instances/recycle-policy"), json=policy).status_code == 200
        svc.delete_instance(source["id"])
        entry = api.get(svc.path("/recycle-instances")).json()["instances"][0]
        assert entry["id"] == source["id"] and entry["backup_id"]
    back = restore_new(svc, entry["backup_id"], "pg-s3-recycled", timeout=300)
    with tenant(svc, svc.instance(back["id"])) as client:
        assert snapshot(client) == before
    svc.delete_instance(back["id"])
