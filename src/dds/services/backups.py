"""Backup operations: validate, write the backup row and its job in one transaction."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dds.backup.archive import EXPORT_SUFFIX
from dds.backup.physical import SUFFIX
from dds.core import ids
from dds.core.clock import iso_z
from dds.core.errors import (
    BackupExists,
    BackupInvalid,
    BackupNotAllowed,
    BackupNotFound,
    BackupNotRunning,
    BackupRestoring,
    Conflict,
    InvalidBackupDescription,
    InvalidBackupName,
    InvalidBackupPeriod,
    InvalidBackupStartTime,
    InvalidParameter,
    InvalidRetention,
    RangeNotSatisfiable,
)
from dds.db.backups import Backup
from dds.db.models import Instance, Job
from dds.domain.backup_policy import parse_keep_days, parse_period, parse_window
from dds.domain.jobs import RESTORE_JOBS, JobName
from dds.domain.rules import check_paging
from dds.domain.states import (
    ALLOWED,
    BACKUP_ALLOWED,
    BackupStatus,
    BackupType,
    InstanceStatus,
    JobStatus,
    transition,
)
from dds.fleet import nodes
from dds.jobs.queue import enqueue
from dds.parts import Parts
from dds.services import download_policy, instances, quotas
from dds.store import links
from dds.wire import models as w

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{3,63}$")
_BAD_DESCRIPTION = set(">!<\"&'=")
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_MODES = ("Sharding", "ReplicaSet", "Single")


def link_secret(parts: Parts) -> bytes:
    return links.load_secret(parts.settings.link_secret, parts.settings.data_dir)


def get(s: Session, project_id: str, backup_id: str) -> Backup:
    """The project's backup, or 404 as if others' did not exist."""
    b = s.get(Backup, backup_id)
    if b is None or b.project_id != project_id:
        raise BackupNotFound()
    return b


def _check_name(s: Session, project_id: str, name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidBackupName(
            "Invalid backup name: 4 to 64 characters, starting with a letter; letters, digits, - and _."
        )
    taken = s.scalar(select(Backup.id).where(Backup.project_id == project_id, Backup.name == name))
    if taken:
        raise BackupExists(f"A backup named {name!r} already exists.")
    return name


def _check_description(value: Any) -> str:
    text = "" if value is None else value
    if not isinstance(text, str) or len(text) > 256 or set(text) & _BAD_DESCRIPTION:
        raise InvalidBackupDescription("Invalid backup description: at most 256 characters, none of > ! < \" & ' =.")
    return text


def start_backup(
    parts: Parts,
    s: Session,
    inst: Instance,
    *,
    kind: BackupType,
    name: str,
    description: str = "",
    scheduled_for: datetime | None = None,
) -> tuple[Backup, Job]:
    """Add a BUILDING backup and its job to the caller's transaction."""
    if inst.status not in ALLOWED["backup"]:
        raise BackupNotAllowed(f"The DB instance status ({inst.status}) does not allow a backup.")
    b = new_backup(parts, inst, kind=kind, name=name, description=description, scheduled_for=scheduled_for)
    s.add(b)
    job = instances.start_job(parts, s, inst, JobName.BACKUP, InstanceStatus.BACKING_UP, {"backup_id": b.id})
    return b, job


def new_backup(
    parts: Parts,
    inst: Instance,
    *,
    kind: BackupType,
    name: str,
    description: str = "",
    scheduled_for: datetime | None = None,
) -> Backup:
    """A BUILDING backup row of the instance (the caller adds it and the job that takes it)."""
    now = parts.clock.now()
    backup_id = ids.backup_id()
    b = Backup(
        id=backup_id,
        project_id=inst.project_id,
        instance_id=inst.id,
        instance_name=inst.name,
        instance_mode=inst.mode,
        datastore_type=inst.datastore_type,
        datastore_version=inst.datastore_version,
        volume_gb=inst.volume_gb,
        name=name,
        description=description,
        type=kind,
        status=BackupStatus.BUILDING,
        store=parts.store.name,
        object_key=f"{inst.project_id}/{inst.id}/{backup_id}{SUFFIX}",
        file_name=f"{backup_id}{SUFFIX}",
        export_key=f"{inst.project_id}/{inst.id}/{backup_id}{EXPORT_SUFFIX}",
        export_file_name=f"{backup_id}{EXPORT_SUFFIX}",
        manifest={},
        scheduled_for=scheduled_for,
        begin_time=now,
    )
    return b


