"""Steps several job kinds share (create and restore-to-new build an instance the same way).

Every step is idempotent: a resumed job re-runs the step it was in.
"""

from __future__ import annotations

import contextlib

from pymongo.errors import OperationFailure
from sqlalchemy.orm import Session

from dds.backup import archive
from dds.core.errors import InstanceNotFound
from dds.db.models import Instance
from dds.domain.states import InstanceStatus, NodeStatus, settled, transition
from dds.fleet import authorization, integrity, layout, members, nodes, rolling, secrets
from dds.jobs.registry import JobContext
from dds.parts import Parts

OPLOG_SHARE = 0.1  # oplog cap as a share of the volume, as DDS sizes it


def load_instance(ctx: JobContext, s: Session) -> Instance:
    inst = s.get(Instance, ctx.instance_id)
    if inst is None:
        raise InstanceNotFound()
    return inst


def start_nodes(ctx: JobContext) -> None:
    """(Re)start every node's engine and record pids; safe to repeat."""
    _start_nodes(ctx, wait_gateway=True)


def start_engines_first(ctx: JobContext) -> None:
    """Like `start_nodes`, but the gateways finish starting while the next steps set the engine up
    (creation: oplog, users); `open_to_clients` waits for them."""
    _start_nodes(ctx, wait_gateway=False)


def open_to_clients(ctx: JobContext) -> None:
    """The instance serves only once its client ports accept (a resumed job first brings back what
    did not survive)."""
    ensure_running(ctx)
    parts = ctx.parts
    with parts.db.session() as s:
        for node in load_instance(ctx, s).nodes:
            nodes.wait_gateway_of(parts, node)


def _start_nodes(ctx: JobContext, *, wait_gateway: bool) -> None:
    parts = ctx.parts
    with parts.locks.of(ctx.instance_id), parts.db.session() as s:
        inst = load_instance(ctx, s)
        for node in inst.nodes:
            node.pid = nodes.start_node(parts, inst, node, wait_gateway=wait_gateway)
            transition(node, NodeStatus.NORMAL)
        if members.uses_postgresql(inst):
            members.wait_converged(parts, inst)


def rolls(ctx: JobContext) -> bool:
    """A replica set on PostgreSQL storage restarts member by member (`fleet.rolling`), never
    stopped as a whole: it keeps taking writes apart from one switchover."""
    with ctx.parts.db.session() as s:
        return members.uses_postgresql(load_instance(ctx, s))


def roll_members(ctx: JobContext) -> None:
    """Restart the members one by one (only the target node when the request named one)."""
    parts = ctx.parts
    with parts.locks.of(ctx.instance_id), parts.db.session() as s:
        inst = load_instance(ctx, s)
        target = next((n for n in inst.nodes if n.id == ctx.payload.get("target_id")), None)
        rolling.roll(parts, inst, only=target)


def restart_nodes(ctx: JobContext) -> None:
    """Every node restarted: stopped and started, or rolled member by member."""
    if rolls(ctx):
        roll_members(ctx)
    else:
        stop_nodes(ctx)
        start_nodes(ctx)


def stop_nodes(ctx: JobContext) -> None:
    parts = ctx.parts
    with parts.locks.of(ctx.instance_id), parts.db.session() as s:
        inst = load_instance(ctx, s)
        nodes.stop_instance(parts, inst)
        for node in inst.nodes:
            node.pid = None
            transition(node, NodeStatus.STOPPED)


def settled_now(parts: Parts, inst: Instance) -> InstanceStatus:
    """The status an instance returns to after a job: `normal` (or `data_disk_full`) only while
    every node's engine runs, so an engine that died during the job, or a node whose data was
    found lost, is never shown as serving; the supervisor takes it from `abnormal`."""
    serving = all(nodes.engine_pid(parts, n) is not None and not integrity.known_fault(inst, n) for n in inst.nodes)
    return settled(inst.read_only) if serving else InstanceStatus.ABNORMAL


def settle(ctx: JobContext) -> None:
    """Back to normal (or data_disk_full) once the job's work is done."""
    with ctx.parts.db.session() as s:
        inst = load_instance(ctx, s)
        transition(inst, settled_now(ctx.parts, inst))
        inst.updated = ctx.parts.clock.now()


def settle_if(parts: Parts, instance_id: str, busy: InstanceStatus) -> None:
    """Back to normal, unless something else changed the status meanwhile (e.g. delete)."""
    with parts.db.session() as s:
        inst = s.get(Instance, instance_id)
        if inst is not None and inst.status == busy:
            transition(inst, settled_now(parts, inst))
            inst.updated = parts.clock.now()


def init_engine(ctx: JobContext) -> None:
    """Oplog for replica sets (capped, as FerretDB requires) and the tenant's rwuser."""
    parts = ctx.parts
    ensure_running(ctx)
    with parts.db.session() as s:
        inst = load_instance(ctx, s)
        with nodes.admin_client(parts, inst) as client:
            ensure_oplog(parts, inst, client)
            users = {u["user"] for u in client.admin.command("usersInfo")["users"]}
            if "rwuser" not in users:
                password = secrets.pending_password(parts.settings, ctx.instance_id)
                client.admin.command("createUser", "rwuser", pwd=password, roles=[])
        inst.engine_version = parts.engine.version()
    authorization.begin_history(parts.settings, ctx.instance_id)


def ensure_oplog(parts: Parts, inst: Instance, client: nodes.AdminClient) -> None:
    """A replica set's oplog (capped, as FerretDB requires), sized as DDS sizes it."""
    if inst.mode == "ReplicaSet" and "oplog.rs" not in client.local.list_collection_names():
        size = max(int(inst.volume_gb * parts.settings.volume_unit_bytes * OPLOG_SHARE), 1024**2)
        with contextlib.suppress(OperationFailure):  # created by a previous attempt
            client.local.command("create", "oplog.rs", capped=True, size=size)


def finish_create(ctx: JobContext) -> None:
    open_to_clients(ctx)
    secrets.forget_password(ctx.parts.settings, ctx.instance_id)
    settle(ctx)


def create_failed(ctx: JobContext, reason: str) -> None:
    """A create that cannot finish leaves a stopped, `createfail` instance that can only be deleted."""
    parts = ctx.parts
    secrets.forget_password(parts.settings, ctx.instance_id)
    with parts.locks.of(ctx.instance_id), parts.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is None:
            return
        nodes.stop_instance(parts, inst)
        for node in inst.nodes:
            node.pid = None
            transition(node, NodeStatus.ABNORMAL)
        transition(inst, InstanceStatus.CREATE_FAILED)


def restore_status(ctx: JobContext, reason: str) -> None:
    """A failed maintenance job leaves the instance running as it was, or abnormal."""
    parts = ctx.parts
    with parts.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is not None:
            running = all(nodes.is_running(parts, n) for n in inst.nodes)
            transition(inst, settled(inst.read_only) if running else InstanceStatus.ABNORMAL)


def clear_staging(parts: Parts, name: str) -> None:
    archive.clear(layout.staging(parts.settings, name))


def ensure_running(ctx: JobContext) -> None:
    """Start the nodes whose engine is not running: a resumed job may find them gone with the
    service that crashed (engines die with their process group's owner only by accident)."""
    parts = ctx.parts
    with parts.locks.of(ctx.instance_id), parts.db.session() as s:
        inst = load_instance(ctx, s)
        for node in inst.nodes:
            if not nodes.is_running(parts, node):
                node.pid = nodes.revive_node(parts, inst, node)
                transition(node, NodeStatus.NORMAL)
