"""Job kinds of a replica set on PostgreSQL storage: its primary (a switchover, the promotion of a
chosen secondary) and its members (two or four more, or fewer)."""

from __future__ import annotations

import contextlib
import shutil

import psycopg
from sqlalchemy.orm import Session

from dds.db.models import Instance, Node
from dds.domain.jobs import JobName
from dds.domain.states import NodeStatus, transition
from dds.engine import postgres
from dds.fleet import gateways, layout, members, nodes, rolling
from dds.jobs.registry import JobContext, JobKind
from dds.parts import Parts
from dds.tasks.steps import load_instance, restore_status, settle


def _switch(ctx: JobContext) -> None:
    """Idempotent: a resumed job whose switchover already happened finds the target primary (a
    promotion) or switches once more (a switchover moves the primary either way)."""
    parts = ctx.parts
    with parts.locks.of(ctx.instance_id), parts.db.session() as s:
        inst = load_instance(ctx, s)
        to = next((n for n in inst.nodes if n.id == ctx.payload.get("node_id")), None)
        rolling.switchover(parts, inst, to)


def _start_added(ctx: JobContext) -> None:
    """Each new member (a standby made from the primary), its engine and gateway; then every
    gateway learns of the new members, and the instance waits until they have caught up."""
    parts = ctx.parts
    with parts.locks.of(ctx.instance_id), parts.db.session() as s:
        inst = load_instance(ctx, s)
        for node in inst.nodes:
            if node.id in ctx.payload["added"] and node.status != NodeStatus.NORMAL:
                node.pid = nodes.start_node(parts, inst, node)
                transition(node, NodeStatus.NORMAL)
                s.commit()  # a resumed job does not create it twice
        gateways.reload_gateways(parts, inst)
        members.wait_converged(parts, inst)
        members.sync_roles(parts, inst)


def _drop_added(ctx: JobContext, reason: str) -> None:
    """An enlargement that failed leaves the replica set as it was: its new members go."""
    with ctx.parts.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is not None:
            _drop(ctx.parts, s, inst, [n for n in inst.nodes if n.id in ctx.payload["added"]])
    restore_status(ctx, reason)


def _remove(ctx: JobContext) -> None:
    """The chosen members leave: the primary moves first if it is one of them (it may have changed
    since the request), then each is forgotten by the monitor, stopped and its files removed."""
    parts = ctx.parts
    with parts.locks.of(ctx.instance_id), parts.db.session() as s:
        inst = load_instance(ctx, s)
        gone = [n for n in inst.nodes if n.id in ctx.payload["removed"]]
        rolling.revive_members(parts, inst, leaving=gone)  # a resumed job: the others run
        primary = members.primary_node(parts, inst)
        if primary is not None and primary in gone:
            stays = [n for n in inst.nodes if n not in gone and n.role != members.READ_REPLICA]
            rolling.switchover(parts, inst, stays[0])
        _drop(parts, s, inst, gone)
        members.wait_converged(parts, inst)
        members.sync_roles(parts, inst)


def _drop(parts: Parts, s: Session, inst: Instance, gone: list[Node]) -> None:
    """Forget, stop and remove the members; the others' gateways stop naming them."""
    assert inst.monitor_port is not None
    for node in gone:
        if node.storage_port is not None:
            with contextlib.suppress(psycopg.Error):  # never registered, or already forgotten
                postgres.remove_member(inst.monitor_port, node.storage_port)
        nodes.stop_node(parts, node)
        shutil.rmtree(layout.node_dir(parts.settings, node), ignore_errors=True)
        inst.nodes.remove(node)
    replicas = {k: v for k, v in (inst.extra.get("read_replicas") or {}).items() if k not in {n.id for n in gone}}
    inst.extra = {**inst.extra, "read_replicas": replicas}
    s.flush()
    gateways.reload_gateways(parts, inst)


KINDS = (
    JobKind(JobName.SWITCHOVER, (_switch, settle), on_failure=restore_status),
    JobKind(JobName.PROMOTE, (_switch, settle), on_failure=restore_status),
    JobKind(JobName.ENLARGE_MEMBERS, (_start_added, settle), on_failure=_drop_added),
    JobKind(JobName.SHRINK_MEMBERS, (_remove, settle), on_failure=restore_status),
    JobKind(JobName.ADD_READ_REPLICAS, (_start_added, settle), on_failure=_drop_added),
    JobKind(JobName.DELETE_READ_REPLICAS, (_remove, settle), on_failure=restore_status),
)
