"""PostgreSQL under a replica set: a server per member, streaming replication, failover by
pg_auto_failover (Debian's `pg-auto-failover-cli` and `postgresql-15-auto-failover`).

Why an existing manager rather than our supervisor: failover is where data is lost. In
pg_auto_failover a monitor (a small PostgreSQL of its own, one per instance) keeps every member's
state machine, and a keeper (`pg_autoctl run`) beside each server carries out what the monitor
assigns. Its safety properties are the ones a replica set needs: a commit waits for one standby
(`synchronous_standby_names = ANY 1 (...)`, a majority of three), so an acknowledged write survives
the primary; the monitor promotes only a standby that has every acknowledged write; a deposed
primary is told to demote before it serves again and rejoins with `pg_rewind`; a primary that sees
neither the monitor nor a standby demotes itself (network partition).

The timings below make a failover take seconds instead of pg_auto_failover's defaults (~50 s):
measured here, kill -9 of a primary member to a writable new primary: 7.4 s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg import sql

from dds.engine.base import Launch

DATABASE = "ferretdb"  # what the engine uses on each member
SUPERUSER = "ferretdb"  # the engine's PostgreSQL role (loopback, trust: see fleet/members.py)
MONITOR_DATABASE = "pg_auto_failover"

# On the monitor (ms): how fast a dead member is noticed and a standby promoted.
MONITOR_SETTINGS = {
    "pgautofailover.health_check_period": 500,
    "pgautofailover.health_check_timeout": 500,
    "pgautofailover.health_check_max_retries": 1,
    "pgautofailover.health_check_retry_delay": 200,
    "pgautofailover.node_considered_unhealthy_timeout": 2000,
    "pgautofailover.primary_demote_timeout": 2000,
}

WRITABLE_STATES = frozenset({"single", "primary", "wait_primary"})
STANDBY_STATES = frozenset({"secondary", "catchingup"})


@dataclass(frozen=True)
class Tools:
    """Where pg_autoctl and the PostgreSQL binaries are, and as whom they run."""

    pg_autoctl: str
    bin_dir: Path
    user: str | None  # `postgres` when the service runs as root (PostgreSQL refuses root)
    socket_dir: Path  # the servers' Unix sockets: a short path (the kernel allows 107 bytes)

    @classmethod
    def find(cls, bin_dir: Path | None, socket_dir: Path) -> Tools:
        if bin_dir is None:
            found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
            bin_dir = found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")
        return cls("pg_autoctl", bin_dir, "postgres" if os.geteuid() == 0 else None, socket_dir)


def pgdata(store_dir: Path) -> Path:
    """The server's data directory inside a member's (or the monitor's) storage directory."""
    return store_dir / "pgdata"


def _env(tools: Tools, store_dir: Path) -> dict[str, str]:
    """pg_autoctl keeps its configuration and state under XDG directories: the member's own.
    Its connections go over TCP to 127.0.0.1; the servers also make their Unix socket (PostgreSQL
    needs one to start with no TCP listener, as pg_autoctl does before a `pg_rewind`)."""
    home = store_dir / "home"
    return {
        "PATH": f"{tools.bin_dir}:/usr/bin:/bin",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "share"),
        "XDG_RUNTIME_DIR": str(home / "run"),
        "PGHOST": "127.0.0.1",
        "PG_REGRESS_SOCK_DIR": str(tools.socket_dir),
    }


def _common(tools: Tools, store_dir: Path, port: int) -> list[str]:
    return [
        f"--pgctl={tools.bin_dir / 'pg_ctl'}",
        f"--pgdata={pgdata(store_dir)}",
        f"--pgport={port}",
        "--hostname=127.0.0.1",
        "--auth=trust",
        "--no-ssl",
    ]


def create_monitor(tools: Tools, store_dir: Path, port: int) -> Launch:
    """Initialise the instance's monitor (returns when done; `run` serves it)."""
    argv = [tools.pg_autoctl, "create", "monitor", *_common(tools, store_dir, port)]
    return Launch(argv=argv, env=_env(tools, store_dir), user=tools.user)


MONITOR_MARK = "# dds: the monitor's timings, loopback only"


def monitor_settings_text() -> str:
    """Appended to the monitor's postgresql.conf after its creation: the timings, and loopback only
    (`create monitor` has no `--listen`)."""
    lines = [MONITOR_MARK, "listen_addresses = '127.0.0.1'", *(f"{k} = {v}" for k, v in MONITOR_SETTINGS.items())]
    return "\n" + "\n".join(lines) + "\n"


def create_member(
    tools: Tools, store_dir: Path, port: int, name: str, monitor_port: int, candidate: bool = True
) -> Launch:
    """Register a member with the monitor and initialise its server: the first one as the primary
    (initdb), the others as standbys (a base backup of the primary). Returns when done. A member
    that is no `candidate` (a read replica) is never promoted nor waited for by commits."""
    replica = [] if candidate else ["--candidate-priority=0", "--replication-quorum=false"]
    argv = [
        tools.pg_autoctl,
        "create",
        "postgres",
        *_common(tools, store_dir, port),
        f"--monitor={monitor_url(monitor_port)}",
        f"--name={name}",
        f"--dbname={DATABASE}",
        f"--username={SUPERUSER}",
        "--listen=127.0.0.1",
        *replica,
    ]
    return Launch(argv=argv, env=_env(tools, store_dir), user=tools.user)


