"""How many members a replica set on PostgreSQL storage has: enlarging it by two or four (3 -> 5
-> 7, as DDS offers) and shrinking it back (never below three), each a job.

New members are created as standbys of the current primary (a base backup) and every gateway
learns of them before the instance is `normal` again; a removed member leaves the monitor first,
so the others never wait for it."""

from __future__ import annotations

from typing import Any

from dds.core.errors import InvalidNodeNumber, InvalidParameter
from dds.domain.jobs import JobName
from dds.domain.states import InstanceStatus
from dds.parts import Parts
from dds.services import instances, replica_set

MIN_MEMBERS, MAX_MEMBERS = 3, 7


def enlarge(parts: Parts, project_id: str, instance_id: str, num: Any) -> str:
    """Two or four more members (up to seven): a job that starts them and tells every gateway."""
    count = _count(num)
    with instances.allocation, parts.db.session() as s:
        inst = instances.get(s, project_id, instance_id)
        replica_set.require_members(inst)
        if count not in (2, 4) or len(inst.nodes) + count > MAX_MEMBERS:
            raise InvalidNodeNumber(
                f"A replica set of {len(inst.nodes)} members takes 2 or 4 more, up to {MAX_MEMBERS} in all."
            )
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
        if count < 1 or len(inst.nodes) - count < MIN_MEMBERS:
            raise InvalidNodeNumber(
                f"A replica set of {len(inst.nodes)} members can lose at most {len(inst.nodes) - MIN_MEMBERS}."
            )
        by_id = {n.id: n for n in inst.nodes}
        for node_id in chosen:
            if node_id not in by_id:
                raise InvalidParameter(f"Node {node_id!r} is not a node of this instance.")
            if by_id[node_id].role != "Secondary":
                raise InvalidParameter(f"Node {node_id!r} is the {by_id[node_id].role.lower()}, not a secondary.")
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
