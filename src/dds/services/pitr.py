"""Point-in-time recovery: restorable ranges, and what existed at a time.

Everything is derived from the instance's archive (its primary node's replica in the
backup store), never from metadata alone: a period when archiving was off, lagging or
broken is a gap, and a time inside a gap is refused before any job starts.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from dds.archiver.coverage import Coverage, read_coverage
from dds.archiver.errors import ArchiverError
from dds.archiver.restore import restore
from dds.archiver.store import open_store
from dds.backup import base_backup, physical
from dds.core.errors import InternalError, InvalidParameter, RestoreTimeOutOfRange
from dds.db.models import Instance
from dds.domain.rules import check_paging
from dds.fleet import archivers, as_of, layout, nodes, restore_points, staging_server
from dds.parts import Parts
from dds.services import instances

SYSTEM_DATABASES = frozenset({"admin", "local", "config"})  # not offered for database/collection restores
DAY_MS = 86_400_000


@dataclass(frozen=True)
class PointInTime:
    """A validated restore point: the source instance and a covered UTC millisecond."""

    instance_id: str
    at_ms: int


def parse_time_ms(value: object, field: str) -> int:
    """A UTC millisecond timestamp as DDS sends it (a string or number of milliseconds)."""
    try:
        ms = int(str(value).strip())
    except (TypeError, ValueError):
        raise InvalidParameter(f"Invalid {field}: a UNIX timestamp in milliseconds (UTC).") from None
    if ms <= 0:
        raise InvalidParameter(f"Invalid {field}: a UNIX timestamp in milliseconds (UTC).")
    return ms


def coverage_of(parts: Parts, inst: Instance) -> Coverage:
    node = nodes.primary(inst)
    try:
        return read_coverage(open_store(archivers.replica_for(parts, inst.id, node.id)))
    except ArchiverError as exc:
        raise InternalError(f"The archive of instance {inst.id} cannot be read: {exc}") from exc


def restore_times(parts: Parts, project_id: str, instance_id: str, date: str | None) -> list[tuple[int, int]]:
    """Covered ranges that touch the UTC day `date` (yyyy-mm-dd), clipped to it."""
    if not date:
        raise InvalidParameter("date is required (yyyy-mm-dd, UTC).")
    try:
        day = datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidParameter("Invalid date: expected yyyy-mm-dd (UTC).") from None
    start = int(day.timestamp() * 1000)
    end = int((day + timedelta(days=1)).timestamp() * 1000) - 1
    with parts.db.session() as s:
        covered = _ranges(parts, s, instances.get(s, project_id, instance_id))
    return [(max(a, start), min(b, end)) for a, b in covered if a <= end and b >= start]


def _ranges(parts: Parts, s: Session, inst: Instance) -> list[tuple[int, int]]:
    """Where a restore can go: the engine files' archive (SQLite), or the WAL archive from the
    end of a base backup on (PostgreSQL storage)."""
    if inst.storage == "postgresql":
        return restore_points.ranges(parts, s, inst)
    return coverage_of(parts, inst).ranges


def point_in_time(
    parts: Parts, project_id: str, instance_id: str | None, restore_time: object, field: str
) -> PointInTime:
    """Check that `restore_time` is inside a covered range of the project's instance."""
    if not instance_id:
        raise InvalidParameter(f"{field}.instance_id is required for a point-in-time restore.")
    at = parse_time_ms(restore_time, f"{field}.restore_time")
    with parts.db.session() as s:
        inst = instances.get(s, project_id, instance_id)
        covered = _ranges(parts, s, inst)
    if not any(a <= at <= b for a, b in covered):
        raise RestoreTimeOutOfRange()
    return PointInTime(inst.id, at)


def databases_at(
    parts: Parts, project_id: str, instance_id: str, restore_time: object, offset: int, limit: int
) -> tuple[list[str], int]:
    check_paging(offset, limit)
    point = point_in_time(parts, project_id, instance_id, restore_time, "query")
    with parts.db.session() as s:
        inst = instances.get(s, project_id, instance_id)
        on_postgresql = inst.storage == "postgresql"
        cov = None if on_postgresql else coverage_of(parts, inst)
    found = set(_recovered_listing(parts, point)) if cov is None else cov.databases_at(point.at_ms)
    names = sorted(found - SYSTEM_DATABASES)
    return names[offset : offset + limit], len(names)


def collections_at(
    parts: Parts, project_id: str, instance_id: str, db_name: str | None, restore_time: object, offset: int, limit: int
) -> tuple[list[str], int]:
    """Collections of one database as of the time: that database alone is restored to staging and read."""
    check_paging(offset, limit)
    if not db_name:
        raise InvalidParameter("db_name is required.")
    point = point_in_time(parts, project_id, instance_id, restore_time, "query")
    with parts.db.session() as s:
        inst = instances.get(s, project_id, instance_id)
        if inst.storage == "postgresql":
            names = [] if db_name in SYSTEM_DATABASES else _recovered_listing(parts, point).get(db_name, [])
            return names[offset : offset + limit], len(names)
        cov = coverage_of(parts, inst)
        config = archivers.config_for(parts, inst, nodes.primary(inst))
    if db_name in SYSTEM_DATABASES or db_name not in cov.databases_at(point.at_ms):
        return [], 0
    work = layout.staging(parts.settings, f"pitr-list-{uuid.uuid4().hex}")
    try:
        restore(config, point.at_ms, work, databases={db_name}, coverage=cov)
        names = [c for c in physical.collections(work / f"{db_name}.sqlite") if not c.startswith("system.")]
    except ArchiverError as exc:
        raise InternalError(f"The archive could not be read at that time: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return names[offset : offset + limit], len(names)


_LISTINGS: dict[tuple[str, int], dict[str, list[str]]] = {}  # what a recovered copy held (immutable)
_LISTINGS_KEPT = 64


def _recovered_listing(parts: Parts, point: PointInTime) -> dict[str, list[str]]:
    """Databases and their collections as of the time on PostgreSQL storage: a copy recovered
    from a base backup and the WAL archive, read by its own server. What a time held never
    changes, so the answer is kept for the next page."""
    key = (point.instance_id, point.at_ms)
    if key not in _LISTINGS:
        work = layout.staging(parts.settings, f"pitr-list-{uuid.uuid4().hex}")
        try:
            as_of.recover(parts, point.instance_id, point.at_ms, work)
            with staging_server.serving(parts, work / base_backup.PGDATA) as port:
                listing = base_backup.databases(port)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        while len(_LISTINGS) >= _LISTINGS_KEPT:
            _LISTINGS.pop(next(iter(_LISTINGS)))
        _LISTINGS[key] = listing
    return _LISTINGS[key]
