"""Job rows: creation (inside the caller's transaction), claiming, release after a crash."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session

from dds.core import ids
from dds.db.models import Job
from dds.domain.states import JobStatus


def enqueue(
    session: Session,
    *,
    name: str,
    project_id: str,
    now: datetime,
    instance_id: str = "",
    instance_name: str = "",
    payload: dict[str, Any] | None = None,
) -> Job:
    """Add a job to the caller's transaction: it exists iff the change commits."""
    job = Job(
        id=ids.job_id(),
        project_id=project_id,
        name=name,
        instance_id=instance_id,
        instance_name=instance_name,
        status=JobStatus.RUNNING,
        payload=payload or {},
        created=now,
    )
    session.add(job)
    return job


def claim(session: Session, owner: str, now: datetime, stale_after: timedelta) -> Job | None:
    """Take the oldest unowned job, or one whose owner stopped heartbeating."""
    stale = now - stale_after
    candidates = session.scalars(
        select(Job)
        .where(Job.status == JobStatus.RUNNING)
        .where(or_(Job.owner.is_(None), Job.heartbeat < stale))
        .order_by(Job.created)
        .limit(5)
    ).all()
    for job in candidates:
        taken = cast(
            CursorResult[Any],
            session.execute(
                update(Job)
                .where(Job.id == job.id, Job.status == JobStatus.RUNNING)
                .where(or_(Job.owner.is_(None), Job.heartbeat < stale))
                .values(owner=owner, heartbeat=now, attempts=Job.attempts + 1)
            ),
        )
        if taken.rowcount == 1:
            session.flush()
            session.refresh(job)
            return job
    return None


def release_orphans(session: Session) -> int:
    """At start-up: jobs a dead process owned go back to the queue to be resumed."""
    result = cast(
        CursorResult[Any],
        session.execute(update(Job).where(Job.status == JobStatus.RUNNING, Job.owner.is_not(None)).values(owner=None)),
    )
    return int(result.rowcount)
