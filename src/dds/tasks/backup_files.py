"""Backup rows and their objects in the store, kept in step (shared by backup and instance jobs)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dds.core.errors import BackupNotFound
from dds.db.backups import Backup
from dds.db.models import Job
from dds.domain.jobs import JobName
from dds.domain.states import BackupStatus, BackupType, JobStatus, transition
from dds.jobs.registry import JobContext
from dds.parts import Parts


def backup_of(s: Session, ctx: JobContext) -> Backup:
    b = s.get(Backup, ctx.payload["backup_id"])
    if b is None:
        raise BackupNotFound()
    return b


def drop_automated(parts: Parts, instance_id: str) -> None:
    """Deleting an instance deletes its automated backups (DDS); manual ones stay."""
    with parts.db.session() as s:
        rows = s.scalars(select(Backup).where(Backup.instance_id == instance_id, Backup.type == BackupType.AUTO)).all()
        keys = [(b.id, b.object_keys()) for b in rows]
        for b in rows:
            transition(b, BackupStatus.DISABLED)
    for backup_id, objects in keys:
        for key in objects:
            parts.store.delete(key)
        with parts.db.session() as s:
            row = s.get(Backup, backup_id)
            if row is not None:
                s.delete(row)


def fail_orphaned_backups(parts: Parts) -> int:
    """At start-up: a BUILDING backup whose job is gone can never complete."""
    with parts.db.session() as s:
        live = {
            j.payload.get("backup_id")
            for j in s.scalars(select(Job).where(Job.status == JobStatus.RUNNING, Job.name == JobName.BACKUP))
        }
        stale = [b for b in s.scalars(select(Backup).where(Backup.status == BackupStatus.BUILDING)) if b.id not in live]
        for b in stale:
            transition(b, BackupStatus.FAILED)
        return len(stale)
