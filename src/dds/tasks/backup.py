"""Job kinds of backups: take one (physical), export it (mongodump layout), stop one, delete one.

A backup is the engine's files frozen at one instant (`backup.snapshot`), streamed as a
zstd-compressed tar straight into the store. The row turns COMPLETED only after the archive
is whole in the store, so a job killed or stopped midway never shows a usable backup. The
portable mongodump-layout export is made afterwards, from the same frozen copy, by its own
job: the backup is usable (restorable, downloadable) as soon as the physical file is stored.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from dds.backup import archive, base_backup, dump, physical, snapshot
from dds.backup.manifest import FORMAT, PHYSICAL, Manifest, describe
from dds.core.errors import BackupInvalid, BackupNotFound, BackupStopped, InternalError
from dds.db.backups import Backup
from dds.db.models import Instance, Node
from dds.domain.jobs import JobName
from dds.domain.states import BackupStatus, InstanceStatus, transition
from dds.fleet import authorization, integrity, layout, members, nodes, temporary
from dds.jobs.queue import enqueue
from dds.jobs.registry import JobContext, JobKind
from dds.parts import Parts
from dds.store.base import ChunkReader
from dds.tasks.backup_files import backup_of
from dds.tasks.steps import clear_staging, ensure_running, settle_if

COPY = "engine"  # staging/<backup>/engine: engine files copied there (backup) or unpacked (export)
STOP_POLL = 0.2  # seconds between looks at a backup's stop flag while it is being written
STOP_WAIT = 600.0  # how long a stop job waits for the backup job to notice


def stop_check(parts: Parts, backup_id: str) -> Callable[[], None]:
    """A callable that raises BackupStopped once the backup was asked to stop (looks at most
    every STOP_POLL seconds, so it can be called for every chunk written)."""
    last = [0.0]

    def check() -> None:
        now = time.monotonic()
        if now - last[0] < STOP_POLL:
            return
        last[0] = now
        with parts.db.session() as s:
            if s.scalar(select(Backup.stop_requested).where(Backup.id == backup_id)):
                raise BackupStopped()

    return check


def take(ctx: JobContext) -> None:
    """Freeze the instance's engine files at one instant and stream them into the store as one
    archive; then (and only then) mark the backup COMPLETED and queue its export."""
    parts = ctx.parts
    backup_id = ctx.payload["backup_id"]
    with parts.db.session() as s:
        b = backup_of(s, ctx)
        completed, instance_id = b.status == BackupStatus.COMPLETED, b.instance_id
    if completed:
        # Resumed after a crash between the COMPLETED commit (which also queued the export) and
        # the job's step record: the backup is whole; taking it again would fail the job.
        settle_if(parts, instance_id, InstanceStatus.BACKING_UP)
        return
    stop_check(parts, backup_id)()
    if not ctx.payload.get("cold"):  # cold: an instance whose engine could not start, read as it lies
        ensure_running(ctx)  # a resumed job may find the engine gone with the service that crashed
    work = layout.staging(parts.settings, backup_id)
    archive.clear(work)
    work.mkdir(parents=True)
    with parts.db.session() as s:
        b = backup_of(s, ctx)
        inst = s.get(Instance, b.instance_id)
        if inst is None:
            raise BackupNotFound("The instance of this backup no longer exists.")
        node = nodes.primary(inst)
        data, key = layout.data_dir(parts.settings, node), b.object_key
        manifest = Manifest(
            backup_id=b.id,
            instance_id=b.instance_id,
            engine="ferretdb",
            engine_version=inst.engine_version or parts.engine.version(),
            mode=b.instance_mode,
            point_in_time="",
            consistency="snapshot",
        )
    if members.uses_postgresql(inst):
        size, digest = _base_backup(parts, inst, manifest, key, stop_check(parts, backup_id))
    else:
        size, digest = _frozen_files(parts, inst, node, data, manifest, key, work, stop_check(parts, backup_id))
    archive.clear(work / COPY)
    with parts.db.session() as s:
        b = backup_of(s, ctx)
        if b.stop_requested:
            raise BackupStopped()
        b.size_bytes, b.sha256 = size, digest
        b.manifest = {k: v for k, v in vars(manifest).items() if k != "files"}
        b.manifest["files"] = [vars(f) for f in manifest.files]
        transition(b, BackupStatus.COMPLETED)
        b.end_time = parts.clock.now()
        instance_id = b.instance_id
        if ctx.payload.get("recycle"):
            return  # the recycle bin's copy of a deleted instance: restores need only this file
        enqueue(
            s,
            name=JobName.EXPORT_BACKUP,
            project_id=b.project_id,
            now=parts.clock.now(),
            instance_id=b.instance_id,
            instance_name=b.instance_name,
            payload={"backup_id": b.id},
        )
    parts.wakeup.set()
    settle_if(parts, instance_id, InstanceStatus.BACKING_UP)


def _frozen_files(
    parts: Parts,
    inst: Instance,
    node: Node,
    data: Path,
    manifest: Manifest,
    key: str,
    work: Path,
    check: Callable[[], None],
) -> tuple[int, str]:
    """SQLite storage: the engine's files as of one pause of the engine, streamed into the store."""
    settings = parts.settings
    with contextlib.ExitStack() as held:
        # Under the instance's lock: the supervisor must not restart the engine while it is paused.
        with parts.locks.of(inst.id):
            lost = integrity.fault(parts, inst, node, deep=False) if integrity.recorded(inst, node) else None
            if lost:  # a backup of what is left would be taken for the instance's data
                raise integrity.DataFault(lost, node.name)
            taken = parts.clock.now()
            manifest.authorization = authorization.current(settings, inst.id)  # grants as frozen
            files = held.enter_context(
                snapshot.frozen(nodes.engine_pid(parts, node), data, work / COPY, skip=physical.SKIP_DATABASES)
            )
            if not any(Path(f.name).name == integrity.ADMIN for f in files):
                raise integrity.DataFault(f"no {integrity.ADMIN} among the engine's files", node.name)
        manifest.point_in_time = taken.strftime("%Y-%m-%dT%H:%M:%SZ")  # UTC, as the manifest says
        manifest.databases = {Path(f.name).stem: f.collections for f in files}
        with parts.store.writer(key) as sink:
            size, digest = physical.write(
                files,
                manifest,
                sink,
                level=settings.backup_zstd_level,
                threads=settings.backup_zstd_threads,
                check=check,
            )
        return size, digest


