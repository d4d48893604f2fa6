"""Job kinds for the instance lifecycle. Every step is idempotent: a resumed
job re-runs the step it was in."""

from __future__ import annotations

import contextlib

from pymongo.errors import OperationFailure

from dds.db.models import Instance
from dds.domain.states import InstanceStatus, NodeStatus
from dds.errors import InstanceNotFound
from dds.jobs.kinds import JobContext, JobKind, register
from dds.services import nodes

PENDING_PASSWORD = "pending.secret"
OPLOG_SHARE = 0.1  # oplog cap as a share of the volume, as DDS sizes it


def _load(ctx: JobContext, s) -> Instance:  # type: ignore[no-untyped-def]
    inst = s.get(Instance, ctx.instance_id)
    if inst is None:
        raise InstanceNotFound()
    return inst


def settled(inst: Instance) -> InstanceStatus:
    """The status an instance returns to once no job is working on it."""
    return InstanceStatus.DATA_DISK_FULL if inst.read_only else InstanceStatus.NORMAL


def start_nodes(ctx: JobContext) -> None:
    """(Re)start every node's engine and record pids; safe to repeat."""
    rt = ctx.runtime
    with rt.instance_lock(ctx.instance_id), rt.db.session() as s:
        inst = _load(ctx, s)
        for node in inst.nodes:
            node.pid = nodes.start_node(rt, inst, node)
            node.status = NodeStatus.NORMAL


def stop_nodes(ctx: JobContext) -> None:
    rt = ctx.runtime
    with rt.instance_lock(ctx.instance_id), rt.db.session() as s:
        inst = _load(ctx, s)
        for node in inst.nodes:
            nodes.stop_node(rt, node)
            node.pid = None
            node.status = NodeStatus.STOPPED


def settle(ctx: JobContext) -> None:
    with ctx.runtime.db.session() as s:
        inst = _load(ctx, s)
        inst.status = settled(inst)
        inst.updated = ctx.runtime.clock.now()


def _init_engine(ctx: JobContext) -> None:
    """Oplog for replica sets (capped, as FerretDB requires) and the tenant's rwuser."""
    rt = ctx.runtime
    pending = nodes.instance_dir(rt, ctx.instance_id) / PENDING_PASSWORD
    with rt.db.session() as s:
        inst = _load(ctx, s)
        with nodes.admin_client(rt, inst) as client:
            if inst.mode == "ReplicaSet" and "oplog.rs" not in client.local.list_collection_names():
                size = max(int(inst.volume_gb * rt.settings.volume_unit_bytes * OPLOG_SHARE), 1024**2)
                with contextlib.suppress(OperationFailure):  # created by a previous attempt
                    client.local.command("create", "oplog.rs", capped=True, size=size)
            users = {u["user"] for u in client.admin.command("usersInfo")["users"]}
            if "rwuser" not in users:
                client.admin.command("createUser", "rwuser", pwd=pending.read_text(), roles=[])
        inst.engine_version = rt.engine.version()


def _finish_create(ctx: JobContext) -> None:
    (nodes.instance_dir(ctx.runtime, ctx.instance_id) / PENDING_PASSWORD).unlink(missing_ok=True)
    settle(ctx)


def _create_failed(ctx: JobContext, reason: str) -> None:
    rt = ctx.runtime
    (nodes.instance_dir(rt, ctx.instance_id) / PENDING_PASSWORD).unlink(missing_ok=True)
    with rt.instance_lock(ctx.instance_id), rt.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is None:
            return
        for node in inst.nodes:
            nodes.stop_node(rt, node)
            node.pid = None
            node.status = NodeStatus.ABNORMAL
        inst.status = InstanceStatus.CREATE_FAILED


def _delete_rows(ctx: JobContext) -> None:
    rt = ctx.runtime
    nodes.remove_instance_files(rt, ctx.instance_id)
    with rt.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is not None:
            s.delete(inst)


def _drop_automated_backups(ctx: JobContext) -> None:
    """DDS deletes an instance's automated backups with it; manual backups are kept."""
    from dds.jobs.backup_jobs import drop_automated

    drop_automated(ctx.runtime, ctx.instance_id)


def _restore_status(ctx: JobContext, reason: str) -> None:
    """A failed maintenance job leaves the instance running as it was, or abnormal."""
    rt = ctx.runtime
    with rt.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is not None:
            running = all(nodes.is_running(rt, n) for n in inst.nodes)
            inst.status = settled(inst) if running else InstanceStatus.ABNORMAL


def _apply_payload(ctx: JobContext) -> None:
    """Write the new port / volume / flavor from the payload into the rows."""
    rt = ctx.runtime
    with rt.db.session() as s:
        inst = _load(ctx, s)
        p = ctx.payload
        if "port" in p:
            inst.port = p["port"]
            for node in inst.nodes:
                node.port = node.engine_port = p["port"]
        if "spec_code" in p:
            inst.spec_code = p["spec_code"]
        if "volume_gb" in p:
            inst.volume_gb = p["volume_gb"]
            quota = inst.volume_gb * rt.settings.volume_unit_bytes
            ctx.payload["_reopen"] = inst.read_only and nodes.data_bytes(rt, inst) < quota
            if ctx.payload["_reopen"]:
                inst.read_only = False


def _reopen_if_needed(ctx: JobContext) -> None:
    """After enlarge-volume: an instance that was full gets its writes back."""
    if ctx.payload.get("_reopen"):
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
    _restore_status(ctx, reason)


CREATE = register(JobKind("CreateMongoDB", (start_nodes, _init_engine, _finish_create), on_failure=_create_failed))
DELETE = register(JobKind("DeleteMongoDB", (stop_nodes, _drop_automated_backups, _delete_rows)))
RESTART = register(JobKind("RestartInstance", (stop_nodes, start_nodes, settle), on_failure=_restore_status))
MODIFY_PORT = register(
    JobKind("ModifyPort", (stop_nodes, _apply_payload, start_nodes, settle), on_failure=_revert_port)
)
RESIZE = register(
    JobKind("ResizeInstance", (stop_nodes, _apply_payload, start_nodes, settle), on_failure=_restore_status)
)
ENLARGE = register(
    JobKind("EnlargeInstanceVolume", (_apply_payload, _reopen_if_needed, settle), on_failure=_restore_status)
)
