"""Task management: one job by id, and the task list with its filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from dds.core.errors import InvalidParameter, JobNotFound
from dds.db.models import Job
from dds.domain.rules import check_paging
from dds.domain.states import JobStatus
from dds.parts import Parts


def get(parts: Parts, project_id: str, job_id: str | None) -> Job:
    """The project's job, or 404 as if others' did not exist."""
    if not job_id:
        raise InvalidParameter("The job id is required.")
    with parts.db.session() as s:
        job = s.get(Job, job_id)
        if job is None or job.project_id != project_id:
            raise JobNotFound()
        return job


def _when(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S"):
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        offset = parsed.utcoffset()
        if offset is not None:
            parsed = (parsed - offset).replace(tzinfo=None)
        return parsed
    raise InvalidParameter(f"Invalid {field}: expected yyyy-mm-ddThh:mm:ssZ.")


@dataclass
class JobQuery:
    """Filters and paging of the v3.1 task list, as DDS names them."""

    id: str | None = None
    name: str | None = None
    status: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    offset: int = 0
    limit: int = 100


def listing(parts: Parts, project_id: str, query: JobQuery) -> tuple[list[Job], int]:
    check_paging(query.offset, query.limit)
    if query.status and query.status not in {s.value for s in JobStatus}:
        raise InvalidParameter("Invalid status: Running, Completed or Failed.")
    q = select(Job).where(Job.project_id == project_id)
    if query.id:
        q = q.where(Job.id == query.id)
    if query.name:
        q = q.where(Job.name == query.name)
    if query.status:
        q = q.where(Job.status == query.status)
    begin, end = _when(query.start_time, "start_time"), _when(query.end_time, "end_time")
    if begin and end and end <= begin:
        raise InvalidParameter("end_time must be later than start_time.")
    if begin:
        q = q.where(Job.created >= begin)
    if end:
        q = q.where(Job.created <= end)
    with parts.db.session() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = s.scalars(q.order_by(Job.created.desc()).offset(query.offset).limit(query.limit)).all()
        return list(rows), total
