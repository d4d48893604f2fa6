"""Maintenance window and scheduled tasks: operations delayed to the window, listed, cancellable.

A delayed operation is validated when it is asked for (bad input is refused at once), stored as a
Pending scheduled job, and started by the scheduler inside the next window through the same
service function an immediate request uses (which checks the instance's state again then).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from dds.core.errors import DDSError, InvalidParameter, JobNotFound
from dds.db.management import ScheduledJob
from dds.db.models import Instance, Job
from dds.domain import maintenance
from dds.domain.jobs import JobName
from dds.domain.states import JobStatus
from dds.parts import Parts
from dds.services import instances
from dds.wire import models as w

PENDING, RUNNING, COMPLETED, FAILED, CANCELED = "Pending", "Running", "Completed", "Failed", "Canceled"


def window_of(inst: Instance) -> str:
    return str(inst.extra.get("maintenance_window") or maintenance.DEFAULT_WINDOW)


def set_window(parts: Parts, project_id: str, instance_id: str, body: w.OpsWindowRequestBody) -> None:
    window = maintenance.check_window(body.start_time, body.end_time)
    with parts.db.session() as s:
        inst = instances.get(s, project_id, instance_id)
        inst.extra = {**inst.extra, "maintenance_window": window}
        inst.updated = parts.clock.now()
        # Pending tasks follow the new window.
        for job in s.scalars(
            select(ScheduledJob).where(ScheduledJob.instance_id == inst.id, ScheduledJob.status == PENDING)
        ):
            job.not_before, job.window_end = maintenance.bounds(window, parts.clock.now())


def schedule_resize(parts: Parts, project_id: str, instance_id: str, spec_code: Any) -> str:
    """Resize in the next maintenance window; validated now, like an immediate resize."""
    with parts.db.session() as s:
        inst = instances.get(s, project_id, instance_id)
        flavor = instances.check_resize(inst, spec_code)
        now = parts.clock.now()
        start, end = maintenance.bounds(window_of(inst), now)
        job = ScheduledJob(
            id=str(uuid.uuid4()),
            project_id=project_id,
            instance_id=inst.id,
            instance_name=inst.name,
            name=JobName.RESIZE,
            payload={"spec_code": flavor},
            status=PENDING,
            created=now,
            not_before=start,
            window_end=end,
        )
        s.add(job)
        return job.id


# What each kind of delayed operation runs when its window opens.
_STARTERS: dict[str, Callable[[Parts, ScheduledJob], Job]] = {
    JobName.RESIZE: lambda parts, j: instances.resize(parts, j.project_id, j.instance_id, j.payload["spec_code"]),
}


def run_due(parts: Parts, now: datetime) -> int:
    """Start every pending task whose window is open; one that missed its window waits for the next."""
    started = 0
    with parts.db.session() as s:
        due = s.scalars(
            select(ScheduledJob).where(ScheduledJob.status == PENDING, ScheduledJob.not_before <= now)
        ).all()
        todo = [(j.id, j.window_end) for j in due]
    for job_id, end in todo:
        with parts.db.session() as s:
            job = s.get(ScheduledJob, job_id)
            if job is None or job.status != PENDING:
                continue
            if now >= end:
                inst = s.get(Instance, job.instance_id)
                if inst is None:
                    job.status = FAILED
                    continue
                job.not_before, job.window_end = maintenance.bounds(window_of(inst), now)
                continue
            starter = _STARTERS.get(job.name)
            try:
                if starter is None:
                    raise InvalidParameter(f"unknown scheduled operation {job.name}")
                real = starter(parts, job)
            except DDSError as exc:
                job.status = FAILED
                job.payload = {**job.payload, "error": exc.message}
                continue
            job.status, job.job_id = RUNNING, real.id
            started += 1
    return started


def _status(s: Any, job: ScheduledJob) -> str:
    """Running tasks take the state of the job they became."""
    if job.status != RUNNING or not job.job_id:
        return job.status
    real = s.get(Job, job.job_id)
    if real is None:
        return job.status
    return {JobStatus.COMPLETED: COMPLETED, JobStatus.FAILED: FAILED}.get(real.status, RUNNING)


def _stamp(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S+0000") if value else ""


def listing(
    parts: Parts,
    project_id: str,
    *,
    instance_id: str | None,
    job_name: str | None,
    job_status: str | None,
    offset: int,
    limit: int,
) -> w.ListScheduledTasksResponse:
    with parts.db.session() as s:
        q = select(ScheduledJob).where(ScheduledJob.project_id == project_id).order_by(ScheduledJob.created.desc())
        if instance_id:
            q = q.where(ScheduledJob.instance_id == instance_id)
        if job_name:
            q = q.where(ScheduledJob.name == job_name)
        rows = [(j, _status(s, j)) for j in s.scalars(q)]
        if job_status:
            rows = [(j, st) for j, st in rows if st.lower() == job_status.lower()]
        statuses = {i.id: i.status for i in s.scalars(select(Instance).where(Instance.project_id == project_id))}
        page = rows[offset : offset + limit]
        return w.ListScheduledTasksResponse(
            schedules=[
                w.ScheduledTasksRspSchedules(
                    job_id=j.id,
                    job_name=j.name,
                    job_status=st,
                    instance_id=j.instance_id,
                    instance_name=j.instance_name,
                    instance_status=str(statuses.get(j.instance_id, "deleted")),
                    create_time=_stamp(j.created),
                    start_time=_stamp(j.not_before),
                    end_time=_stamp(j.window_end),
                )
                for j, st in page
            ],
            total_count=len(rows),
        )


def cancel(parts: Parts, project_id: str, job_id: str) -> None:
    with parts.db.session() as s:
        job = s.get(ScheduledJob, job_id)
        if job is None or job.project_id != project_id:
            raise JobNotFound()
        if job.status != PENDING:
            raise InvalidParameter(f"Only a pending task can be cancelled; this one is {_status(s, job)}.")
        job.status = CANCELED