def create_manual(parts: Parts, project_id: str, opt: w.CreateManualBackupOption | None) -> tuple[Backup, Job]:
    instance_id = opt.instance_id if opt else None
    if not opt or not instance_id:
        raise InvalidParameter("backup.instance_id is required.")
    with parts.db.session() as s:
        name = _check_name(s, project_id, opt.name)
        description = _check_description(opt.description)
        inst = instances.get(s, project_id, str(instance_id))
        quotas.check_room(parts, s, project_id, backups=1)
        b, job = start_backup(parts, s, inst, kind=BackupType.MANUAL, name=name, description=description)
    parts.wakeup.set()
    return b, job


def _parse_time(value: str, field: str) -> datetime:
    try:
        return datetime.strptime(value, _TIME_FORMAT)
    except ValueError:
        raise InvalidParameter(f"Invalid {field}: expected yyyy-mm-dd hh:mm:ss (UTC).") from None


@dataclass
class BackupQuery:
    instance_id: str | None = None
    backup_id: str | None = None
    backup_type: str | None = None
    begin_time: str | None = None
    end_time: str | None = None
    mode: str | None = None
    backup_status: str | None = None
    backup_name: str | None = None
    instance_name: str | None = None
    offset: int = 0
    limit: int = 100


def listing(parts: Parts, project_id: str, q: BackupQuery) -> tuple[list[Backup], int]:
    check_paging(q.offset, q.limit)
    stmt = select(Backup).where(Backup.project_id == project_id)
    if q.backup_type:
        if q.backup_type not in {t.value for t in BackupType}:
            raise InvalidParameter("Invalid backup_type: Auto or Manual.")
        stmt = stmt.where(Backup.type == q.backup_type)
    if q.mode:
        if q.mode not in _MODES:
            raise InvalidParameter("Invalid mode: Sharding, ReplicaSet or Single.")
        stmt = stmt.where(Backup.instance_mode == q.mode)
    if q.backup_status:
        if q.backup_status not in {st.value for st in BackupStatus}:
            raise InvalidParameter("Invalid backup_status.")
        stmt = stmt.where(Backup.status == q.backup_status)
    if bool(q.begin_time) != bool(q.end_time):
        raise InvalidParameter("begin_time and end_time must be given together.")
    if q.begin_time and q.end_time:
        begin, end = _parse_time(q.begin_time, "begin_time"), _parse_time(q.end_time, "end_time")
        if end < begin:
            raise InvalidParameter("end_time must not be earlier than begin_time.")
        stmt = stmt.where(Backup.begin_time >= begin, Backup.begin_time <= end)
    for col, val in ((Backup.instance_id, q.instance_id), (Backup.id, q.backup_id)):
        if val:
            stmt = stmt.where(col == val)
    if q.backup_name:
        stmt = stmt.where(Backup.name.contains(q.backup_name))
    if q.instance_name:
        stmt = stmt.where(Backup.instance_name.contains(q.instance_name))
    with parts.db.session() as s:
        total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = s.scalars(stmt.order_by(Backup.begin_time.desc(), Backup.id).offset(q.offset).limit(q.limit)).all()
        return list(rows), total


def _restoring(s: Session, backup_id: str) -> bool:
    running = s.scalars(select(Job).where(Job.status == JobStatus.RUNNING, Job.name.in_(RESTORE_JOBS)))
    return any(j.payload.get("backup_id") == backup_id for j in running)


def mark_for_deletion(parts: Parts, s: Session, b: Backup) -> Job:
    if _restoring(s, b.id):
        raise BackupRestoring()
    if b.status not in BACKUP_ALLOWED["delete"]:
        raise BackupInvalid(f"The backup is {b.status} and cannot be deleted now.")
    transition(b, BackupStatus.DISABLED)
    return enqueue(
        s,
        name=JobName.DELETE_BACKUP,
        project_id=b.project_id,
        now=parts.clock.now(),
        instance_id=b.instance_id,
        instance_name=b.instance_name,
        payload={"backup_id": b.id},
    )


def delete_manual(parts: Parts, project_id: str, backup_id: str) -> Job:
    """Manual backups only: automated ones follow the policy (keep_days)."""
    with parts.db.session() as s:
        b = get(s, project_id, backup_id)
        if b.type != BackupType.MANUAL:
            raise BackupInvalid("Automated backups are deleted by the backup policy, not by request.")
        job = mark_for_deletion(parts, s, b)
    parts.wakeup.set()
    return job


