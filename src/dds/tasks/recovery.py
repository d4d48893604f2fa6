"""The job that brings back a node whose data was lost or damaged (`fleet.integrity`), from the
instance's own backups: the continuous archive up to its last restorable moment, or the newest
backup. Its users and grants come back as they were then (the service keeps its own login).

The node is never served meanwhile: its gateway refuses clients until the rebuilt files are in
place and have passed the same checks as any other start. What was left of the damaged files is
kept beside the node (`data.damaged-<UTC ms>`) for an operator, never deleted by the job.
"""

from __future__ import annotations

import logging
import shutil

from dds.backup import physical
from dds.core.errors import BackupCorrupt
from dds.db.models import Instance
from dds.domain.jobs import JobName
from dds.domain.states import InstanceStatus, NodeStatus, settled, transition
from dds.fleet import gateways, integrity, layout, nodes
from dds.fleet.secrets import SERVICE_USER
from dds.jobs.registry import JobContext, JobKind
from dds.provision.base import Role
from dds.tasks import restore
from dds.tasks.pitr import by_source
from dds.tasks.steps import clear_staging, load_instance

log = logging.getLogger(__name__)

DAMAGED = "data.damaged-"  # + UTC ms: what was left of the node's data when it was rebuilt


def _rebuild(ctx: JobContext) -> None:
    """Per node: set the remains aside, let a fresh engine make the service's own login, put the
    verified files in its place with the backup's users, stamp a new identity, start, check."""
    parts = ctx.parts
    if ctx.payload.get("format") != restore.PHYSICAL:
        raise BackupCorrupt("This backup predates physical backups; restore it to a new instance instead.")
    staged = restore.staged_dir(parts, ctx) / physical.DATA
    if not staged.is_dir() or not any(staged.glob("*.sqlite")):
        raise BackupCorrupt("The verified backup is no longer in staging; start the recovery again.")
    wanted = ctx.payload.get("authorization")
    with parts.locks.of(ctx.instance_id), parts.db.session() as s:
        inst = load_instance(ctx, s)
        for node in inst.nodes:
            node_dir, data = layout.node_dir(parts.settings, node), layout.data_dir(parts.settings, node)
            nodes.stop_node(parts, node)  # the refusing gateway too: the port is served again below
            node_dir.mkdir(parents=True, exist_ok=True)
            if data.exists() or data.is_symlink():
                data.rename(node_dir / f"{DAMAGED}{int(parts.clock.now().timestamp() * 1000)}")
            for name in (restore.BUILDING, restore.READY, restore.INCOMING):
                shutil.rmtree(node_dir / name, ignore_errors=True)
            spec = nodes.spec_for(parts, inst, node, setup=True)
            nodes.start_engine(parts, spec, f"node {node.name} (a fresh login for the rebuild)")
            parts.provisioner.stop(node_dir, Role.ENGINE)
            restore.take_staged(staged, node_dir, consume=False)  # a resumed job takes them again
            building = node_dir / restore.BUILDING
            restore.complete(building, data, backup_users=True, kept=(f"admin.{SERVICE_USER}",))
            shutil.rmtree(data)
            building.rename(data)
            integrity.stamp(parts, inst, node)
        integrity.clear_faults(inst)
        ctx.payload["databases"] = restore.open_restored(parts, inst, wanted)


def _finish(ctx: JobContext) -> None:
    parts = ctx.parts
    with parts.db.session() as s:
        inst = load_instance(ctx, s)
        transition(inst, settled(inst.read_only))
        inst.updated = parts.clock.now()
        for node in inst.nodes:
            integrity.note(parts, node, f"recovered from {ctx.payload.get('source')} (job {ctx.job_id})")
    clear_staging(parts, ctx.job_id)
    log.warning("instance %s recovered from %s", ctx.instance_id, ctx.payload.get("source"))


def _failed(ctx: JobContext, reason: str) -> None:
    """The node stays out of service, refusing its clients, with the failure added to its fault."""
    parts = ctx.parts
    clear_staging(parts, ctx.job_id)
    log.error("recovery of instance %s from %s failed: %s", ctx.instance_id, ctx.payload.get("source"), reason)
    with parts.locks.of(ctx.instance_id), parts.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is None:
            return
        now_ms = int(parts.clock.now().timestamp() * 1000)
        for node in inst.nodes:
            known = integrity.known_fault(inst, node)
            reason_then = str(known["reason"]) if known else "its data did not pass the checks after a rebuild"
            tried = [*((known.get("tried") or []) if known else []), ctx.payload.get("source_key") or ctx.job_id]
            integrity.record_fault(inst, node, reason_then, now_ms, recovery=f"failed: {reason}", tried=tried)
            layout.node_dir(parts.settings, node).mkdir(parents=True, exist_ok=True)
            integrity.note(parts, node, f"recovery from {ctx.payload.get('source')} failed: {reason}")
            transition(node, NodeStatus.ABNORMAL)
            nodes.stop_node(parts, node)
            try:
                gateways.start_gateway(parts, inst, node)  # refusing, with the reason
            except Exception as exc:  # noqa: BLE001 - the supervisor starts it on its next look
                log.error("refusing gateway of node %s not started: %s", node.id, exc)
        transition(inst, InstanceStatus.ABNORMAL)


KINDS = (
    JobKind(
        JobName.RECOVER_DATA,
        (by_source(restore.fetch_verify, restore.fetch_as_of), _rebuild, _finish),
        on_failure=_failed,
    ),
)
