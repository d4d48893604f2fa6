"""A job resumed after a crash that came between its last commit and the record of its step.

The crash tier hits that window only by chance (a kill timed into a few milliseconds); here the
state such a crash leaves is made exactly — the backup row COMPLETED, the instance still
`backing_up`, the job Running at its step with no owner — and the real worker resumes it.
"""

from __future__ import annotations

import shutil

from sqlalchemy import select

from dds.db.backups import Backup
from dds.db.models import Instance, Job
from dds.domain.jobs import JobName
from dds.domain.states import InstanceStatus, JobStatus
from dds.fleet import layout
from dds.tasks.restore import SNAPSHOT
from tests.conftest import PASSWORD, Service
from tests.helpers import connect


def test_backup_resumed_after_its_commit_completes_without_a_second_snapshot(service: Service) -> None:
    with service.ready_instance("resume-after-commit") as inst:
        with service.client() as c:
            r = c.post(service.path("/backups"), json={"backup": {"instance_id": inst["id"], "name": "resume-1"}})
            assert r.status_code == 200, r.text
        backup_id, job_id = r.json()["backup_id"], r.json()["job_id"]
        assert service.wait_job(job_id)["status"] == "Completed"
        parts = service.parts
        with parts.db.session() as s:
            key = s.get(Backup, backup_id).object_key  # type: ignore[union-attr]
        stored = (parts.settings.backup_store_dir / key).stat()

        with parts.db.session() as s:  # what a crash right after the COMPLETED commit leaves
            job = s.get(Job, job_id)
            assert job is not None
            job.status, job.step, job.progress, job.owner, job.ended = JobStatus.RUNNING, 0, 0, None, None
            row = s.get(Instance, inst["id"])
            assert row is not None
            row.status = InstanceStatus.BACKING_UP
        parts.wakeup.set()

        resumed = service.wait_job(job_id)
        assert resumed["status"] == "Completed", resumed.get("fail_reason")
        assert service.instance(inst["id"])["status"] == "normal"
        after = (parts.settings.backup_store_dir / key).stat()
        assert (after.st_mtime_ns, after.st_size) == (stored.st_mtime_ns, stored.st_size)  # not taken again
        with parts.db.session() as s:
            assert s.get(Backup, backup_id).status == "COMPLETED"  # type: ignore[union-attr]
            exports = [
                j
                for j in s.scalars(select(Job).where(Job.name == JobName.EXPORT_BACKUP))
                if j.payload == {"backup_id": backup_id}
            ]
        assert len(exports) == 1  # the export was queued once, with the commit


def test_restore_resumed_after_the_swap_completes(service: Service) -> None:
    """A crash after a node's files were swapped (original set aside, staging consumed) but
    before the step was recorded: the resumed step must see the swap done, not a lost backup."""
    with service.ready_instance("resume-src") as src, service.ready_instance("resume-dst") as dst:
        with connect(src, PASSWORD) as client:
            client.app.c.insert_many([{"n": i} for i in range(30)])
        with connect(dst, PASSWORD) as client:
            client.app.c.insert_one({"n": "other"})
        with service.client() as c:
            r = c.post(service.path("/backups"), json={"backup": {"instance_id": src["id"], "name": "resume-2"}})
            assert service.wait_job(r.json()["job_id"])["status"] == "Completed"
            source = {"instance_id": src["id"], "backup_id": r.json()["backup_id"]}
            body = {"source": source, "target": {"instance_id": dst["id"]}}
            r = c.post(service.path("/instances/recovery"), json=body)
            assert r.status_code == 200, r.text
        job_id = r.json()["job_id"]
        assert service.wait_job(job_id)["status"] == "Completed"

        parts = service.parts
        with parts.db.session() as s:  # the state a crash right after the swap leaves
            job = s.get(Job, job_id)
            assert job is not None and job.payload.get("format") == "physical", job.payload
            job.status, job.step, job.owner, job.ended = JobStatus.RUNNING, 2, None, None  # at `_apply`
            row = s.get(Instance, dst["id"])
            assert row is not None
            row.status = InstanceStatus.RESTORING
            node = row.nodes[0]
            node_dir, data = layout.node_dir(parts.settings, node), layout.data_dir(parts.settings, node)
        shutil.copytree(data, node_dir / SNAPSHOT)  # the set-aside original (its content matters not here)
        parts.wakeup.set()

        resumed = service.wait_job(job_id)
        assert resumed["status"] == "Completed", resumed.get("fail_reason")
        assert service.instance(dst["id"])["status"] == "normal"
        assert not (node_dir / SNAPSHOT).exists()
        with connect(service.instance(dst["id"]), PASSWORD) as client:
            assert sorted(d["n"] for d in client.app.c.find()) == list(range(30))
