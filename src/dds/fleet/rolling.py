"""Changes to a replica set on PostgreSQL storage made member by member, so the instance keeps
taking writes: the secondaries first, each back and caught up before the next, then a switchover
(the only write gap), then the old primary. Also the switchover itself and the promotion of a
chosen secondary, as the API asks for them.

A member's restart is every process of its node: the keeper and its PostgreSQL server, the
engine and the gateway; it comes back as a standby (the monitor counts it caught up again) before
the next member goes.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import UTC, datetime

import psycopg

from dds.core.errors import Conflict, InternalError
from dds.db.models import Instance, Node
from dds.domain.states import NodeStatus, transition
from dds.engine import postgres
from dds.fleet import members, nodes
from dds.parts import Parts

SWITCHOVER_TIMEOUT_S = 60.0


def switchover(parts: Parts, inst: Instance, to: Node | None = None) -> Node:
    """Move the primary to `to` (or to the caught-up secondary the monitor picks); returns the new
    primary once every member is again the primary or a caught-up secondary."""
    assert inst.monitor_port is not None
    revive_members(parts, inst)
    before = members.primary_node(parts, inst)
    if before is None:  # one in progress (a job resumed after a crash): let the monitor finish it
        members.wait_primary(parts, inst)
        before = members.primary_node(parts, inst)
    if before is None:
        raise Conflict("The replica set has no primary now; a switchover needs one.")
    members.wait_converged(parts, inst)  # the monitor moves only a primary whose standbys are back
    if to is not None and to.id == before.id:
        members.sync_roles(parts, inst)
        return before
    try:
        postgres.perform_switchover(inst.monitor_port, to.id if to else None)
    except psycopg.Error as exc:
        seen = ", ".join(f"{m.name}: {m.reported}/{m.goal}" for m in members.states(parts, inst))
        raise Conflict(f"The switchover was refused: {str(exc).strip().splitlines()[0]} ({seen})") from None
    deadline = time.monotonic() + SWITCHOVER_TIMEOUT_S
    by_name = {node.id: node for node in inst.nodes}
    nudged: dict[str, str] = {}
    while time.monotonic() < deadline:
        found = members.states(parts, inst)
        after = next((by_name.get(m.name) for m in found if m.primary and m.name != before.id), None)
        if after is not None:
            members.wait_converged(parts, inst)
            members.sync_roles(parts, inst)
            return after
        for m in found:  # each keeper takes its next step as soon as the monitor assigns it
            if m.goal != m.reported and nudged.get(m.name) != m.goal and m.name in by_name:
                nudged[m.name] = m.goal
                members.nudge(parts, by_name[m.name])
        time.sleep(0.05)
    raise InternalError(f"No other member of instance {inst.id} became the primary in time.")


def restart_member(parts: Parts, inst: Instance, node: Node) -> None:
    """Every process of the member's node, stopped and started again (on the instance's current
    flavor and configuration); back once its server takes connections and the others see it."""
    stopped_at = datetime.now(UTC)
    nodes.stop_node(parts, node)
    transition(node, NodeStatus.STOPPED)
    node.pid = nodes.start_node(parts, inst, node)
    transition(node, NodeStatus.NORMAL)
    members.wait_converged(parts, inst, restarted={node.id: stopped_at})


def revive_members(parts: Parts, inst: Instance, leaving: Collection[Node] = ()) -> None:
    """Start what is not running of each member (but those `leaving`): a job resumed after a crash
    may find the member it was restarting stopped (the supervisor leaves an instance under a job
    alone)."""
    for node in inst.nodes:
        if node not in leaving and nodes.dead_roles(parts, node):
            node.pid = nodes.revive_node(parts, inst, node)
            transition(node, NodeStatus.NORMAL)


def roll(parts: Parts, inst: Instance, only: Node | None = None) -> None:
    """Restart every member (or `only`), the secondaries first, then the primary after a
    switchover away from it: writes pause only for the switchover."""
    revive_members(parts, inst)
    members.wait_converged(parts, inst)
    primary = members.primary_node(parts, inst)
    order = [n for n in inst.nodes if primary is None or n.id != primary.id]
    if primary is not None:
        order.append(primary)
    for node in order:
        if only is not None and node.id != only.id:
            continue
        if primary is not None and node.id == primary.id and len(inst.nodes) > 1:
            switchover(parts, inst)
        restart_member(parts, inst, node)
    members.sync_roles(parts, inst)