def _base_backup(
    parts: Parts, inst: Instance, manifest: Manifest, key: str, check: Callable[[], None]
) -> tuple[int, str]:
    """PostgreSQL storage: a base backup of a caught-up standby (the primary when none is), so the
    primary is not slowed, streamed into the store. The point in time is the backup's end."""
    # Under the instance's lock, as on SQLite storage: the supervisor does not rebuild the member
    # while it is picked, and the grants recorded are those of one moment.
    with parts.locks.of(inst.id):
        check()
        found = members.states(parts, inst)
        source = next((m for m in found if m.caught_up), None) or next((m for m in found if m.primary), None)
        if source is None:
            raise InternalError(f"No member of instance {inst.id} can be backed up now (no primary, no secondary).")
        node = next(n for n in inst.nodes if n.id == source.name)
        manifest.authorization = authorization.current(parts.settings, inst.id)
    # A standby's base backup starts at the last checkpoint it replayed: one made on the primary
    # now keeps the WAL the backup carries (and a restore replays) to what is written during it.
    # Outside the lock: a checkpoint of much written data takes a while.
    members.hurry([m.port for m in found if m.primary])
    settings = parts.settings
    log = layout.node_dir(settings, node) / "base-backup.log"

    def ended() -> None:  # the files are in: what the manifest says of them, written last
        manifest.point_in_time = parts.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        manifest.databases = base_backup.databases(source.port)
        manifest.ended_ms = int(time.time() * 1000)

    with (
        base_backup.streamed(members.tools(parts), source.port, log) as stream,
        parts.store.writer(key) as sink,
    ):
        return base_backup.write(
            stream,
            manifest,
            sink,
            level=settings.backup_zstd_level,
            threads=settings.backup_zstd_threads,
            check=check,
            ended=ended,
        )


log = logging.getLogger(__name__)


def _discard(parts: Parts, keys: list[str]) -> None:
    """Best effort, in failure handlers: the store that made the job fail may still be failing,
    and the backup's and instance's states must be settled all the same (a leftover object is
    only space; a state stuck `backing_up` blocks the instance)."""
    for key in keys:
        try:
            parts.store.delete(key)
        except Exception as exc:  # noqa: BLE001 - logged; the caller's state change matters more
            log.warning("could not remove %s from the backup store: %s", key, exc)


def forget(parts: Parts, backup_id: str) -> None:
    """The backup's row gone (a failed one that no listing should keep)."""
    with parts.db.session() as s:
        b = s.get(Backup, backup_id)
        if b is not None:
            s.delete(b)