def batch_delete(parts: Parts, project_id: str, backup_ids: list[str] | None) -> list[Job]:
    """All or nothing: every id is checked before any backup is marked."""
    if not backup_ids or len(backup_ids) > 50 or len(set(backup_ids)) != len(backup_ids):
        raise InvalidParameter("backup_ids must list 1 to 50 distinct backup IDs.")
    with parts.db.session() as s:
        rows = [get(s, project_id, bid) for bid in backup_ids]
        if any(b.type != BackupType.MANUAL for b in rows):
            raise BackupInvalid("Automated backups are deleted by the backup policy, not by request.")
        jobs = [mark_for_deletion(parts, s, b) for b in rows]
    parts.wakeup.set()
    return jobs


def _files(b: Backup) -> list[tuple[str, str, int]]:
    """(name, object key, bytes) of a backup's files: the physical archive and, once made, the
    mongodump-layout export (older backups have only the latter, as their one file)."""
    files = [(b.file_name, b.object_key, b.size_bytes)]
    if b.export_key and b.export_file_name and b.export_size_bytes is not None:
        files.append((b.export_file_name, b.export_key, b.export_size_bytes))
    return files


def download_files(
    parts: Parts, project_id: str, instance_id: str | None, backup_id: str | None
) -> w.ShowBackupDownloadLinkResponse:
    """The backup's files with links valid `link_ttl_seconds` (15 minutes)."""
    if not instance_id or not backup_id:
        raise InvalidParameter("instance_id and backup_id are required.")
    with parts.db.session() as s:
        download_policy.require_open(s, project_id)
        b = get(s, project_id, backup_id)
        if b.instance_id != instance_id:
            raise BackupNotFound()
        if b.status not in BACKUP_ALLOWED["download"]:
            raise BackupInvalid(f"The backup is {b.status}; only completed backups can be downloaded.")
    st = parts.store
    if b.store != st.name:
        raise BackupInvalid(f"The backup is kept in the {b.store!r} store, which is not configured now.")
    ttl = parts.settings.link_ttl_seconds
    expires = parts.clock.now() + timedelta(seconds=ttl)
    files = []
    for name, key, size in _files(b):
        url = st.presigned_url(key, expires, ttl) or links.make_link(
            parts.settings.base_url, link_secret(parts), project_id, b.id, name, expires
        )
        files.append(
            {"name": name, "size": math.ceil(size / 1024), "download_link": url, "link_expired_time": iso_z(expires)}
        )
    return w.ShowBackupDownloadLinkResponse.model_validate({"files": files, "bucket": st.bucket})


def open_download(parts: Parts, project_id: str, backup_id: str, name: str, expires: str, sig: str) -> tuple[str, int]:
    """Check a service-signed link (and the download policy, which may have closed since);
    returns the object's key and size."""
    links.check(link_secret(parts), project_id, backup_id, name, expires, sig, parts.clock.now())
    with parts.db.session() as s:
        download_policy.require_open(s, project_id)
        b = get(s, project_id, backup_id)
        keys = {n: key for n, key, _ in _files(b)}
        if name not in keys or b.status != BackupStatus.COMPLETED:
            raise BackupNotFound()
    size = parts.store.size(keys[name])
    if size is None:
        raise BackupNotFound()
    return keys[name], size


def stop(parts: Parts, project_id: str, backup_id: str, action: str | None) -> Job:
    """Ask a running backup to stop; its job ends early, leaves nothing in the store and the
    backup FAILED. The returned job completes once that has happened."""
    if action != "stop":
        raise InvalidParameter("action must be 'stop'.")
    with parts.db.session() as s:
        b = get(s, project_id, backup_id)
        if b.status not in BACKUP_ALLOWED["stop"]:
            raise BackupNotRunning(f"The backup is {b.status}; only a backup in progress can be stopped.")
        b.stop_requested = True
        job = enqueue(
            s,
            name=JobName.STOP_BACKUP,
            project_id=b.project_id,
            now=parts.clock.now(),
            instance_id=b.instance_id,
            instance_name=b.instance_name,
            payload={"backup_id": b.id},
        )
    parts.wakeup.set()
    return job


