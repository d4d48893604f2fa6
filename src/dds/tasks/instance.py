"""Job kinds of the instance lifecycle: create, delete, restart, port, resize, enlarge.

Every step is idempotent: a resumed job re-runs the step it was in.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from dds.db.management import RecycledInstance
from dds.db.models import Instance
from dds.domain.jobs import JobName
from dds.fleet import addresses, archivers, layout, nodes
from dds.jobs.registry import JobContext, JobKind
from dds.tasks import backup, backup_files
from dds.tasks.steps import (
    create_failed,
    finish_create,
    init_engine,
    load_instance,
    restore_status,
    roll_members,
    rolls,
    settle,
    start_engines_first,
    start_nodes,
    stop_nodes,
)

log = logging.getLogger(__name__)


def _delete_rows(ctx: JobContext) -> None:
    parts = ctx.parts
    layout.remove_instance_files(parts.settings, ctx.instance_id)
    with parts.db.session() as s:
        row = s.get(Instance, ctx.instance_id)
        if row is not None:
            s.delete(row)


def _recycle_backup(ctx: JobContext) -> None:
    """With a recycle policy, the instance is backed up before anything of it goes. An instance
    that was not serving is backed up from its files as they lie; if even that fails, it is
    deleted without a recycle-bin entry (the backup removed) rather than left undeletable."""
    if not ctx.payload.get("recycle"):
        return
    if not ctx.payload.get("cold"):
        backup.take(ctx)
        return
    try:
        backup.take(ctx)
    except Exception as exc:
        log.warning("instance %s: no recycle-bin backup of its files (%s); deleting without one", ctx.instance_id, exc)
        backup.backup_failed(ctx, str(exc))
        backup.forget(ctx.parts, ctx.payload["backup_id"])
        ctx.payload["recycle"] = False


def _record_recycled(ctx: JobContext) -> None:
    """Into the recycle bin (before the instance's rows go): until when, and from which backup."""
    if not ctx.payload.get("recycle"):
        return
    now = ctx.parts.clock.now()
    with ctx.parts.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is None:
            return
        s.merge(
            RecycledInstance(
                id=inst.id,
                project_id=inst.project_id,
                name=inst.name,
                mode=inst.mode,
                datastore_version=inst.datastore_version,
                backup_id=ctx.payload["backup_id"],
                created=inst.created,
                deleted_at=now,
                retained_until=now + timedelta(days=int(ctx.payload.get("recycle_days", 7))),
            )
        )


def _delete_failed(ctx: JobContext, reason: str) -> None:
    """A delete that failed leaves the instance deletable again, never stuck `deleting`: its
    recycle-bin backup marked FAILED (unless it completed), the instance `normal` if its engines
    still run (the backup step failed first: nothing was removed) or `abnormal`."""
    if ctx.payload.get("recycle"):
        backup.backup_failed(ctx, reason)
    restore_status(ctx, reason)


def _drop_archive(ctx: JobContext) -> None:
    """Incremental backups (the continuous archive) go with the instance, as on DDS."""
    archivers.drop_archive(ctx.parts, ctx.instance_id)


def _drop_automated_backups(ctx: JobContext) -> None:
    """DDS deletes an instance's automated backups with it; manual backups are kept."""
    backup_files.drop_automated(ctx.parts, ctx.instance_id)


def _apply_payload(ctx: JobContext) -> None:
    """Write the new port / volume / flavor from the payload into the rows."""
    parts = ctx.parts
    with parts.db.session() as s:
        inst = load_instance(ctx, s)
        p = ctx.payload
        if "port" in p:
            inst.port = p["port"]
            for node in inst.nodes:
                addresses.set_client_port(node, p["port"])
        if "spec_code" in p:
            inst.spec_code = p["spec_code"]
        if "volume_gb" in p:
            inst.volume_gb = p["volume_gb"]
            quota = inst.volume_gb * parts.settings.volume_unit_bytes
            ctx.payload["_reopen"] = inst.read_only and nodes.data_bytes(parts, inst) < quota
            if ctx.payload["_reopen"]:
                inst.read_only = False


def _reopen_if_needed(ctx: JobContext) -> None:
    """After enlarge-volume: an instance that was full gets its writes back."""
    if ctx.payload.get("_reopen"):
        start_nodes(ctx)


def _stop_unless_rolling(ctx: JobContext) -> None:
    if not rolls(ctx):
        stop_nodes(ctx)


def _start_or_roll(ctx: JobContext) -> None:
    """Start the stopped nodes, or restart the members one by one (`steps.roll_members`)."""
    if rolls(ctx):
        roll_members(ctx)
    else:
        start_nodes(ctx)


def _revert_port(ctx: JobContext, reason: str) -> None:
    """A port change that could not start leaves the instance on its old port, serving."""
    old = ctx.payload.get("old_port")
    if old is not None:
        ctx.payload["port"] = old
        try:
            stop_nodes(ctx)
            _apply_payload(ctx)
            start_nodes(ctx)
        except Exception:  # noqa: BLE001 - the status below tells what is left
            pass
    restore_status(ctx, reason)


KINDS = (
    JobKind(JobName.CREATE, (start_engines_first, init_engine, finish_create), on_failure=create_failed),
    JobKind(
        JobName.DELETE,
        (_recycle_backup, stop_nodes, _drop_automated_backups, _drop_archive, _record_recycled, _delete_rows),
        on_failure=_delete_failed,
    ),
    JobKind(JobName.RESTART, (_stop_unless_rolling, _start_or_roll, settle), on_failure=restore_status),
    JobKind(JobName.MODIFY_PORT, (stop_nodes, _apply_payload, start_nodes, settle), on_failure=_revert_port),
    JobKind(JobName.RESIZE, (_stop_unless_rolling, _apply_payload, _start_or_roll, settle), on_failure=restore_status),
    JobKind(JobName.ENLARGE, (_apply_payload, _reopen_if_needed, settle), on_failure=restore_status),
)
