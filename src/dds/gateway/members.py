"""Which member of a replica set on PostgreSQL storage this gateway fronts, and who is primary:
read from the instance's pg_auto_failover monitor a few times a second.

The gateway asks the monitor itself (not the service), so clients learn of a failover while the
service is down too. What drivers see follows from it (`hello.Topology`): every member in
`hosts`, the primary's address, `isWritablePrimary` only on the member the monitor has made
primary (and converged: a standby being promoted is still read-only), `electionId` from the
PostgreSQL timeline (it grows with every promotion), and writes on any other member refused with
`NotWritablePrimary` (drivers retry them on the new primary).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import psycopg

from dds.engine import postgres
from dds.engine.postgres import MemberState
from dds.gateway.background import BackgroundLoop
from dds.gateway.user_admin import UserAdmin

log = logging.getLogger(__name__)

POLL_S = 0.2

# Commands that change data, the catalog or users and roles: refused on a member that is not the primary.
WRITE_COMMANDS = frozenset(
    {
        "insert",
        "update",
        "delete",
        "findAndModify",
        "findandmodify",
        "create",
        "createIndexes",
        "drop",
        "dropIndexes",
        "deleteIndexes",
        "dropDatabase",
        "renameCollection",
        "collMod",
        "convertToCapped",
        "reIndex",
        "compact",
    }
) | (UserAdmin.COMMANDS - {"usersInfo", "rolesInfo"})


@dataclass(frozen=True)
class Member:
    """A member as clients address it."""

    name: str  # the monitor's node name (the service's node id)
    host: str
    port: int
    hidden: bool = False  # a read replica: reached on its own address, never in `hosts`, never primary
    delay_ms: int = 0  # a read replica's replication delay

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


# Goals the monitor gives the member it promotes.
PROMOTION_GOALS = frozenset({"wait_primary", "primary"})


@dataclass(frozen=True)
class View:
    """What the monitor said last; `known` is False until it first answered. `promoted` is this
    gateway's member when the monitor has chosen it as the new primary and its server has already
    left recovery, before its keeper reports so (a keeper reports once a second: taking writes from
    then on shortens a switchover's write gap by up to a second)."""

    known: bool = False
    states: dict[str, MemberState] = field(default_factory=dict)
    promoted: str | None = None

    def primary(self) -> str | None:
        for name, state in self.states.items():
            if state.writable:
                return name
        return self.promoted

    def candidate(self, me: str) -> MemberState | None:
        """This member, if the monitor is promoting it and no member is the writable primary."""
        state = self.states.get(me)
        if state is None or state.goal not in PROMOTION_GOALS or state.reported == state.goal:
            return None
        return None if any(s.writable for s in self.states.values()) else state


class MemberWatch(BackgroundLoop):
    """Polls the monitor; `view` is the latest answer, `changes` counts the changes of who is
    primary (drivers see it as `topologyVersion.counter`)."""

    def __init__(self, monitor_port: int, me: str) -> None:
        self.monitor_port = monitor_port
        self.me = me
        self.view = View()
        self.changes = 0

    async def wait_change(self, seen: int, timeout: float) -> None:
        """Until `changes` moves past `seen`, or `timeout` seconds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.changes == seen:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            await asyncio.sleep(min(POLL_S, left))

    def writable(self) -> bool:
        state = self.view.states.get(self.me)
        return state is not None and (state.writable or self.view.promoted == self.me)

    def server_port(self) -> int | None:
        """This member's PostgreSQL server port, as the monitor last gave it."""
        state = self.view.states.get(self.me)
        return state.port if state is not None else None

    def timeline(self) -> int:
        primary = self.view.primary()
        state = self.view.states.get(primary) if primary else None
        if state is None:
            return 0
        return state.timeline + 1 if primary == self.view.promoted else state.timeline  # a promotion starts a timeline

    def update(self, states: list[MemberState], promoted: bool = False) -> None:
        view = View(True, {s.name: s for s in states}, self.me if promoted else None)
        if view.primary() != self.view.primary() or not self.view.known:
            self.changes += 1
            log.info("replica set view: primary %s", view.primary())
        self.view = view

    async def _run(self) -> None:
        conn: psycopg.AsyncConnection[Any] | None = None
        while True:
            try:
                if conn is None or conn.closed:
                    conn = await psycopg.AsyncConnection.connect(
                        postgres.monitor_url(self.monitor_port), connect_timeout=2, autocommit=True
                    )
                rows = await (await conn.execute(postgres.STATES_SQL)).fetchall()
                states = postgres.states_from_rows(list(rows))
                candidate = View(True, {s.name: s for s in states}).candidate(self.me)
                self.update(states, promoted=candidate is not None and await _left_recovery(candidate.port))
            except (psycopg.Error, OSError) as exc:
                log.debug("monitor not reachable: %s", exc)
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
                conn = None
            await asyncio.sleep(POLL_S)


async def _left_recovery(port: int) -> bool:
    """The member's server has been promoted (takes writes)."""
    try:
        async with await psycopg.AsyncConnection.connect(postgres.member_url(port), connect_timeout=1) as conn:
            row = await (await conn.execute("SELECT NOT pg_is_in_recovery()")).fetchone()
            return row == (True,)
    except (psycopg.Error, OSError):
        return False
