"""A ReplicaSet instance's own operations: its replica set name (shown, and changed by restarting
its nodes), a switchover, and the promotion of a chosen secondary (members on PostgreSQL storage)."""

from __future__ import annotations

import re

from dds.core.errors import InvalidParameter, Unsupported
from dds.db.models import Instance, Node
from dds.domain.jobs import JobName
from dds.domain.states import InstanceStatus
from dds.domain.unsupported import ONE_NODE
from dds.fleet import members
from dds.fleet.gateways import repl_set_name
from dds.parts import Parts
from dds.services import instances
from dds.wire import models as w

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{2,127}$")


def show(parts: Parts, project_id: str, instance_id: str) -> w.ShowReplSetNameResponse:
    with parts.db.session() as s:
        inst = instances.get(s, project_id, instance_id)
        name = repl_set_name(inst)
        if name is None:
            raise InvalidParameter("Only replica set instances have a replica set name.")
        return w.ShowReplSetNameResponse(name=name)


def update(parts: Parts, project_id: str, instance_id: str, name: str | None) -> str:
    """New name, then a restart job: the engine and the gateway (what `hello` says) take it up."""
    if not name or not _NAME.match(name):
        raise InvalidParameter(
            "The replica set name must be 3 to 128 characters, start with a letter and contain only letters, "
            "digits and underscores."
        )
    with parts.db.session() as s:
        inst = instances.get(s, project_id, instance_id)
        if repl_set_name(inst) is None:
            raise InvalidParameter("Only replica set instances have a replica set name.")
        instances.require(inst, "restart")
        inst.extra = {**inst.extra, "repl_set_name": name}
        job = instances.start_job(parts, s, inst, JobName.RESTART, InstanceStatus.REBOOTING)
        job_id = job.id
    parts.wakeup.set()
    return job_id


def switchover(parts: Parts, project_id: str, instance_id: str, group_id: str | None = None) -> str:
    """A job moving the primary to a caught-up secondary (the monitor's pick)."""
    with parts.db.session() as s:
        inst = instances.get(s, project_id, instance_id)
        require_members(inst)
        if group_id and group_id != inst.id:
            raise InvalidParameter(f"Invalid group_id {group_id!r}: the replica set's group is {inst.id}.")
        instances.require(inst, "switchover")
        job_id = instances.start_job(parts, s, inst, JobName.SWITCHOVER, InstanceStatus.SWITCHING).id
    parts.wakeup.set()
    return job_id


def promote(parts: Parts, project_id: str, instance_id: str, node_id: str) -> str:
    """A job making the named secondary the primary."""
    with parts.db.session() as s:
        inst = instances.get(s, project_id, instance_id)
        require_members(inst)
        secondary(inst, node_id)
        instances.require(inst, "switchover")
        payload = {"node_id": node_id}
        job_id = instances.start_job(parts, s, inst, JobName.PROMOTE, InstanceStatus.SWITCHING, payload).id
    parts.wakeup.set()
    return job_id


def secondary(inst: Instance, node_id: str) -> Node:
    """The instance's node `node_id`, which must be a secondary (not the primary, not a read replica)."""
    node = next((n for n in inst.nodes if n.id == node_id), None)
    if node is None:
        raise InvalidParameter(f"Node {node_id!r} is not a node of this instance.")
    if node.role != "Secondary":
        raise InvalidParameter(f"Node {node_id!r} is the {node.role.lower()}, not a secondary.")
    return node


def require_members(inst: Instance) -> None:
    """Only a replica set with members to switch between (PostgreSQL storage) has a switchover;
    a Single instance, or a replica set on SQLite, runs one node."""
    if inst.mode != "ReplicaSet" or not members.uses_postgresql(inst):
        raise Unsupported(ONE_NODE)
