"""Recovering an instance whose node data was lost or damaged: what it can be recovered from,
and the job that does it (`tasks/recovery.py`). Started by the supervisor when it finds the
fault, or by a restore onto the instance (`POST /instances/recovery`, `dds restores onto`) with
a source the operator chooses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dds.core.clock import iso, iso_z
from dds.core.errors import DDSError
from dds.db.backups import Backup
from dds.db.models import Instance, Job
from dds.domain.jobs import JobName
from dds.domain.states import BackupStatus, InstanceStatus
from dds.fleet import integrity
from dds.parts import Parts
from dds.services import instances, pitr

ARCHIVE = "archive"  # the key of the continuous archive among the sources a recovery tried


def lost(inst: Instance) -> bool:
    """A node of the instance has a recorded data fault."""
    return any(integrity.known_fault(inst, node) for node in inst.nodes)


def source_for(parts: Parts, s: Session, inst: Instance, tried: set[str]) -> tuple[dict[str, Any], str] | None:
    """The newest state the instance can be brought back to that has not been `tried` (a source
    whose files failed their checks after a rebuild): its continuous archive up to the last
    restorable moment, else its completed backups, newest first; None when none is left."""
    if inst.incremental_backup and ARCHIVE not in tried:
        try:
            ranges = pitr.coverage_of(parts, inst).ranges
        except DDSError:
            ranges = []
        if ranges:
            end = int(ranges[-1][1])
            when = iso_z(datetime.fromtimestamp(end / 1000, UTC))
            point = {"source_instance_id": inst.id, "restore_time_ms": end, "source_key": ARCHIVE}
            return point, f"the continuous archive up to {when} ({end})"
    newest = s.scalars(
        select(Backup)
        .where(Backup.instance_id == inst.id, Backup.status == BackupStatus.COMPLETED, Backup.id.not_in(tried))
        .order_by(Backup.end_time.desc())
        .limit(1)
    ).first()
    if newest is None:
        return None
    point = {"backup_id": newest.id, "source_key": newest.id}
    return point, f"backup {newest.name} ({newest.id}) of {iso(newest.end_time)}"


def start(parts: Parts, s: Session, inst: Instance, payload: dict[str, Any], source: str) -> Job:
    """The recovery job, claiming the instance like any changing job (in the caller's transaction)."""
    return instances.start_job(
        parts, s, inst, JobName.RECOVER_DATA, InstanceStatus.RESTORING, {**payload, "source": source}
    )
