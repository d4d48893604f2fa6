"""A replica set on PostgreSQL storage as it was at a time: a copy recovered by PostgreSQL from
a base backup and the WAL archive.

The base backup recovery starts from is the latest one taken within the same stretch of archive
coverage that ended before the time (`restore_points`). It is checked against its sum while it is
unpacked, detached from its source's replication, and brought up once by a server of our own with
the archived WAL from its start on and the time as recovery target; the server stops once it has
opened there, leaving a cleanly shut-down directory (`work/pgdata`) that starts as a primary.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from dds.archiver.store import open_store
from dds.backup import base_backup
from dds.backup.hashed import HashedStream
from dds.backup.manifest import Manifest
from dds.core.errors import BackupCorrupt, RestoreTimeOutOfRange
from dds.db.backups import Backup
from dds.domain.states import BackupStatus
from dds.fleet import archivers, restore_points, staging_server
from dds.parts import Parts
from dds.walarchive import fetch, wal

WAL = "wal"  # the fetched WAL, beside the copy, while it is recovered


def recover(parts: Parts, source_id: str, at_ms: int, work: Path) -> Manifest:
    """Recover `source_id` as of `at_ms` into `work/pgdata`; returns the base backup's manifest.
    RestoreTimeOutOfRange when no base backup and archive reach the time."""
    with parts.db.session() as s:
        chosen = restore_points.backup_for(parts, s, source_id, at_ms)
        b = s.get(Backup, chosen.backup_id) if chosen is not None else None
        if b is None:
            raise RestoreTimeOutOfRange()
        if b.status != BackupStatus.COMPLETED:
            raise BackupCorrupt(f"The base backup {b.id} is {b.status} and cannot be restored.")
        key, size, digest = b.object_key, b.size_bytes, b.sha256
    if parts.store.size(key) is None:
        raise BackupCorrupt("The base backup file is missing from the backup store.")
    manifest = HashedStream(parts.store.read(key), size, digest).unpacked(lambda r: base_backup.unpack(r, work))
    pgdata = work / base_backup.PGDATA
    base_backup.detach(pgdata)
    start = wal.start_segno((pgdata / "backup_label").read_text())
    fetch.fetch(open_store(archivers.wal_replica(parts, source_id)), work / WAL, start)
    with staging_server.serving(parts, pgdata, staging_server.Recovery(work / WAL, at_ms)):
        pass
    shutil.rmtree(work / WAL, ignore_errors=True)
    return manifest
