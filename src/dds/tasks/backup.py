"""Job kinds of backups: take one, delete one.

A backup row turns COMPLETED only in the last step, after the archive is whole in the
store, so a job killed midway never shows a usable backup.
"""

from __future__ import annotations

from dds.backup import archive, dump
from dds.backup.manifest import Manifest, describe
from dds.core.errors import BackupCorrupt, BackupNotFound
from dds.db.backups import Backup
from dds.db.models import Instance
from dds.domain.jobs import JobName
from dds.domain.states import BackupStatus, InstanceStatus, transition
from dds.fleet import layout, temporary
from dds.jobs.registry import JobContext, JobKind
from dds.tasks.backup_files import backup_of
from dds.tasks.steps import clear_staging, settle_if


def _dump(ctx: JobContext) -> None:
    """Dump a frozen copy of the instance (a temporary engine) and pack the archive into staging."""
    parts = ctx.parts
    work = layout.staging(parts.settings, ctx.payload["backup_id"])
    archive.clear(work)
    work.mkdir(parents=True)
    with parts.db.session() as s:
        b = backup_of(s, ctx)
        inst = s.get(Instance, b.instance_id)
        if inst is None:
            raise BackupNotFound("The instance of this backup no longer exists.")
        _ = inst.nodes
        engine_version = inst.engine_version or parts.engine.version()
    root = work / "dump"
    with temporary.serve_snapshot(parts, inst, work) as (client, taken):
        result = dump.dump(client, root)
    result.point_in_time = taken
    archive.clear(work / "engine")
    manifest = Manifest(
        backup_id=b.id,
        instance_id=b.instance_id,
        engine="ferretdb",
        engine_version=engine_version,
        mode=b.instance_mode,
        point_in_time=result.point_in_time.strftime("%Y-%m-%dT%H:%M:%SZ") if result.point_in_time else "",
        consistency=result.consistency,
        databases=result.databases,
        documents=result.documents,
        files=describe(root),
    )
    size, digest = archive.pack(root, manifest, work / b.file_name, parts.settings.backup_compress_level)
    archive.clear(root)
    with parts.db.session() as s:
        row = backup_of(s, ctx)
        row.size_bytes, row.sha256 = size, digest
        row.manifest = {k: v for k, v in vars(manifest).items() if k != "files"}
        row.manifest["files"] = [vars(f) for f in manifest.files]


def _upload(ctx: JobContext) -> None:
    """Put the archive in the store, then (and only then) mark the backup COMPLETED."""
    parts = ctx.parts
    with parts.db.session() as s:
        b = backup_of(s, ctx)
        if b.status == BackupStatus.COMPLETED:
            return
        key, file_name, size = b.object_key, b.file_name, b.size_bytes
    local = layout.staging(parts.settings, ctx.payload["backup_id"]) / file_name
    if local.exists():
        parts.store.put(key, local)
    if parts.store.size(key) != size:
        raise BackupCorrupt("The archive did not reach the backup store whole.")
    with parts.db.session() as s:
        b = backup_of(s, ctx)
        transition(b, BackupStatus.COMPLETED)
        b.end_time = parts.clock.now()
        instance_id = b.instance_id
    clear_staging(parts, ctx.payload["backup_id"])
    settle_if(parts, instance_id, InstanceStatus.BACKING_UP)


def _backup_failed(ctx: JobContext, reason: str) -> None:
    parts = ctx.parts
    clear_staging(parts, ctx.payload.get("backup_id", "-"))
    with parts.db.session() as s:
        b = s.get(Backup, ctx.payload.get("backup_id"))
        if b is None:
            return
        key, instance_id = b.object_key, b.instance_id
        completed = b.status == BackupStatus.COMPLETED  # only settling the instance failed
        if not completed:
            transition(b, BackupStatus.FAILED)
            b.end_time = parts.clock.now()
    if not completed:
        parts.store.delete(key)
    settle_if(parts, instance_id, InstanceStatus.BACKING_UP)


def _delete_backup(ctx: JobContext) -> None:
    """Object first, row second: a row never points at nothing while it says COMPLETED."""
    parts = ctx.parts
    with parts.db.session() as s:
        b = s.get(Backup, ctx.payload["backup_id"])
        if b is None:
            return
        key = b.object_key
    parts.store.delete(key)
    with parts.db.session() as s:
        b = s.get(Backup, ctx.payload["backup_id"])
        if b is not None:
            s.delete(b)


def _delete_failed(ctx: JobContext, reason: str) -> None:
    with ctx.parts.db.session() as s:
        b = s.get(Backup, ctx.payload.get("backup_id"))
        if b is not None:
            transition(b, BackupStatus.FAILED)  # the object may be gone: never COMPLETED again


KINDS = (
    JobKind(JobName.BACKUP, (_dump, _upload), on_failure=_backup_failed),
    JobKind(JobName.DELETE_BACKUP, (_delete_backup,), on_failure=_delete_failed),
)
