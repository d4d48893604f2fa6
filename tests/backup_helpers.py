"""Shared by the backup tests: a varied dataset, exact comparison, backup/restore over HTTP."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import subprocess
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import zstandard
from bson import Binary, Decimal128, Int64, ObjectId
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import ASCENDING, DESCENDING, MongoClient

from tests.conftest import PASSWORD, Service
from tests.helpers import connect

RAW = CodecOptions(document_class=RawBSONDocument)


def seed(client: MongoClient, rows: int = 300) -> None:  # type: ignore[type-arg]
    """Several databases and collections, indexes, and the BSON types the engine supports."""
    base = dt.datetime(2024, 2, 29, 12, 30, 15, 123000)
    orders = [
        {
            "_id": ObjectId(),
            "n": i,
            "big": Int64(2**40 + i),
            "price": i * 1.25,
            "paid": i % 2 == 0,
            "note": None if i % 5 else f"note {i}",
            "at": base + dt.timedelta(minutes=i),
            "blob": Binary(bytes([i % 256, 0, 255]) * 3, 0),
            "uuid": Binary(uuid.UUID(int=i).bytes, 4),
            "customer": {"name": f"c{i % 17}", "address": {"city": "Berlin", "zip": f"{10000 + i}"}},
            "lines": [{"sku": f"s{j}", "qty": j, "tags": ["a", "b"]} for j in range(i % 4)],
            "scores": [i, i + 0.5, "x"],
            "exact": Decimal128(f"{i}.10"),  # engine patch 0018
            "grid": [[i, i + 1], [i + 2]],  # nested arrays (patch 0018)
        }
        for i in range(rows)
    ]
    client.shop.orders.insert_many(orders)
    client.shop.orders.create_index([("customer.name", ASCENDING), ("at", DESCENDING)], name="cust_at")
    client.shop.products.insert_many([{"_id": f"sku-{i}", "sku": i, "title": f"Product {i}"} for i in range(50)])
    client.shop.products.create_index("sku", unique=True, name="sku_unique")
    client.analytics.events.insert_many(
        [{"_id": i, "kind": ["view", "click"][i % 2], "meta": {"ref": f"r{i}"}} for i in range(120)]
    )
    client.analytics.events.create_index("kind", name="kind_1")
    client.analytics.empty.insert_one({"_id": "tmp"})
    client.analytics.empty.delete_one({"_id": "tmp"})  # an empty collection survives too


def snapshot(client: MongoClient) -> dict[str, Any]:  # type: ignore[type-arg]
    """Every tenant collection's documents (raw BSON bytes, by _id) and index specs."""
    out: dict[str, Any] = {}
    for db in sorted(set(client.list_database_names()) - {"local", "config", "admin"}):
        for name in sorted(client[db].list_collection_names()):
            coll = client[db].get_collection(name, codec_options=RAW)
            docs = sorted(coll.find(), key=lambda d: repr(d["_id"]))
            indexes = sorted(
                ({k: v for k, v in ix.items() if k != "ns"} for ix in client[db][name].list_indexes()),
                key=lambda ix: ix["name"],
            )
            out[f"{db}.{name}"] = {"docs": [d.raw for d in docs], "indexes": indexes}
    return out


def ready_instance(svc: Service, name: str, mode: str = "ReplicaSet") -> dict[str, Any]:
    created = svc.create_instance(name, mode=mode)
    job = svc.wait_job(created["job_id"])
    assert job["status"] == "Completed", job
    return svc.instance(created["id"])


def tenant(svc: Service, inst: dict[str, Any]) -> MongoClient:  # type: ignore[type-arg]
    return connect(inst, PASSWORD)


def backup(svc: Service, instance_id: str, name: str, expect: str = "Completed", timeout: float = 180) -> str:
    with svc.client() as c:
        r = c.post(
            svc.path("/backups"),
            json={"backup": {"instance_id": instance_id, "name": name, "description": "test backup"}},
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"job_id", "backup_id"}
    job = svc.wait_job(body["job_id"], timeout=timeout)
    assert job["status"] == expect, job
    return str(body["backup_id"])


def download_body(svc: Service, instance_id: str, backup_id: str) -> dict[str, Any]:
    with svc.client() as c:
        r = c.get(svc.path("/backups/download-file"), params={"instance_id": instance_id, "backup_id": backup_id})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert set(body) == {"files", "bucket"}
    return body


def download(svc: Service, instance_id: str, backup_id: str) -> tuple[dict[str, Any], bytes]:
    """The backup's first file (the physical archive) through its link."""
    body, files = download_all(svc, instance_id, backup_id)
    return body, files[body["files"][0]["name"]]