def backup_failed(ctx: JobContext, reason: str) -> None:
    """The backup FAILED and its partial objects removed, unless it had completed already."""
    parts = ctx.parts
    backup_id = ctx.payload.get("backup_id", "-")
    with parts.db.session() as s:
        b = s.get(Backup, backup_id)
        if b is None:
            clear_staging(parts, backup_id)
            return
        keys, instance_id = b.object_keys(), b.instance_id
        completed = b.status == BackupStatus.COMPLETED  # only settling the instance failed
        if not completed:
            transition(b, BackupStatus.FAILED)
            b.end_time = parts.clock.now()
    if not completed:
        clear_staging(parts, backup_id)  # a completed backup's copy waits for its export
        _discard(parts, keys)
    settle_if(parts, instance_id, InstanceStatus.BACKING_UP)


def _export(ctx: JobContext) -> None:
    """Dump the backup's frozen copy (a temporary read-only engine) in the mongodump layout and
    stream it into the store beside the physical archive."""
    parts = ctx.parts
    backup_id = ctx.payload["backup_id"]
    work = layout.staging(parts.settings, backup_id)
    with parts.db.session() as s:
        b = s.get(Backup, backup_id)
        if b is None or b.status != BackupStatus.COMPLETED or not b.export_key:
            archive.clear(work)
            return  # deleted meanwhile: nothing to export
        key, instance_id, physical_key = b.export_key, b.instance_id, b.object_key
        fmt = str(b.manifest.get("format", PHYSICAL))
        manifest = Manifest(
            backup_id=b.id,
            instance_id=b.instance_id,
            engine="ferretdb",
            engine_version=str(b.manifest.get("engine_version", "")),
            mode=b.instance_mode,
            point_in_time=str(b.manifest.get("point_in_time", "")),
            consistency="snapshot",
            format=FORMAT,
        )
    copy, root = work / COPY, work / "dump"
    archive.clear(copy)
    archive.clear(root)
    archived = ChunkReader(parts.store.read(physical_key))
    with temporary.serve_archive(parts, instance_id, archived, fmt, copy) as client:
        result = dump.dump(client, root)
    archive.clear(copy)
    manifest.databases, manifest.documents, manifest.files = result.databases, result.documents, describe(root)
    with parts.store.writer(key) as sink:
        size, digest = archive.pack_into(root, manifest, sink, parts.settings.backup_compress_level)
    with parts.db.session() as s:
        b = s.get(Backup, backup_id)
        gone = b is None or b.status != BackupStatus.COMPLETED
        if b is not None and not gone:
            b.export_size_bytes, b.export_sha256 = size, digest
    if gone:
        parts.store.delete(key)  # the backup was deleted while its export was made
    archive.clear(work)


def _export_failed(ctx: JobContext, reason: str) -> None:
    parts = ctx.parts
    clear_staging(parts, ctx.payload.get("backup_id", "-"))
    with parts.db.session() as s:
        b = s.get(Backup, ctx.payload.get("backup_id"))
        key = b.export_key if b is not None and b.export_size_bytes is None else None
    if key:
        _discard(parts, [key])


def _await_stopped(ctx: JobContext) -> None:
    """The stop request is recorded on the backup; wait until its job noticed and cleaned up."""
    parts = ctx.parts
    deadline = time.monotonic() + STOP_WAIT
    while True:
        with parts.db.session() as s:
            b = s.get(Backup, ctx.payload["backup_id"])
            status = None if b is None else b.status
        if status in (None, BackupStatus.FAILED, BackupStatus.DISABLED):
            return
        if status == BackupStatus.COMPLETED:
            raise BackupInvalid("The backup completed before it could be stopped.")
        if time.monotonic() > deadline:
            raise InternalError("The backup did not stop in time.")
        time.sleep(0.05)


def _delete_backup(ctx: JobContext) -> None:
    """Objects first, row second: a row never points at nothing while it says COMPLETED."""
    parts = ctx.parts
    with parts.db.session() as s:
        b = s.get(Backup, ctx.payload["backup_id"])
        if b is None:
            return
        keys = b.object_keys()
    for key in keys:
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
    JobKind(JobName.BACKUP, (take,), on_failure=backup_failed),
    JobKind(JobName.EXPORT_BACKUP, (_export,), on_failure=_export_failed),
    JobKind(JobName.STOP_BACKUP, (_await_stopped,)),
    JobKind(JobName.DELETE_BACKUP, (_delete_backup,), on_failure=_delete_failed),
)
