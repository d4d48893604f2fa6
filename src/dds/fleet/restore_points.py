"""Restore points of a replica set on PostgreSQL storage: its WAL archive and its base backups.

A time is restorable when the archive covers it without a gap and a base backup ended before it
at a WAL position the same stretch of archive holds (`walarchive.coverage`). Both come from what is in
the store and in the backup records, never from settings: a stretch when archiving was off or
behind is not offered.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dds.archiver.errors import ArchiverError
from dds.archiver.store import open_store
from dds.backup.manifest import PHYSICAL_POSTGRESQL
from dds.core.errors import InternalError
from dds.db.backups import Backup
from dds.db.models import Instance
from dds.domain.states import BackupStatus
from dds.fleet import archivers
from dds.parts import Parts
from dds.walarchive import coverage
from dds.walarchive.coverage import BaseBackup, Coverage, Range


def base_backups(s: Session, instance_id: str) -> list[BaseBackup]:
    """The instance's completed base backups that say when they were taken."""
    found = []
    for b in s.scalars(
        select(Backup).where(Backup.instance_id == instance_id, Backup.status == BackupStatus.COMPLETED)
    ):
        manifest = b.manifest or {}
        ended_ms, end_lsn = manifest.get("ended_ms"), manifest.get("end_lsn")
        if manifest.get("format") == PHYSICAL_POSTGRESQL and ended_ms and end_lsn:
            found.append(BaseBackup(b.id, int(ended_ms), int(end_lsn)))
    return found


def archive_coverage(parts: Parts, instance_id: str) -> Coverage:
    try:
        return coverage.load(open_store(archivers.wal_replica(parts, instance_id)))
    except (ArchiverError, OSError, ValueError) as exc:
        raise InternalError(f"The WAL archive of instance {instance_id} cannot be read: {exc}") from exc


def ranges(parts: Parts, s: Session, inst: Instance) -> list[Range]:
    return archive_coverage(parts, inst.id).restorable(base_backups(s, inst.id))


def backup_for(parts: Parts, s: Session, instance_id: str, at_ms: int) -> BaseBackup | None:
    """The base backup a restore to `at_ms` starts from; None when the time is not restorable."""
    return archive_coverage(parts, instance_id).backup_for(base_backups(s, instance_id), at_ms)