def get_policy(parts: Parts, project_id: str, instance_id: str) -> w.BackupPolicyItem:
    with parts.db.session() as s:
        inst = instances.get(s, project_id, instance_id)
        if inst.backup_keep_days == 0:
            return w.BackupPolicyItem(keep_days=0, enable_incremental_backup=False)
        return w.BackupPolicyItem(
            keep_days=inst.backup_keep_days,
            start_time=inst.backup_start_time,
            period=inst.backup_period,
            enable_incremental_backup=inst.incremental_backup,
        )


def set_policy(parts: Parts, project_id: str, instance_id: str, policy: w.BackupPolicy | None) -> None:
    """keep_days 0 turns automated backups off, and incremental backup with them; 1-6 require every
    day of the week (DDS). Incremental backup (continuous archiving, PITR) needs automated backups on;
    its archiver processes start or stop here, under the instance's lock."""
    if not policy or (policy.keep_days is None and policy.enable_incremental_backup is None):
        raise InvalidRetention("backup_policy.keep_days or backup_policy.enable_incremental_backup is required.")
    if policy.keep_days is None:
        set_incremental(parts, project_id, instance_id, bool(policy.enable_incremental_backup))
        return
    keep = parse_keep_days(policy.keep_days)
    if policy.enable_incremental_backup and keep == 0:
        raise InvalidParameter("Incremental backup needs the automated backup policy (keep_days 1-732).")
    window = period = None
    if keep:
        if not policy.start_time:
            raise InvalidBackupStartTime("backup_policy.start_time is required to enable backups.")
        window = parse_window(policy.start_time)
        period = parse_period(policy.period or "1,2,3,4,5,6,7")
        if keep < 7 and period != "1,2,3,4,5,6,7":
            raise InvalidBackupPeriod("With keep_days 1-6 the period must be every day (1,2,3,4,5,6,7).")
    with parts.db.session() as s:
        inst = instances.get(s, project_id, instance_id)
        if inst.status not in ALLOWED["backup_policy"]:
            raise Conflict(f"The DB instance status ({inst.status}) does not allow this operation.")
        retention_changed = inst.incremental_backup and keep != inst.backup_keep_days
        inst.backup_keep_days = keep
        if window and period:
            inst.backup_start_time, inst.backup_period = window, period
        inst.updated = parts.clock.now()
    if retention_changed and keep:
        restart_archivers(parts, instance_id)  # the archive's retention follows keep_days
    incremental = False if keep == 0 else policy.enable_incremental_backup
    if incremental is not None:
        set_incremental(parts, project_id, instance_id, incremental)


def restart_archivers(parts: Parts, instance_id: str) -> None:
    with parts.locks.of(instance_id), parts.db.session() as s:
        inst = s.get(Instance, instance_id)
        if inst is not None and inst.incremental_backup:
            for node in inst.nodes:
                if nodes.engine_pid(parts, node) is not None:
                    nodes.restart_archiver(parts, inst, node)


def set_incremental(parts: Parts, project_id: str, instance_id: str, on: bool) -> None:
    """Turn continuous archiving on or off; the nodes' archivers follow at once."""
    with parts.locks.of(instance_id), parts.db.session() as s:
        inst = instances.get(s, project_id, instance_id)
        if on and inst.backup_keep_days == 0:
            raise InvalidParameter("Incremental backup needs the automated backup policy (keep_days 1-732).")
        if on and inst.mode != "ReplicaSet":
            raise InvalidParameter("Incremental backup is available for replica set instances.")
        inst.incremental_backup = on
        inst.updated = parts.clock.now()
        s.flush()
        if inst.status in ALLOWED["backup_policy"]:
            for node in inst.nodes:
                if nodes.engine_pid(parts, node) is not None:
                    nodes.sync_archiver(parts, inst, node)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One HTTP byte range (`a-b`, `a-`, `-n`) as inclusive offsets; None for the whole file."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        raise RangeNotSatisfiable("Only one byte range is supported.")
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            n = int(last)
            if n <= 0:
                raise ValueError
            start, end = max(size - n, 0), size - 1
        else:
            start = int(first)
            end = int(last) if last else size - 1
    except ValueError:
        raise RangeNotSatisfiable() from None
    end = min(end, size - 1)
    if start < 0 or start > end or start >= size:
        raise RangeNotSatisfiable()
    return start, end
