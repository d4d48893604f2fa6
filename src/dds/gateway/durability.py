"""Majority acknowledgement on a replica set on PostgreSQL storage: a `w: "majority"` write's
reply (and a `readConcern: majority` read's) waits until a standby that may be promoted has
flushed the WAL the primary had flushed when the engine answered.

Why the gateway checks what PostgreSQL's synchronous replication mostly does already:
pg_auto_failover turns synchronous replication off while the primary has no healthy standby
(`wait_primary`: the second or so after every failover or switchover, and while the standbys
are down), so such a commit returns at once; and a commit waiting for a standby knows nothing
of MongoDB's `wtimeout`. Read from `pg_stat_replication` on the member's own server, the
standbys' flush positions say what a failover keeps: pg_auto_failover promotes the standby with
the most WAL among those that may be promoted (read replicas never are: they do not count). A
majority is MongoDB's: with 5 or 7 members, 2 or 3 standbys besides the primary, where
pg_auto_failover's synchronous replication waits for one (`number_sync_standbys` 1).

One loop per gateway serves every waiting reply: each check is one query, which gives every
waiter registered before it its target (all the WAL flushed by then, its own commit included:
the engine commits with `synchronous_commit` at least `local`) and releases every waiter whose
target some standby has flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import psycopg

from dds.engine import postgres
from dds.gateway.background import BackgroundLoop
from dds.gateway.errors import ErrorCode
from dds.gateway.fields import Fields

log = logging.getLogger(__name__)

# The replication connection names of the members that may be promoted (pg_auto_failover's).
_QUORUM_SQL = (
    "SELECT 'pgautofailover_standby_' || nodeid FROM pgautofailover.node "
    "WHERE replicationquorum AND candidatepriority > 0 AND nodename <> %s"
)
# This server's flushed WAL, and how far the k-th most advanced of those standbys has flushed
# (parameters: their names, k - 1).
_CHECK_SQL = (
    "SELECT pg_current_wal_flush_lsn() - '0/0'::pg_lsn, coalesce((SELECT flush_lsn FROM pg_stat_replication "
    "WHERE application_name = ANY(%s) ORDER BY flush_lsn DESC NULLS LAST OFFSET %s LIMIT 1), '0/0') - '0/0'::pg_lsn"
)
# The engine's commits waiting in PostgreSQL for a synchronous standby: cancelled, they are kept
# (PostgreSQL has committed them locally) and return; the reply of every write that reaches the
# engine waits for a standby in its gateway anyway (writes without a write concern too), so
# releasing all of them when one write's wtimeout passes acknowledges none early.
_RELEASE_SQL = (
    "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity "
    "WHERE wait_event = 'SyncRep' AND datname = current_database()"
)
_QUORUM_REFRESH_S = 1.0
_RETRY_S = 0.002  # between checks while some reply waits
_ERROR_PAUSE_S = 0.1
_STEP_S = 0.2  # how often a waiting reply looks whether its member is still the primary

READS_WITH_CONCERN = frozenset({"find", "aggregate", "count", "distinct"})


class Outcome(Enum):
    REPLICATED = "replicated"
    TIMED_OUT = "timed out"  # wtimeout passed first
    STEPPED_DOWN = "stepped down"  # the member stopped being the primary first


@dataclass(frozen=True)
class Concern:
    """What a request asks before its reply may go: a standby's copy, within `timeout_s` if given."""

    timeout_s: float | None
    read: bool = False


def concern_of(command: str, body: Fields, write_commands: frozenset[str]) -> Concern | None:
    """The majority concern of a request, or None when its reply needs no standby: `w: 0`/`w: 1`
    writes, reads without `readConcern: {level: "majority"}`, and everything else. A write without
    a write concern waits, as with MongoDB 5's default (`w: "majority"`)."""
    if command in READS_WITH_CONCERN:
        rc = body.sub("readConcern")
        return Concern(None, read=True) if rc is not None and rc.get_str("level") == "majority" else None
    if command not in write_commands:
        return None
    wc = body.sub("writeConcern")
    if wc is None:
        return Concern(None)
    w = wc.get("w")
    if isinstance(w, int | float) and not isinstance(w, bool) and w <= 1:
        return None
    wtimeout = wc.get("wtimeout")
    ms = wtimeout if isinstance(wtimeout, int | float) and not isinstance(wtimeout, bool) else 0
    return Concern(ms / 1000 if ms > 0 else None)