def download_all(svc: Service, instance_id: str, backup_id: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    body = download_body(svc, instance_id, backup_id)
    out = {}
    for f in body["files"]:
        assert set(f) == {"name", "size", "download_link", "link_expired_time"}
        data = httpx.get(f["download_link"], timeout=60)  # no token: the link is the credential
        assert data.status_code == 200, data.text
        assert int(data.headers["content-length"]) == len(data.content)
        assert f["size"] == (len(data.content) + 1023) // 1024
        out[f["name"]] = data.content
    return body, out


def wait_export(svc: Service, instance_id: str, backup_id: str, timeout: float = 120) -> dict[str, bytes]:
    """Both files once the background export is stored: {name: bytes}."""
    deadline = time.monotonic() + timeout
    while len(download_body(svc, instance_id, backup_id)["files"]) < 2:
        assert time.monotonic() < deadline, "the mongodump-layout export was never listed"
        time.sleep(0.1)
    body, files = download_all(svc, instance_id, backup_id)
    assert [f["name"] for f in body["files"]] == [f"{backup_id}.physical.tar.zst", f"{backup_id}.mongodump.tar.gz"]
    return files


def check_manifest(archive: bytes, backup_id: str, instance_id: str) -> dict[str, Any]:
    """The mongodump-layout archive's files match the manifest's sizes and sha256 sums, and
    nothing is unlisted."""
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]
    manifest = json.loads(members.pop("manifest.json"))
    assert manifest["backup_id"] == backup_id and manifest["instance_id"] == instance_id
    assert manifest["engine"] == "ferretdb" and manifest["engine_version"].startswith("v1.24")
    listed = {f"dump/{f['path']}": f for f in manifest["files"]}
    assert set(listed) == set(members)
    for name, data in members.items():
        assert len(data) == listed[name]["size"]
        assert hashlib.sha256(data).hexdigest() == listed[name]["sha256"]
    return manifest  # type: ignore[no-any-return]


def check_physical(archive: bytes, backup_id: str, instance_id: str) -> dict[str, Any]:
    """The physical archive: a zstd'd tar of engine files, then a manifest that lists each with
    its size and sha256."""
    raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(archive)).read()
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        names = [m.name for m in tar]
        members = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]
    assert names[-1] == "manifest.json"  # written last, once every file's sum is known
    manifest = json.loads(members.pop("manifest.json"))
    assert manifest["format"] == "dds-physical/1" and manifest["compression"] == "zstd"
    assert manifest["backup_id"] == backup_id and manifest["instance_id"] == instance_id
    assert manifest["engine"] == "ferretdb" and manifest["engine_version"].startswith("v1.24")
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(members)
    assert "data/admin.sqlite" in listed and "data/local.sqlite" not in listed
    for name, data in members.items():
        assert len(data) == listed[name]["size"]
        assert hashlib.sha256(data).hexdigest() == listed[name]["sha256"]
        assert data.startswith(b"SQLite format 3\x00")
    return manifest  # type: ignore[no-any-return]


def check_base_backup(archive: bytes, backup_id: str, instance_id: str, into: Path) -> dict[str, Any]:
    """A PostgreSQL storage archive: a zstd'd tar of the member's server directory (a base backup,
    PostgreSQL's `backup_manifest` included), then our manifest listing each file with its size
    and sha256. Unpacked into `into`, PostgreSQL's own `pg_verifybackup` accepts it (WAL too)."""
    raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(archive)).read()
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        names = [m.name for m in tar]
        members = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]
        tar.extractall(into, filter="data")
    assert names[-1] == "manifest.json"
    manifest = json.loads(members.pop("manifest.json"))
    assert manifest["format"] == "dds-physical-postgresql/1" and manifest["compression"] == "zstd"
    assert manifest["backup_id"] == backup_id and manifest["instance_id"] == instance_id
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(members)
    assert {"pgdata/backup_manifest", "pgdata/PG_VERSION", "pgdata/global/pg_control"} <= set(listed)
    assert any(name.startswith("pgdata/pg_wal/0") for name in listed), "the WAL that makes it consistent"
    for name, data in members.items():
        assert len(data) == listed[name]["size"]
        assert hashlib.sha256(data).hexdigest() == listed[name]["sha256"]
    verify = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_verifybackup"))[-1]
    verified = subprocess.run([str(verify), str(into / "pgdata")], capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    return manifest  # type: ignore[no-any-return]


def recover(svc: Service, source_id: str, backup_id: str, target_id: str, expect: str = "Completed") -> dict[str, Any]:
    """`POST /instances/recovery` of a backup onto an existing instance; the job as it ended."""
    with svc.client() as c:
        r = c.post(
            svc.path("/instances/recovery"),
            json={
                "source": {"instance_id": source_id, "type": "backup", "backup_id": backup_id},
                "target": {"instance_id": target_id},
            },
        )
    assert r.status_code == 200, r.text
    job = svc.wait_job(r.json()["job_id"], timeout=180)
    assert job["status"] == expect, job
    assert job["name"] == "MongodbRestoreData2CurrentInstance", job
    return job  # type: ignore[no-any-return]


def restore_new(
    svc: Service, backup_id: str, name: str, expect: str = "Completed", timeout: float = 180
) -> dict[str, Any]:
    body = {
        "name": name,
        "availability_zone": "local-1a",
        "password": PASSWORD,
        "vpc_id": "674e9b42-cd8d-4d25-a2e6-5abcc565b961",
        "subnet_id": "f1df08c5-71d1-406a-aff0-de435a51007b",
        "security_group_id": "7aa51dbf-5b63-40db-9724-dad3c4828b58",
        "restore_point": {"type": "backup", "backup_id": backup_id},
        "flavor": [{"type": "replica", "num": 1, "spec_code": "dds.mongodb.s2.medium.4.repset"}],
        "backup_strategy": {"start_time": "23:00-00:00", "keep_days": "8"},
    }
    with svc.client() as c:
        r = c.post(svc.path("/instances"), json=body)
    assert r.status_code == 202, r.text
    created = r.json()
    assert created["status"] == "creating" and created["mode"] == "ReplicaSet"
    job = svc.wait_job(created["job_id"], timeout=timeout)
    assert job["status"] == expect, job
    assert job["name"] == "MongodbRestoreData2NewInstance", job
    return created  # type: ignore[no-any-return]
