"""Job kinds for backups and restores. Every step is idempotent: a resumed job re-runs
the step it was in. A backup row turns COMPLETED only in the last step, after the
archive is whole in the store, so a job killed midway never shows a usable backup."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select

from dds.backup import archive, dump, load, snapshot
from dds.backup.manifest import Manifest, describe
from dds.db.backups import Backup
from dds.db.models import Instance
from dds.domain.states import BackupStatus, BackupType, InstanceStatus, JobStatus, NodeStatus
from dds.errors import BackupCorrupt, BackupNotFound
from dds.jobs import instance_jobs
from dds.jobs.kinds import JobContext, JobKind, register
from dds.runtime import Runtime
from dds.services import nodes

SNAPSHOT = "data.pre-restore"  # a node's engine files as they were before a restore


def _store(rt: Runtime):  # type: ignore[no-untyped-def]
    from dds.services.backups import store

    return store(rt)


def staging(rt: Runtime, name: str) -> Path:
    return rt.settings.backup_staging_dir / name


def _backup(s, ctx: JobContext) -> Backup:  # type: ignore[no-untyped-def]
    b = s.get(Backup, ctx.payload["backup_id"])
    if b is None:
        raise BackupNotFound()
    return b


def _settle_instance(rt: Runtime, instance_id: str, busy: InstanceStatus) -> None:
    """Back to normal, unless something else changed the status meanwhile (e.g. delete)."""
    with rt.db.session() as s:
        inst = s.get(Instance, instance_id)
        if inst is not None and inst.status == busy:
            inst.status = instance_jobs.settled(inst)
            inst.updated = rt.clock.now()


# --- backup -------------------------------------------------------------------------------

def _dump(ctx: JobContext) -> None:
    """Dump a frozen copy of the instance (see backup.snapshot) and pack the archive into staging."""
    rt = ctx.runtime
    work = staging(rt, ctx.payload["backup_id"])
    archive.clear(work)
    work.mkdir(parents=True)
    with rt.db.session() as s:
        b = _backup(s, ctx)
        inst = s.get(Instance, b.instance_id)
        if inst is None:
            raise BackupNotFound("The instance of this backup no longer exists.")
        _ = inst.nodes
        engine_version = inst.engine_version or rt.engine.version()
    root = work / "dump"
    with snapshot.serve_snapshot(rt, inst, work) as (client, taken):
        result = dump.dump(client, root)
    result.point_in_time = taken
    archive.clear(work / "engine")
    manifest = Manifest(
        backup_id=b.id, instance_id=b.instance_id, engine="ferretdb", engine_version=engine_version,
        mode=b.instance_mode,
        point_in_time=result.point_in_time.strftime("%Y-%m-%dT%H:%M:%SZ") if result.point_in_time else "",
        consistency=result.consistency, databases=result.databases, documents=result.documents,
        files=describe(root),
    )
    size, digest = archive.pack(root, manifest, work / b.file_name, rt.settings.backup_compress_level)
    archive.clear(root)
    with rt.db.session() as s:
        row = _backup(s, ctx)
        row.size_bytes, row.sha256 = size, digest
        row.manifest = {k: v for k, v in vars(manifest).items() if k != "files"}
        row.manifest["files"] = [vars(f) for f in manifest.files]


def _upload(ctx: JobContext) -> None:
    """Put the archive in the store, then (and only then) mark the backup COMPLETED."""
    rt = ctx.runtime
    with rt.db.session() as s:
        b = _backup(s, ctx)
        if b.status == BackupStatus.COMPLETED:
            return
        key, file_name, size = b.object_key, b.file_name, b.size_bytes
    local = staging(rt, ctx.payload["backup_id"]) / file_name
    st = _store(rt)
    if local.exists():
        st.put(key, local)
    if st.size(key) != size:
        raise BackupCorrupt("The archive did not reach the backup store whole.")
    with rt.db.session() as s:
        b = _backup(s, ctx)
        b.status = BackupStatus.COMPLETED
        b.end_time = rt.clock.now()
        instance_id = b.instance_id
    archive.clear(staging(rt, ctx.payload["backup_id"]))
    _settle_instance(rt, instance_id, InstanceStatus.BACKING_UP)


def _backup_failed(ctx: JobContext, reason: str) -> None:
    rt = ctx.runtime
    archive.clear(staging(rt, ctx.payload.get("backup_id", "-")))
    with rt.db.session() as s:
        b = s.get(Backup, ctx.payload.get("backup_id"))
        if b is None:
            return
        key, instance_id = b.object_key, b.instance_id
        b.status = BackupStatus.FAILED
        b.end_time = rt.clock.now()
    _store(rt).delete(key)
    _settle_instance(rt, instance_id, InstanceStatus.BACKING_UP)


# --- delete -------------------------------------------------------------------------------

def _delete_backup(ctx: JobContext) -> None:
    """Object first, row second: a row never points at nothing while it says COMPLETED."""
    rt = ctx.runtime
    with rt.db.session() as s:
        b = s.get(Backup, ctx.payload["backup_id"])
        if b is None:
            return
        key = b.object_key
    _store(rt).delete(key)
    with rt.db.session() as s:
        b = s.get(Backup, ctx.payload["backup_id"])
        if b is not None:
            s.delete(b)


def _delete_failed(ctx: JobContext, reason: str) -> None:
    with ctx.runtime.db.session() as s:
        b = s.get(Backup, ctx.payload.get("backup_id"))
        if b is not None:
            b.status = BackupStatus.FAILED  # the object may be gone: never COMPLETED again


def drop_automated(rt: Runtime, instance_id: str) -> None:
    """Deleting an instance deletes its automated backups (DDS); manual ones stay."""
    with rt.db.session() as s:
        rows = s.scalars(
            select(Backup).where(Backup.instance_id == instance_id, Backup.type == BackupType.AUTO)
        ).all()
        keys = [(b.id, b.object_key) for b in rows]
        for b in rows:
            b.status = BackupStatus.DISABLED
    st = _store(rt)
    for backup_id, key in keys:
        st.delete(key)
        with rt.db.session() as s:
            row = s.get(Backup, backup_id)
            if row is not None:
                s.delete(row)


# --- restore ------------------------------------------------------------------------------

def _fetch_verify(ctx: JobContext) -> None:
    """Fetch the archive and check every checksum; the target is not touched yet."""
    rt = ctx.runtime
    work = staging(rt, ctx.job_id)
    archive.clear(work)
    work.mkdir(parents=True)
    with rt.db.session() as s:
        b = _backup(s, ctx)
        if b.status != BackupStatus.COMPLETED:
            raise BackupCorrupt(f"The backup is {b.status} and cannot be restored.")
        key, file_name, size, digest = b.object_key, b.file_name, b.size_bytes, b.sha256
    local = work / file_name
    _store(rt).fetch(key, local)
    archive.verify_archive(local, size, digest)
    archive.unpack(local, work / "x")
    local.unlink()


def _load_into(ctx: JobContext, *, replace: bool) -> None:
    rt = ctx.runtime
    root = staging(rt, ctx.job_id) / "x" / "dump"
    if not root.is_dir():
        raise BackupCorrupt("The verified backup is no longer in staging; restart the restore.")
    with rt.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is None:
            raise BackupNotFound("The target instance no longer exists.")
        _ = inst.nodes
    with nodes.admin_client(rt, inst, timeout_ms=30000) as client:
        load.clear_tenant_data(client)  # also undoes a previous, interrupted attempt
        counts = load.load(client, root)
    ctx.payload["documents"] = counts["documents"]


def _load_new(ctx: JobContext) -> None:
    _load_into(ctx, replace=False)


def _finish_new(ctx: JobContext) -> None:
    archive.clear(staging(ctx.runtime, ctx.job_id))
    instance_jobs._finish_create(ctx)


def _restore_new_failed(ctx: JobContext, reason: str) -> None:
    archive.clear(staging(ctx.runtime, ctx.job_id))
    instance_jobs._create_failed(ctx, reason)


def _snapshot_target(ctx: JobContext) -> None:
    """Stop the target, copy its engine files aside, start it again. Kept until the
    restore succeeds, so a failure puts the target back exactly as it was."""
    rt = ctx.runtime
    with rt.instance_lock(ctx.instance_id), rt.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is None:
            raise BackupNotFound("The target instance no longer exists.")
        for node in inst.nodes:
            snap = nodes.node_dir(rt, node) / SNAPSHOT
            if snap.exists():
                continue  # taken by an earlier attempt: that copy is the original
            nodes.stop_node(rt, node)
            partial = snap.with_name(SNAPSHOT + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            shutil.copytree(nodes.node_dir(rt, node) / "data", partial)
            partial.rename(snap)
        for node in inst.nodes:
            if not nodes.is_running(rt, node):
                node.pid = nodes.start_node(rt, inst, node)
                node.status = NodeStatus.NORMAL


def _load_replace(ctx: JobContext) -> None:
    _load_into(ctx, replace=True)


def _drop_snapshots(rt: Runtime, inst: Instance) -> None:
    for node in inst.nodes:
        shutil.rmtree(nodes.node_dir(rt, node) / SNAPSHOT, ignore_errors=True)


def _finish_recovery(ctx: JobContext) -> None:
    rt = ctx.runtime
    with rt.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is not None:
            _drop_snapshots(rt, inst)
            inst.status = instance_jobs.settled(inst)
            inst.updated = rt.clock.now()
    archive.clear(staging(rt, ctx.job_id))


def _recovery_failed(ctx: JobContext, reason: str) -> None:
    """Put the snapshot back (if the target was touched at all) and restart the target."""
    rt = ctx.runtime
    archive.clear(staging(rt, ctx.job_id))
    with rt.instance_lock(ctx.instance_id), rt.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is None:
            return
        for node in inst.nodes:
            snap = nodes.node_dir(rt, node) / SNAPSHOT
            if snap.exists():
                nodes.stop_node(rt, node)
                data = nodes.node_dir(rt, node) / "data"
                shutil.rmtree(data, ignore_errors=True)
                snap.rename(data)
        running = True
        for node in inst.nodes:
            if not nodes.is_running(rt, node):
                try:
                    node.pid = nodes.start_node(rt, inst, node)
                    node.status = NodeStatus.NORMAL
                except Exception:
                    node.status = NodeStatus.ABNORMAL
                    running = False
        inst.status = instance_jobs.settled(inst) if running else InstanceStatus.ABNORMAL


def fail_orphaned_backups(rt: Runtime) -> int:
    """At start-up: a BUILDING backup whose job is gone can never complete."""
    from dds.db.models import Job

    with rt.db.session() as s:
        live = {
            j.payload.get("backup_id")
            for j in s.scalars(select(Job).where(Job.status == JobStatus.RUNNING, Job.name == BACKUP.name))
        }
        stale = [b for b in s.scalars(select(Backup).where(Backup.status == BackupStatus.BUILDING))
                 if b.id not in live]
        for b in stale:
            b.status = BackupStatus.FAILED
        return len(stale)


BACKUP = register(JobKind("MongodbSnapshotBackup", (_dump, _upload), on_failure=_backup_failed))
DELETE_BACKUP = register(JobKind("DeleteManualBackup", (_delete_backup,), on_failure=_delete_failed))
RESTORE_NEW = register(
    JobKind(
        "MongodbRestoreData2NewInstance",
        (_fetch_verify, instance_jobs.start_nodes, instance_jobs._init_engine, _load_new, _finish_new),
        on_failure=_restore_new_failed,
    )
)
RESTORE_CURRENT = register(
    JobKind(
        "MongodbRestoreData2CurrentInstance",
        (_fetch_verify, _snapshot_target, _load_replace, _finish_recovery),
        on_failure=_recovery_failed,
    )
)
RESTORE_JOB_NAMES = (RESTORE_NEW.name, RESTORE_CURRENT.name)