def unsatisfiable(command: str, body: Fields, members: int, write_commands: frozenset[str]) -> dict[str, Any] | None:
    """MongoDB's writeConcernError for a write concern no member set of this size can satisfy:
    `w` above the data-bearing members (UnsatisfiableWriteConcern, 100) or a tag set the set has
    none of (UnknownReplWriteConcern, 79). The write itself is applied, as MongoDB applies it, and
    its reply does not wait. `aggregate` writes only with `$out`/`$merge`, the only time drivers
    send it a write concern."""
    if command not in write_commands and command != "aggregate":
        return None
    wc = body.sub("writeConcern")
    w = None if wc is None else wc.get("w")
    if isinstance(w, int | float) and not isinstance(w, bool) and w > members:
        code, message = ErrorCode.UnsatisfiableWriteConcern, "Not enough data-bearing nodes"
    elif isinstance(w, str) and w != "majority":
        code = ErrorCode.UnknownReplWriteConcern
        message = f"No write concern mode named '{w}' found in replica set configuration"
    else:
        return None
    return {"code": int(code), "codeName": code.name, "errmsg": message}


def _standbys_for_majority(quorum: list[str]) -> int:
    """How many standbys must hold a write besides the primary for a majority of the members that
    vote (read replicas do not): 1 of a 3-member set's, 2 of 5, 3 of 7."""
    return (len(quorum) + 1) // 2


@dataclass(eq=False)
class _Waiter:
    done: asyncio.Future[None]
    target: int | None = None  # WAL position a standby must have flushed; set by the first check after registering


@dataclass
class Durability(BackgroundLoop):
    """The waiting replies of one gateway and the loop that releases them. `member_port` gives this
    member's server port (from the monitor's view; None while unknown)."""

    monitor_port: int
    me: str
    member_port: Callable[[], int | None]
    _waiters: list[_Waiter] = field(default_factory=list)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _quorum: list[str] = field(default_factory=list)
    _quorum_at: float = 0.0

    async def replicated(self, timeout_s: float | None, primary: Callable[[], bool]) -> Outcome:
        """Until a standby that may be promoted holds what was flushed on this member so far,
        `timeout_s` passes, or the member stops being the primary (`primary()` turns False)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        waiter = _Waiter(loop.create_future())
        self._waiters.append(waiter)
        self._wake.set()
        try:
            while True:
                step = _STEP_S if deadline is None else min(_STEP_S, deadline - loop.time())
                if step > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(waiter.done), step)
                if waiter.done.done():
                    return Outcome.REPLICATED
                if not primary():
                    return Outcome.STEPPED_DOWN
                if deadline is not None and loop.time() >= deadline:
                    return Outcome.TIMED_OUT
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    async def release_commits(self) -> None:
        """Let the engine's commits waiting for a synchronous standby return (a `wtimeout` passed):
        PostgreSQL keeps them, and their replies then wait here instead."""
        port = self.member_port()
        if port is None:
            return
        try:
            async with await psycopg.AsyncConnection.connect(
                postgres.member_url(port), connect_timeout=2, autocommit=True
            ) as conn:
                await conn.execute(_RELEASE_SQL)
        except (psycopg.Error, OSError) as exc:
            log.warning("could not release commits waiting for a standby: %s", exc)

    async def _run(self) -> None:
        conn: psycopg.AsyncConnection[Any] | None = None
        while True:
            if not self._waiters:
                self._wake.clear()
                await self._wake.wait()
            try:
                port = self.member_port()
                if port is None:
                    await asyncio.sleep(_ERROR_PAUSE_S)
                    continue
                if conn is None or conn.closed or conn.info.port != port:
                    if conn is not None:
                        await conn.close()
                    conn = await psycopg.AsyncConnection.connect(
                        postgres.member_url(port), connect_timeout=2, autocommit=True
                    )
                await self._check(conn)
                if self._waiters:
                    await asyncio.sleep(_RETRY_S)
            except (psycopg.Error, OSError) as exc:
                log.debug("replication check failed: %s", exc)
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
                conn = None
                await asyncio.sleep(_ERROR_PAUSE_S)

    async def _check(self, conn: psycopg.AsyncConnection[Any]) -> None:
        quorum = await self._quorum_names()
        pending = [w for w in self._waiters if w.target is None]
        needed = _standbys_for_majority(quorum)
        row = await (await conn.execute(_CHECK_SQL, (quorum, max(needed - 1, 0)))).fetchone()
        assert row is not None
        flushed = int(row[0])
        standby = int(row[1]) if needed else flushed  # a member alone is its own majority
        for waiter in pending:
            waiter.target = flushed
        for waiter in self._waiters:
            if waiter.target is not None and waiter.target <= standby and not waiter.done.done():
                waiter.done.set_result(None)

    async def _quorum_names(self) -> list[str]:
        if time.monotonic() - self._quorum_at < _QUORUM_REFRESH_S:
            return self._quorum
        async with await psycopg.AsyncConnection.connect(
            postgres.monitor_url(self.monitor_port), connect_timeout=2, autocommit=True
        ) as conn:
            rows = await (await conn.execute(_QUORUM_SQL, (self.me,))).fetchall()
        self._quorum, self._quorum_at = [str(r[0]) for r in rows], time.monotonic()
        return self._quorum
