"""The same round trip with the S3 store, against a real S3-compatible server (moto, 127.0.0.1),
for a replica set on each storage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.backup_helpers import (
    backup,
    check_base_backup,
    check_manifest,
    check_physical,
    download,
    ready_instance,
    restore_new,
    seed,
    snapshot,
    tenant,
    wait_export,
)


@pytest.mark.parametrize("storage", ["sqlite", "postgresql"])
def test_round_trip_s3_store(make_service: Any, s3_server: dict[str, str], storage: str, tmp_path: Path) -> None:
    svc = make_service(replica_set_storage=storage, **s3_server)
    inst = ready_instance(svc, "bk-s3-source")
    with tenant(svc, inst) as client:
        seed(client, rows=120)
        before = snapshot(client)
    backup_id = backup(svc, inst["id"], "bk-s3-1")

    s3 = boto3.client(
        "s3",
        endpoint_url=s3_server["s3_endpoint_url"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_server["s3_bucket"]).get("Contents", [])]
    assert f"{svc.project_id}/{inst['id']}/{backup_id}.physical.tar.zst" in keys
    assert not any((svc.parts.settings.backups_dir / "store").rglob("*.tar.*"))  # nothing local

    body, archive = download(svc, inst["id"], backup_id)
    assert body["bucket"] == s3_server["s3_bucket"]
    link = body["files"][0]["download_link"]
    assert link.startswith(s3_server["s3_endpoint_url"]) and "X-Amz-Signature=" in link
    assert "X-Amz-Expires=900" in link
    if storage == "postgresql":
        check_base_backup(archive, backup_id, inst["id"], tmp_path)
    else:
        check_physical(archive, backup_id, inst["id"])
    files = wait_export(svc, inst["id"], backup_id)
    check_manifest(files[f"{backup_id}.mongodump.tar.gz"], backup_id, inst["id"])

    created = restore_new(svc, backup_id, "bk-s3-restored")
    with tenant(svc, svc.instance(created["id"])) as client:
        assert snapshot(client) == before

    with svc.client() as c:
        r = c.delete(svc.path(f"/backups/{backup_id}"))
    assert svc.wait_job(r.json()["job_id"])["status"] == "Completed"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_server["s3_bucket"]).get("Contents", [])]
    assert not [k for k in keys if backup_id in k]  # the physical archive and the export
    for iid in (created["id"], inst["id"]):
        svc.delete_instance(iid)
