"""Crashes and limits: the service, its engines and its volumes under stress."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from pymongo.errors import OperationFailure, PyMongoError

from tests.conftest import PASSWORD, Service
from tests.helpers import ServiceProcess, connect, engine_pids, instance_body, wait_for, wait_job


def test_service_killed_mid_create_resumes_and_leaks_nothing(tmp_path: Path) -> None:
    svc = ServiceProcess(tmp_path)
    svc.start()
    try:
        project = svc.project()
        headers = {"X-Auth-Token": "dds-dev-token"}
        for attempt in range(1, 4):  # a fast machine may finish the job before the kill: try again
            body = instance_body(f"crash-{attempt}", PASSWORD, version="4.2", series="s6")
            r = httpx.post(f"{svc.url}/v3/{project}/instances", json=body, headers=headers)
            assert r.status_code == 202, r.text
            job_id, iid = r.json()["job_id"], r.json()["id"]
            # Kill the service once the engine process exists but before the job can finish.
            deadline = time.monotonic() + 20
            while not list((tmp_path / "instances" / iid).glob("*/engine.pid")) and time.monotonic() < deadline:
                time.sleep(0.005)
            svc.kill9()
            with sqlite3.connect(tmp_path / "meta.db") as db:
                status = db.execute("select status from jobs where id=?", (job_id,)).fetchone()[0]
            svc.start()
            if status == "Running":
                break
        assert status == "Running"  # the job really was interrupted
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = httpx.get(f"{svc.url}/v3/{project}/jobs", params={"id": job_id}, headers=headers).json()["job"]
            if job["status"] != "Running":
                break
            time.sleep(0.1)
        assert job["status"] in ("Completed", "Failed"), job
        # Every engine running under this data directory is one the metadata knows.
        running = engine_pids(tmp_path)
        assert running == svc.node_pids()
        if job["status"] == "Completed":
            inst = httpx.get(f"{svc.url}/v3/{project}/instances", params={"id": iid}, headers=headers).json()
            with connect(inst["instances"][0], PASSWORD) as client:
                client.t.c.insert_one({"ok": 1})
                assert client.t.c.count_documents({}) == 1
            assert len(engine_pids(tmp_path / "instances" / iid)) == 1
    finally:
        svc.stop()
    assert engine_pids(tmp_path) == set()  # a graceful stop stops every engine


def test_killed_engine_is_restarted_with_its_data(service: Service) -> None:
    created = service.create_instance("phoenix-1")
    assert service.wait_job(created["job_id"])["status"] == "Completed"
    inst = service.instance(created["id"])
    with connect(inst, PASSWORD) as client:
        client.keep.docs.insert_many([{"i": i} for i in range(100)])
    before = engine_pids(service.parts.settings.instances_dir / created["id"])
    assert len(before) == 1
    killed = before.pop()
    os.kill(killed, signal.SIGKILL)

    deadline = time.monotonic() + 30
    after: set[int] = set()
    while time.monotonic() < deadline:
        after = engine_pids(service.parts.settings.instances_dir / created["id"]) - {killed}
        if after and service.instance(created["id"])["status"] == "normal":
            break
        time.sleep(0.1)
    assert after, "engine was not restarted"
    with connect(service.instance(created["id"]), PASSWORD) as client:
        assert client.keep.docs.count_documents({}) == 100
    service.delete_instance(created["id"])


def test_full_volume_refuses_writes_until_enlarged(make_service) -> None:  # type: ignore[no-untyped-def]
    # One "GB" of volume is 1 MiB here, so a 10 GB volume fills with 10 MiB of data.
    svc: Service = make_service(volume_unit_bytes=1024**2)
    created = svc.create_instance("fill-1", size="10")
    iid = created["id"]
    assert svc.wait_job(created["job_id"])["status"] == "Completed"
    blob = "x" * 100_000
    with connect(svc.instance(iid), PASSWORD) as client:
        refused = None
        for i in range(400):  # at most ~40 MB
            try:
                client.big.blobs.insert_one({"i": i, "blob": blob})
            except PyMongoError as exc:
                refused = exc
                break
            if i % 10 == 0 and svc.instance(iid)["status"] == "data_disk_full":
                time.sleep(0.5)  # the engine restarts read-only; the next write must fail
        assert refused is not None, "writes were never refused"
    wait_for(lambda: svc.instance(iid)["status"] == "data_disk_full", 30, "status data_disk_full")
    with connect(svc.instance(iid), PASSWORD) as client:
        assert client.big.blobs.count_documents({}) > 0  # reads still work
        with pytest.raises(OperationFailure):
            client.big.blobs.insert_one({"late": True})

    with svc.client() as c:
        r = c.post(svc.path(f"/instances/{iid}/enlarge-volume"), json={"volume": {"size": 100}})
        assert r.status_code == 202, r.text
        assert svc.wait_job(r.json()["job_id"])["status"] == "Completed"
    inst = svc.instance(iid)
    assert inst["status"] == "normal" and inst["groups"][0]["volume"]["size"] == "100"
    with connect(inst, PASSWORD) as client:
        client.big.blobs.insert_one({"after": "enlarge"})
        assert client.big.blobs.find_one({"after": "enlarge"}) is not None


def _wait_export(api: httpx.Client, instance_id: str, backup_id: str) -> None:
    """A completed backup's export runs in the background on a temporary engine: wait it out."""
    deadline = time.monotonic() + 60
    params = {"instance_id": instance_id, "backup_id": backup_id}
    while len(api.get("/backups/download-file", params=params).json()["files"]) < 2:
        assert time.monotonic() < deadline, "the export never finished"
        time.sleep(0.1)


