"""Job kinds of restores: a backup (or the archive as of a time, see `tasks.pitr`) into a new
instance, or onto an existing one; and collections as of a time into a running instance.

The archive is fetched and every checksum verified before any instance is touched; a
restore onto an existing instance sets the target's files aside first and puts them
back if anything fails.
"""

from __future__ import annotations

import shutil

from dds.backup import archive, load
from dds.core.errors import BackupCorrupt, BackupNotFound
from dds.db.models import Instance
from dds.domain.jobs import JobName
from dds.domain.states import BackupStatus, InstanceStatus, NodeStatus, settled, transition
from dds.fleet import layout, nodes
from dds.jobs.registry import JobContext, JobKind
from dds.parts import Parts
from dds.tasks import pitr
from dds.tasks.backup_files import backup_of
from dds.tasks.pitr import by_source
from dds.tasks.steps import (
    clear_staging,
    create_failed,
    ensure_running,
    finish_create,
    init_engine,
    start_nodes,
)

SNAPSHOT = "data.pre-restore"  # a node's engine files as they were before a restore


def _fetch_verify(ctx: JobContext) -> None:
    """Fetch the archive and check every checksum; the target is not touched yet."""
    parts = ctx.parts
    work = layout.staging(parts.settings, ctx.job_id)
    archive.clear(work)
    work.mkdir(parents=True)
    with parts.db.session() as s:
        b = backup_of(s, ctx)
        if b.status != BackupStatus.COMPLETED:
            raise BackupCorrupt(f"The backup is {b.status} and cannot be restored.")
        key, file_name, size, digest = b.object_key, b.file_name, b.size_bytes, b.sha256
    local = work / file_name
    parts.store.fetch(key, local)
    archive.verify_archive(local, size, digest)
    archive.unpack(local, work / "x")
    local.unlink()


def _load(ctx: JobContext) -> None:
    """Replace the target's tenant data with the verified dump (also undoes an interrupted attempt)."""
    parts = ctx.parts
    root = layout.staging(parts.settings, ctx.job_id) / "x" / "dump"
    if not root.is_dir():
        raise BackupCorrupt("The verified backup is no longer in staging; restart the restore.")
    ensure_running(ctx)
    with parts.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is None:
            raise BackupNotFound("The target instance no longer exists.")
        _ = inst.nodes
    with nodes.admin_client(parts, inst, timeout_ms=30000) as client:
        load.clear_tenant_data(client)
        counts = load.load(client, root)
    ctx.payload["documents"] = counts["documents"]


def _finish_new(ctx: JobContext) -> None:
    clear_staging(ctx.parts, ctx.job_id)
    finish_create(ctx)


def _restore_new_failed(ctx: JobContext, reason: str) -> None:
    clear_staging(ctx.parts, ctx.job_id)
    create_failed(ctx, reason)


def _snapshot_target(ctx: JobContext) -> None:
    """Stop the target, copy its engine files aside, start it again. Kept until the
    restore succeeds, so a failure puts the target back exactly as it was."""
    parts = ctx.parts
    with parts.locks.of(ctx.instance_id), parts.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is None:
            raise BackupNotFound("The target instance no longer exists.")
        for node in inst.nodes:
            snap = layout.node_dir(parts.settings, node) / SNAPSHOT
            if snap.exists():
                continue  # taken by an earlier attempt: that copy is the original
            nodes.stop_node(parts, node)
            partial = snap.with_name(SNAPSHOT + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            shutil.copytree(layout.data_dir(parts.settings, node), partial)
            partial.rename(snap)
        for node in inst.nodes:
            if not nodes.is_running(parts, node):
                node.pid = nodes.start_node(parts, inst, node)
                transition(node, NodeStatus.NORMAL)


def _drop_snapshots(parts: Parts, inst: Instance) -> None:
    for node in inst.nodes:
        shutil.rmtree(layout.node_dir(parts.settings, node) / SNAPSHOT, ignore_errors=True)


def _finish_recovery(ctx: JobContext) -> None:
    parts = ctx.parts
    with parts.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is not None:
            _drop_snapshots(parts, inst)
            transition(inst, settled(inst.read_only))
            inst.updated = parts.clock.now()
    clear_staging(parts, ctx.job_id)


def _recovery_failed(ctx: JobContext, reason: str) -> None:
    """Put the snapshot back (if the target was touched at all) and restart the target."""
    parts = ctx.parts
    clear_staging(parts, ctx.job_id)
    with parts.locks.of(ctx.instance_id), parts.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is None:
            return
        for node in inst.nodes:
            snap = layout.node_dir(parts.settings, node) / SNAPSHOT
            if snap.exists():
                nodes.stop_node(parts, node)
                data = layout.data_dir(parts.settings, node)
                shutil.rmtree(data, ignore_errors=True)
                snap.rename(data)
        running = True
        for node in inst.nodes:
            if not nodes.is_running(parts, node):
                try:
                    node.pid = nodes.start_node(parts, inst, node)
                    transition(node, NodeStatus.NORMAL)
                except Exception:
                    transition(node, NodeStatus.ABNORMAL)
                    running = False
        transition(inst, settled(inst.read_only) if running else InstanceStatus.ABNORMAL)


KINDS = (
    JobKind(
        JobName.RESTORE_NEW,
        (by_source(_fetch_verify, pitr.fetch), start_nodes, init_engine, by_source(_load, pitr.swap), _finish_new),
        on_failure=_restore_new_failed,
    ),
    JobKind(
        JobName.RESTORE_CURRENT,
        (by_source(_fetch_verify, pitr.fetch), _snapshot_target, by_source(_load, pitr.swap), _finish_recovery),
        on_failure=_recovery_failed,
    ),
    JobKind(
        JobName.RESTORE_COLLECTIONS,
        (pitr.fetch_collections, pitr.copy_collections, pitr.finish_collections),
        on_failure=pitr.collections_failed,
    ),
)
