"""Task management: one job by id, and the v3.1 task list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, select

from dds.api import views
from dds.api.deps import ProjectDep, RuntimeDep
from dds.db.models import Job
from dds.domain.rules import check_paging
from dds.domain.states import JobStatus
from dds.errors import InvalidParameter, JobNotFound

router = APIRouter(tags=["Task management"])


@router.get("/v3/{project_id}/jobs")
def show_job_detail(project_id: ProjectDep, rt: RuntimeDep, id: str | None = None) -> dict[str, Any]:
    if not id:
        raise InvalidParameter("The job id is required.")
    with rt.db.session() as s:
        job = s.get(Job, id)
        if job is None or job.project_id != project_id:
            raise JobNotFound()
        return {"job": views.job_detail(job)}


def _when(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S"):
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        if parsed.tzinfo is not None:
            parsed = (parsed - parsed.utcoffset()).replace(tzinfo=None)  # type: ignore[operator]
        return parsed
    raise InvalidParameter(f"Invalid {field}: expected yyyy-mm-ddThh:mm:ssZ.")


@router.get("/v3.1/{project_id}/jobs")
def list_tasks(
    project_id: ProjectDep,
    rt: RuntimeDep,
    id: str | None = None,
    name: str | None = None,
    status: str | None = None,
    start_time: str | None = None,
    end_time: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> dict[str, Any]:
    check_paging(offset, limit)
    if status and status not in {s.value for s in JobStatus}:
        raise InvalidParameter("Invalid status: Running, Completed or Failed.")
    q = select(Job).where(Job.project_id == project_id)
    if id:
        q = q.where(Job.id == id)
    if name:
        q = q.where(Job.name == name)
    if status:
        q = q.where(Job.status == status)
    begin, end = _when(start_time, "start_time"), _when(end_time, "end_time")
    if begin and end and end <= begin:
        raise InvalidParameter("end_time must be later than start_time.")
    if begin:
        q = q.where(Job.created >= begin)
    if end:
        q = q.where(Job.created <= end)
    with rt.db.session() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        jobs = s.scalars(q.order_by(Job.created.desc()).offset(offset).limit(limit)).all()
        return {"jobs": [views.job_item(j) for j in jobs], "total_count": total}
