"""How many members a replica set on PostgreSQL storage has: enlarging it by two or four (3 -> 5
-> 7, as DDS offers) and shrinking it back (never below three); and its read replicas (up to
five, each with its own address and an optional replication delay), added and deleted. Each a job.

New members are created as standbys of the current primary (a base backup) and every gateway
learns of them before the instance is `normal` again; a removed member leaves the monitor first,
so the others never wait for it."""

from __future__ import annotations

from typing import Any

from dds.core.errors import InvalidNodeNumber, InvalidParameter, InvalidSpecifications
from dds.db.models import Instance, Node
from dds.domain import catalog
from dds.domain.jobs import JobName
from dds.domain.states import InstanceStatus
from dds.fleet import members
from dds.parts import Parts
from dds.services import instances, replica_set
from dds.wire import models as w

MIN_MEMBERS, MAX_MEMBERS = 3, 7
MAX_READ_REPLICAS, MAX_DELAY_MS = 5, 1200  # as DDS documents them


def enlarge(parts: Parts, project_id: str, instance_id: str, num: Any) -> str:
    """Two or four more members (up to seven): a job that starts them and tells every gateway."""
    count = _count(num)
    with instances.allocation, parts.db.session() as s:
        inst = instances.get(s, project_id, instance_id)
        replica_set.require_members(inst)
        have = len(_voting(inst))
        if count not in (2, 4) or have + count > MAX_MEMBERS:
            raise InvalidNodeNumber(f"A replica set of {have} members takes 2 or 4 more, up to {MAX_MEMBERS} in all.")
        instances.require(inst, "resize")
        added = instances.add_member_nodes(parts, s, inst, count)
        payload = {"added": [n.id for n in added]}
        job_id = instances.start_job(parts, s, inst, JobName.ENLARGE_MEMBERS, InstanceStatus.RESIZING, payload).id
    parts.wakeup.set()
    return job_id


def shrink(parts: Parts, project_id: str, instance_id: str, num: Any, node_list: list[str] | None) -> str:
    """Fewer members (never below three): the named secondaries, or the newest ones."""
    with parts.db.session() as s:
        inst = instances.get(s, project_id, instance_id)
        replica_set.require_members(inst)
        chosen = list(dict.fromkeys(node_list or []))
        count = _count(num) if num is not None else len(chosen)
        if chosen and count != len(chosen):
            raise InvalidNodeNumber(f"num ({count}) does not match the {len(chosen)} nodes in node_list.")
        have = len(_voting(inst))
        if count < 1 or have - count < MIN_MEMBERS:
            raise InvalidNodeNumber(f"A replica set of {have} members can lose at most {have - MIN_MEMBERS}.")
        for node_id in chosen:
            replica_set.secondary(inst, node_id)
        if not chosen:
            newest = sorted((n for n in inst.nodes if n.role == "Secondary"), key=lambda n: n.name, reverse=True)
            chosen = [n.id for n in newest[:count]]
        instances.require(inst, "resize")
        payload = {"removed": chosen}
        job_id = instances.start_job(parts, s, inst, JobName.SHRINK_MEMBERS, InstanceStatus.RESIZING, payload).id
    parts.wakeup.set()
    return job_id


def _count(num: Any) -> int:
    try:
        return int(str(num))
    except ValueError:
        raise InvalidNodeNumber(f"Invalid num {num!r}.") from None


def add_read_replicas(parts: Parts, project_id: str, instance_id: str, body: w.AddReadonlyNodeRequestBody) -> str:
    """`num` read replicas of the flavor `spec_code` (a `readonly` one), `delay` ms behind."""
    count = _count(body.num)
    delay = _count(body.delay) if body.delay is not None else 0
    flavor = catalog.FLAVORS.get(str(body.spec_code))
    if flavor is None or flavor.type != "readonly":
        raise InvalidSpecifications(f"Invalid read replica specifications {body.spec_code!r}.")
    if not 0 <= delay <= MAX_DELAY_MS:
        raise InvalidParameter(f"The delay must be 0 to {MAX_DELAY_MS} ms.")
    with instances.allocation, parts.db.session() as s:
        inst = instances.get(s, project_id, instance_id)
        replica_set.require_members(inst)
        have = len(inst.nodes) - len(_voting(inst))
        if count < 1 or have + count > MAX_READ_REPLICAS:
            raise InvalidNodeNumber(f"A replica set has at most {MAX_READ_REPLICAS} read replicas ({have} now).")
        instances.require(inst, "resize")
        added = instances.add_member_nodes(parts, s, inst, count, role=members.READ_REPLICA, kind="readonly")
        settings = {n.id: {"spec_code": flavor.spec_code, "delay_ms": delay} for n in added}
        inst.extra = {**inst.extra, "read_replicas": {**(inst.extra.get("read_replicas") or {}), **settings}}
        payload = {"added": [n.id for n in added]}
        job_id = instances.start_job(parts, s, inst, JobName.ADD_READ_REPLICAS, InstanceStatus.RESIZING, payload).id
    parts.wakeup.set()
    return job_id


def delete_read_replicas(parts: Parts, project_id: str, instance_id: str, node_list: list[str] | None) -> str:
    """The named read replicas go."""
    chosen = list(dict.fromkeys(node_list or []))
    if not chosen:
        raise InvalidParameter("node_list names the read replicas to delete.")
    with parts.db.session() as s:
        inst = instances.get(s, project_id, instance_id)
        replica_set.require_members(inst)
        replicas = {n.id for n in inst.nodes if n.role == members.READ_REPLICA}
        for node_id in chosen:
            if node_id not in replicas:
                raise InvalidParameter(f"Node {node_id!r} is not a read replica of this instance.")
        instances.require(inst, "resize")
        payload = {"removed": chosen}
        job_id = instances.start_job(parts, s, inst, JobName.DELETE_READ_REPLICAS, InstanceStatus.RESIZING, payload).id
    parts.wakeup.set()
    return job_id


def _voting(inst: Instance) -> list[Node]:
    """The members that may be primary (read replicas never are)."""
    return [n for n in inst.nodes if n.role != members.READ_REPLICA]