def run(tools: Tools, store_dir: Path) -> Launch:
    """The keeper (or the monitor's service): it starts PostgreSQL and keeps it in its assigned state."""
    argv = [tools.pg_autoctl, "run", f"--pgdata={pgdata(store_dir)}"]
    return Launch(argv=argv, env=_env(tools, store_dir), user=tools.user)


def monitor_url(port: int) -> str:
    return f"postgres://autoctl_node@127.0.0.1:{port}/{MONITOR_DATABASE}"


def member_url(port: int) -> str:
    """The engine's connection to its member's server."""
    return f"postgres://{SUPERUSER}@127.0.0.1:{port}/{DATABASE}"


@dataclass(frozen=True)
class MemberState:
    """One member as the monitor sees it."""

    name: str
    port: int
    reported: str
    goal: str
    healthy: bool
    timeline: int
    reported_at: datetime | None = None  # the keeper's last report (it reports once per step)

    @property
    def primary(self) -> bool:
        """The member is the primary and has converged to it (a standby being promoted is not, nor
        a primary being drained)."""
        return self.reported == self.goal and self.reported in WRITABLE_STATES

    @property
    def writable(self) -> bool:
        """The member takes writes (what its gateway answers): the primary, and also a primary
        asked to drain for a switchover until its keeper stops its server: every commit still
        waits for a synchronous standby, and the monitor promotes the standby with the most WAL (or
        fast-forwards the chosen one from it), so none is lost; it shortens the write gap."""
        return self.primary or (self.reported in WRITABLE_STATES and self.goal == "draining")

    @property
    def standby(self) -> bool:
        """A hot standby streaming from the primary (caught up or catching up): it serves reads,
        and drivers see it as a SECONDARY, as MongoDB shows a lagging secondary."""
        return self.healthy and self.reported in STANDBY_STATES

    @property
    def caught_up(self) -> bool:
        """A standby the monitor counts as caught up (within its WAL lag threshold): a candidate
        for promotion, and what an instance needs of every non-primary member to be `normal`."""
        return self.reported == self.goal == "secondary"


STATES_SQL = (
    "SELECT nodename, nodeport, reportedstate::text, goalstate::text, health, reportedtli, reporttime "
    "FROM pgautofailover.node ORDER BY nodeid"
)


def states_from_rows(rows: list[tuple[object, ...]]) -> list[MemberState]:
    return [
        MemberState(
            str(name),
            int(str(port)),
            str(rep),
            str(goal),
            health == 1,
            int(str(tli or 0)),
            at if isinstance(at, datetime) else None,
        )
        for name, port, rep, goal, health, tli, at in rows
    ]


def read_states(monitor_port: int, timeout: float = 2.0) -> list[MemberState]:
    """Every member's state from the monitor; OSError-like psycopg.Error when it cannot be asked."""
    with psycopg.connect(monitor_url(monitor_port), connect_timeout=max(1, int(timeout))) as conn:
        return states_from_rows(conn.execute(STATES_SQL).fetchall())


def remove_member(monitor_port: int, member_port: int, force: bool = True) -> None:
    """Forget a member whose server is gone, so it can be created again from the others; without
    `force`, only mark it as leaving (a primary's standbys then start a failover)."""
    with psycopg.connect(monitor_url(monitor_port), connect_timeout=2, autocommit=True) as conn:
        conn.execute("SELECT pgautofailover.remove_node('127.0.0.1', %s, %s)", (member_port, force))


def perform_switchover(monitor_port: int, to: str | None = None) -> None:
    """Ask the monitor for a switchover: the primary drains and is demoted, a caught-up standby
    (`to`, or the one the monitor picks) promoted. The monitor refuses (psycopg.Error) when no
    standby is a candidate."""
    with psycopg.connect(monitor_url(monitor_port), connect_timeout=2, autocommit=True) as conn:
        if to is None:
            conn.execute("SELECT pgautofailover.perform_failover('default', 0)")
        else:
            conn.execute("SELECT pgautofailover.perform_promotion('default', %s)", (to,))


def set_apply_delay(port: int, delay_ms: int) -> None:
    """How long the standby waits before applying what the primary committed (a delayed read
    replica); kept in the server's own settings file, applied without a restart."""
    with psycopg.connect(member_url(port), connect_timeout=2, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER SYSTEM SET recovery_min_apply_delay = {}").format(sql.Literal(f"{delay_ms}ms")))
        conn.execute("SELECT pg_reload_conf()")


def in_recovery(port: int) -> bool:
    """The server is still replaying WAL (a standby, or a restore not at its target yet)."""
    try:
        with psycopg.connect(member_url(port), connect_timeout=1) as conn:
            return conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
    except psycopg.Error:
        return True


def accepts(port: int, timeout: float = 1.0) -> bool:
    """The member's server takes a connection (as the engine will)."""
    try:
        with psycopg.connect(member_url(port), connect_timeout=max(1, int(timeout))):
            return True
    except psycopg.Error:
        return False