def test_service_killed_mid_backup_never_leaves_a_false_completed(tmp_path: Path) -> None:
    from tests.backup_helpers import check_physical

    svc = ServiceProcess(tmp_path)
    svc.start()
    headers = {"X-Auth-Token": "dds-dev-token"}
    try:
        project = svc.project()
        api = httpx.Client(base_url=f"{svc.url}/v3/{project}", headers=headers, timeout=60)

        body = instance_body("crash-bk", PASSWORD, mode="Single", series="s6")
        created = api.post("/instances", json=body).json()
        assert wait_job(api, created["job_id"])["status"] == "Completed"
        inst = api.get("/instances", params={"id": created["id"]}).json()["instances"][0]
        with connect(inst, PASSWORD) as client:
            client.big.docs.insert_many([{"i": i, "pad": "y" * 300} for i in range(20000)])

        for attempt in range(1, 4):  # a fast machine may finish the backup before the kill: again
            r = api.post("/backups", json={"backup": {"instance_id": created["id"], "name": f"crash-backup-{attempt}"}})
            assert r.status_code == 200, r.text
            job_id, backup_id = r.json()["job_id"], r.json()["backup_id"]
            staging = tmp_path / "backups" / "staging"
            deadline = time.monotonic() + 30  # kill once the backup job has started its work
            while not (staging / backup_id).exists() and time.monotonic() < deadline:
                time.sleep(0.001)
            svc.kill9()
            with sqlite3.connect(tmp_path / "meta.db") as db:
                status = db.execute("select status from backups where id=?", (backup_id,)).fetchone()[0]
            svc.start()
            assert wait_job(api, job_id)["status"] in ("Completed", "Failed")
            if status == "BUILDING":
                break
        assert status == "BUILDING"  # interrupted before it was whole
        row = api.get("/backups", params={"backup_id": backup_id}).json()["backups"][0]
        assert row["status"] in ("COMPLETED", "FAILED")
        if row["status"] == "COMPLETED":  # resumed and finished: the archive must be whole and true
            files = api.get(
                "/backups/download-file", params={"instance_id": created["id"], "backup_id": backup_id}
            ).json()["files"]
            archive = httpx.get(files[0]["download_link"], timeout=60).content
            manifest = check_physical(archive, backup_id, created["id"])
            assert set(manifest["databases"]["big"]) == {"docs"}
            deadline = time.monotonic() + 60  # its export (a temporary engine) runs in the background
            while (
                time.monotonic() < deadline
                and len(
                    api.get(
                        "/backups/download-file", params={"instance_id": created["id"], "backup_id": backup_id}
                    ).json()["files"]
                )
                < 2
            ):
                time.sleep(0.1)
        assert engine_pids(tmp_path) == svc.node_pids()  # no temporary engine left behind
    finally:
        svc.stop()
    assert engine_pids(tmp_path) == set()


def test_service_killed_mid_restore_to_new_instance_resumes_to_completed(tmp_path: Path) -> None:
    """The resumed load step brings back the new instance's engine, which died with the service's
    restart (reconciliation stops every process a killed predecessor left)."""
    svc = ServiceProcess(tmp_path)
    svc.start()
    headers = {"X-Auth-Token": "dds-dev-token"}
    try:
        project = svc.project()
        api = httpx.Client(base_url=f"{svc.url}/v3/{project}", headers=headers, timeout=60)

        created = api.post("/instances", json=instance_body("crash-src", PASSWORD, mode="Single", series="s6")).json()
        assert wait_job(api, created["job_id"])["status"] == "Completed"
        inst = api.get("/instances", params={"id": created["id"]}).json()["instances"][0]
        with connect(inst, PASSWORD) as client:
            client.big.docs.insert_many([{"i": i, "pad": "z" * 200} for i in range(20000)])
        r = api.post("/backups", json={"backup": {"instance_id": created["id"], "name": "crash-restore"}})
        assert wait_job(api, r.json()["job_id"])["status"] == "Completed"
        _wait_export(api, created["id"], r.json()["backup_id"])

        body = instance_body("crash-dst", PASSWORD, mode="Single", series="s6")
        body["restore_point"] = {"type": "backup", "backup_id": r.json()["backup_id"]}
        restore = api.post("/instances", json=body)
        assert restore.status_code == 202, restore.text
        job_id, target = restore.json()["job_id"], restore.json()["id"]
        deadline = time.monotonic() + 60  # kill inside the load step (steps: fetch, start, init, load, finish)
        step = 0
        while step < 3 and time.monotonic() < deadline:
            with sqlite3.connect(tmp_path / "meta.db") as db:
                step = db.execute("select step from jobs where id=?", (job_id,)).fetchone()[0]
            time.sleep(0.005)
        assert step >= 3, "the restore never reached its load step"  # (a fast machine may be past it)
        svc.kill9()

        svc.start()
        assert wait_job(api, job_id)["status"] == "Completed"
        restored = api.get("/instances", params={"id": target}).json()["instances"][0]
        assert restored["status"] == "normal"
        with connect(restored, PASSWORD) as client:
            assert client.big.docs.count_documents({}) == 20000
        assert engine_pids(tmp_path) == svc.node_pids()
    finally:
        svc.stop()
    assert engine_pids(tmp_path) == set()
