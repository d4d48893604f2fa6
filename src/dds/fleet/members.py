"""The PostgreSQL side of a replica set on PostgreSQL storage (`engine/postgres.py`): the
instance's pg_auto_failover monitor and each member's server under its keeper, created once and
then started and supervised like a node's other processes.

Files: `instances/<id>/monitor/` (the monitor) and `instances/<id>/<node>/pg/` (a member: its
`pgdata/` and pg_autoctl's own configuration and state under `home/`). As root, the servers run as
Debian's `postgres` user, which owns those directories.

A member whose server files are gone is rebuilt from the others: it is removed from the monitor
(which fails over first if it was the primary) and created again as a standby, a base backup of
the current primary. The servers listen on 127.0.0.1 only and trust loopback connections (the
engine's, the keepers' and the monitor's); tenants reach documents only through the gateway.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from dds.core.errors import InternalError
from dds.db.models import Instance, Node
from dds.engine import postgres
from dds.engine.base import Launch
from dds.engine.postgres import MemberState, Tools
from dds.fleet import layout
from dds.parts import Parts
from dds.provision.base import Role
from dds.provision.local import as_user

LEFTOVER_TIMEOUT_S = 10.0  # a killed pg_autoctl is gone well within this
CREATE_TIMEOUT_S = 120.0
FAILOVER_WAIT_S = 30.0  # the monitor fails a dead primary over in seconds
SETTLE_S = 2.5  # a restarted member's state must hold this long (see wait_converged)


READ_REPLICA = "ReadOnly"  # the role of a read replica: a standby never promoted nor waited for


def uses_postgresql(inst: Instance) -> bool:
    return inst.storage == "postgresql"


def replica_settings(inst: Instance, node: Node) -> dict[str, Any] | None:
    """A read replica's flavor and delay (`spec_code`, `delay_ms`), kept with the instance; None
    for the other members."""
    found = (inst.extra.get("read_replicas") or {}).get(node.id)
    return dict(found) if node.role == READ_REPLICA and found is not None else None


def monitor_dir(parts: Parts, instance_id: str) -> Path:
    return layout.instance_dir(parts.settings, instance_id) / "monitor"


def store_dir(parts: Parts, node: Node) -> Path:
    return layout.node_dir(parts.settings, node) / "pg"


def tools(parts: Parts) -> Tools:
    """The PostgreSQL tools, and the servers' socket directory: one per service data directory,
    under /tmp (short), made private to the servers' user."""
    tag = hashlib.sha256(str(parts.settings.data_dir.resolve()).encode()).hexdigest()[:12]
    found = Tools.find(parts.settings.postgres_bin_dir, Path(tempfile.gettempdir()) / f"dds-pg-{tag}")
    if not found.socket_dir.is_dir():
        found.socket_dir.mkdir(mode=0o700, exist_ok=True)
        if found.user:
            shutil.chown(found.socket_dir, found.user)
    return found


def storage_url(node: Node) -> str:
    assert node.storage_port is not None, f"node {node.id} has no PostgreSQL port"
    return postgres.member_url(node.storage_port)


def created(directory: Path) -> bool:
    """The server's files are there (a member whose `PG_VERSION` is gone has lost its data)."""
    return (postgres.pgdata(directory) / "PG_VERSION").exists()


def ensure_monitor(parts: Parts, inst: Instance) -> None:
    """The instance's monitor exists and runs (created on first use)."""
    port = inst.monitor_port
    assert port is not None, f"instance {inst.id} has no monitor port"
    d, t = monitor_dir(parts, inst.id), tools(parts)
    if not created(d):
        _stop_leftovers(d)  # a creation a crash of the service interrupted
        _fresh(d, t)
        _run_once(t, postgres.create_monitor(t, d, port), d / "monitor.log", "the monitor")
    if parts.provisioner.running_pid(d, Role.MONITOR) is None:
        _reachable(d, t)
        _let_creation_finish(d)
        conf = postgres.pgdata(d) / "postgresql.conf"
        if postgres.MONITOR_MARK not in conf.read_text():  # once, also after a crash right after creation
            with open(conf, "a") as out:
                out.write(postgres.monitor_settings_text())
        parts.provisioner.start(d, Role.MONITOR, postgres.run(t, d), d / "monitor.log")
    _wait(lambda: _monitor_answers(port), parts, "the monitor", d / "monitor.log")


def ensure_member(parts: Parts, inst: Instance, node: Node) -> None:
    """The member's server exists, runs under its keeper and takes connections. A member whose
    files are gone is rebuilt from the others."""
    assert inst.monitor_port is not None and node.storage_port is not None
    ensure_monitor(parts, inst)
    d, t = store_dir(parts, node), tools(parts)
    node_dir = layout.node_dir(parts.settings, node)
    others = [n.storage_port for n in inst.nodes if n.id != node.id and n.storage_port is not None]
    if not created(d):
        parts.provisioner.stop(node_dir, Role.ENGINE)
        parts.provisioner.stop(node_dir, Role.STORAGE)
        _forget(parts, inst, node)
        _stop_leftovers(d)
        _fresh(d, t)
        _take_seed(node_dir, d, t)
        candidate = node.role != READ_REPLICA
        launch = postgres.create_member(t, d, node.storage_port, node.id, inst.monitor_port, candidate)
        _run_once(
            t, launch, node_dir / "storage.log", f"the PostgreSQL server of node {node.name}", lambda: hurry(others)
        )
    if parts.provisioner.running_pid(node_dir, Role.STORAGE) is None:
        _reachable(d, t)
        _let_failover_finish(parts, inst, node)
        _let_creation_finish(d)
        parts.provisioner.start(node_dir, Role.STORAGE, postgres.run(t, d), node_dir / "storage.log")
    port = node.storage_port
    # A deposed primary rejoins by pg_rewind, or by a base backup when that fails: hurry it too;
    # and wake the keeper, which retries a failed step (e.g. following a new primary) only slowly.
    _wait(
        lambda: postgres.accepts(port),
        parts,
        f"the PostgreSQL server of node {node.name}",
        node_dir / "storage.log",
        meanwhile=lambda: _hurry_and_nudge(parts, node, others),
    )
    replica = replica_settings(inst, node)
    if replica is not None:
        postgres.set_apply_delay(port, int(replica.get("delay_ms") or 0))


def states(parts: Parts, inst: Instance) -> list[MemberState]:
    """Every member as the monitor sees it; empty when the monitor cannot be asked."""
    if inst.monitor_port is None:
        return []
    try:
        return postgres.read_states(inst.monitor_port)
    except psycopg.Error:
        return []


def primary_node(parts: Parts, inst: Instance) -> Node | None:
    """The node whose server the monitor says is the writable primary now."""
    by_name = {node.id: node for node in inst.nodes}
    for member in states(parts, inst):
        if member.primary and member.name in by_name:
            return by_name[member.name]
    return None


def sync_roles(parts: Parts, inst: Instance) -> bool:
    """Record each node's role as the monitor has it (`Primary`, `Secondary`); True if one changed.
    A member the monitor cannot place (failing over, rebuilding) keeps its recorded role."""
    changed = False
    by_name = {member.name: member for member in states(parts, inst)}
    for node in inst.nodes:
        member = by_name.get(node.id)
        if node.role == READ_REPLICA:
            continue  # never primary: its role is what it was made as
        role = "Primary" if member and member.primary else "Secondary" if member and member.standby else None
        if role and node.role != role:
            node.role, changed = role, True
    return changed


def dead_roles(parts: Parts, node: Node) -> list[str]:
    """The member's server (under its keeper) and the instance's monitor, when not running; a
    server whose files are gone counts as dead (it is rebuilt, never served)."""
    dead = []
    if parts.provisioner.running_pid(layout.node_dir(parts.settings, node), Role.STORAGE) is None:
        dead.append("storage")
    elif not created(store_dir(parts, node)):
        dead.append("storage (files gone)")
    if parts.provisioner.running_pid(monitor_dir(parts, node.instance_id), Role.MONITOR) is None:
        dead.append("monitor")
    return dead


def wait_primary(parts: Parts, inst: Instance) -> MemberState:
    """Until one member is a writable primary (after creation or a failover)."""
    deadline = time.monotonic() + CREATE_TIMEOUT_S
    while time.monotonic() < deadline:
        for member in states(parts, inst):
            if member.primary:
                return member
        time.sleep(0.2)
    raise InternalError(f"No member of instance {inst.id} became the primary in time.")


def wait_converged(parts: Parts, inst: Instance, restarted: Mapping[str, datetime] | None = None) -> None:
    """Until every member is the primary (`primary`, not `wait_primary`: its standbys are back and
    the monitor can move it again) or a secondary that has caught up: an instance is shown serving
    only as a whole replica set. A member `restarted` (name: when) counts only once its new keeper
    has reported since, and then only when all this has held for SETTLE_S: a restarted keeper
    first reports the state it had, and a second later may be told to follow the current primary
    again, which restarts its server (measured: a write refused just after a rolling restart)."""
    deadline, found = time.monotonic() + CREATE_TIMEOUT_S, []
    since = restarted or {}
    held_since: float | None = None
    while time.monotonic() < deadline:
        found = states(parts, inst)
        replicas = {n.id for n in inst.nodes if n.role == READ_REPLICA}
        converged = len(found) == len(inst.nodes) and all(
            (m.reported == m.goal == "primary" or m.caught_up or (m.name in replicas and m.standby))
            and (m.name not in since or (m.reported_at is not None and m.reported_at > since[m.name]))
            for m in found
        )
        now = time.monotonic()
        held_since = (held_since or now) if converged else None
        if held_since is not None and (not since or now - held_since >= SETTLE_S):
            return
        time.sleep(0.2)
    seen = ", ".join(f"{m.name}: {m.reported}/{m.goal}{'' if m.healthy else ' (unhealthy)'}" for m in found)
    raise InternalError(
        f"The members of instance {inst.id} did not all become primary or secondary in time ({seen or 'no monitor'})."
    )


def nudge(parts: Parts, node: Node) -> None:
    """Wake the member's keeper now (SIGHUP: it reloads its settings and runs its next step at
    once instead of after its one-second sleep): a switchover takes a few keeper steps in turn."""
    parts.provisioner.signal(layout.node_dir(parts.settings, node), Role.STORAGE, signal.SIGHUP)


def stop_monitor(parts: Parts, instance_id: str) -> None:
    parts.provisioner.stop(monitor_dir(parts, instance_id))


def data_bytes(parts: Parts, nodes: list[Node]) -> int:
    """Bytes of the fullest member's server files (under its `pgdata/`, but the WAL it keeps for
    its standbys): each member has a volume of the instance's size, as on DDS, so the instance is
    as full as its fullest member, not as the members together."""
    fullest = 0
    for node in nodes:
        total, pgdata = 0, postgres.pgdata(store_dir(parts, node))
        for root, dirs, files in os.walk(pgdata):
            if Path(root) == pgdata and "pg_wal" in dirs:
                dirs.remove("pg_wal")
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(root, name)).st_size
        fullest = max(fullest, total)
    return fullest


def _monitor_answers(port: int) -> bool:
    try:
        postgres.read_states(port, timeout=1)
        return True
    except psycopg.Error:
        return False


def _creations(directory: Path, verb: bytes | None = b"create") -> list[int]:
    """Process groups of pg_autoctl runs on this data directory (`create` ones, or any with
    `verb` None) that a crash of the service left running (each in a session of its own)."""
    marker = f"--pgdata={postgres.pgdata(directory)}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            if marker in argv and (verb is None or verb in argv):
                found.append(os.getpgid(int(entry)))
        except (OSError, ProcessLookupError):
            continue
    return found


def _stop_leftovers(directory: Path, verb: bytes | None = b"create") -> None:
    """Stop what a crash left running on the data directory before creating or starting again,
    and wait until it is gone: pg_autoctl refuses to start while the pid in its pid file lives."""
    deadline = time.monotonic() + LEFTOVER_TIMEOUT_S
    while (groups := _creations(directory, verb)) and time.monotonic() < deadline:
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(group, os.WNOHANG)  # one of ours: a zombie would still count as running
        time.sleep(0.1)
    keeper = _keeper_pid(directory)
    while keeper is not None and time.monotonic() < deadline:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(os.getpgid(keeper), signal.SIGKILL)  # its server too, as with the groups above
        with contextlib.suppress(ChildProcessError):
            os.waitpid(keeper, os.WNOHANG)
        time.sleep(0.1)
        keeper = _keeper_pid(directory)


def _keeper_pid(directory: Path) -> int | None:
    """The live pg_autoctl its pid file names for this data directory (where pg_autoctl keeps it).
    A pid file naming anything else is removed: pg_autoctl only asks whether that pid lives, and
    pids are reused (32768 of them here), so a stale file would keep every new keeper out."""
    pidfile = Path("/tmp/pg_autoctl") / str(postgres.pgdata(directory)).lstrip("/") / "pg_autoctl.pid"
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except (OSError, IndexError):
        state, argv0 = "gone", b""
    if state not in ("Z", "gone") and argv0.startswith(b"pg_autoctl"):
        return pid
    pidfile.unlink(missing_ok=True)
    return None


def _let_creation_finish(directory: Path) -> None:
    """A creation that got as far as the server's files is let finish before the keeper starts
    (it would refuse to run beside it); one that does not finish in time is stopped, and so is a
    keeper a crash left unrecorded (started just before the service died)."""
    deadline = time.monotonic() + CREATE_TIMEOUT_S
    while _creations(directory) and time.monotonic() < deadline:
        time.sleep(0.2)
    _stop_leftovers(directory, verb=None)


SEED = "pg.seed"  # beside a node's storage: a server directory its member is to start from


def seed_dir(parts: Parts, node: Node) -> Path:
    """Where a restore leaves the server directory (`<seed>/pgdata`) a new instance's first member
    is created from, instead of an empty one: pg_auto_failover registers it as the primary and
    the other members are made from it as usual."""
    return layout.node_dir(parts.settings, node) / SEED


def _take_seed(node_dir: Path, directory: Path, t: Tools) -> None:
    seed = node_dir / SEED / "pgdata"
    if not seed.is_dir():
        return
    seed.rename(postgres.pgdata(directory))
    shutil.rmtree(node_dir / SEED, ignore_errors=True)
    if t.user:
        for root, dirs, files in os.walk(directory):
            for name in dirs + files:
                shutil.chown(os.path.join(root, name), t.user, t.user)


def _fresh(directory: Path, t: Tools) -> None:
    """An empty directory the servers' user owns (what an interrupted create left is removed)."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    if t.user:
        shutil.chown(directory, t.user)
        traversable(directory.parent)


def _let_failover_finish(parts: Parts, inst: Instance, node: Node) -> None:
    """A primary whose keeper died is started again only once another member has taken over (or
    none can): back at once, its keeper would start its server as the primary it last was, in
    the middle of the failover, and writes sent there would wait for standbys that now follow
    the new primary (measured: the write gap of a killed primary grew past 10 s)."""
    deadline = time.monotonic() + FAILOVER_WAIT_S
    while time.monotonic() < deadline:
        found = states(parts, inst)
        me = next((m for m in found if m.name == node.id), None)
        if me is None or me.reported not in postgres.WRITABLE_STATES:
            return  # not the primary: it rejoins as a standby
        if not _failover_pending(found, node):
            return  # another member took over (it will be told to demote), or none can: it is the primary
        time.sleep(0.2)


def _forget(parts: Parts, inst: Instance, node: Node) -> None:
    """Remove a member whose files are gone from the monitor, so it can be created again. A lost
    primary is first asked to leave, which makes the others report their WAL and promotes the
    most advanced one (the fastest failover), and is forced out once another member has taken
    over: forced out at once, pg_auto_failover 2.0 starts no failover and leaves the group without
    a primary for good (`ProceedGroupState couldn't find the primary node`)."""
    assert inst.monitor_port is not None and node.storage_port is not None
    found = states(parts, inst)
    me = next((m for m in found if m.name == node.id), None)
    if me is None:
        return  # not registered (yet, or any more): nothing to forget
    with contextlib.suppress(psycopg.Error):
        if _failover_pending(found, node):
            if me.goal != "dropped":
                postgres.remove_member(inst.monitor_port, node.storage_port, force=False)
            deadline = time.monotonic() + FAILOVER_WAIT_S
            while time.monotonic() < deadline and _failover_pending(states(parts, inst), node):
                time.sleep(0.2)
        postgres.remove_member(inst.monitor_port, node.storage_port)


def _failover_pending(found: list[MemberState], node: Node) -> bool:
    """No other member has taken over from `node` yet, and one can (a healthy standby)."""
    others = [m for m in found if m.name != node.id]
    took_over = any(m.reported in postgres.WRITABLE_STATES and m.goal in postgres.WRITABLE_STATES for m in others)
    return not took_over and any(m.healthy and m.reported in postgres.STANDBY_STATES for m in others)


def _reachable(directory: Path, t: Tools) -> None:
    """Before a keeper starts again: the servers' user still reaches its directory (someone may
    have tightened an ancestor's mode since it was made, as pytest does to its own root)."""
    if t.user and directory.exists():
        traversable(directory)


def traversable(directory: Path) -> None:
    """The servers' user must reach its directories through the service's: give every ancestor the
    search bit for others (never the read bit: nothing is listed)."""
    for d in [directory, *directory.parents]:
        mode = d.stat().st_mode
        if not mode & stat.S_IXOTH:
            d.chmod(mode | stat.S_IXOTH)


def hurry(ports: list[int]) -> None:
    """A standby's base backup starts with a checkpoint on the primary, which pg_autoctl asks for
    spread over minutes (pg_basebackup's default) when the primary has written much: a CHECKPOINT
    request makes the one in progress finish now."""
    for port in ports:
        with contextlib.suppress(psycopg.Error), psycopg.connect(postgres.member_url(port), connect_timeout=1) as conn:
            if conn.execute("SELECT NOT pg_is_in_recovery()").fetchone() == (True,):
                conn.execute("CHECKPOINT")


def _hurry_and_nudge(parts: Parts, node: Node, others: list[int]) -> None:
    hurry(others)
    nudge(parts, node)


def _run_once(t: Tools, launch: Launch, log: Path, what: str, meanwhile: Callable[[], None] | None = None) -> None:
    """Run a pg_autoctl creation to its end; `meanwhile` is called about every second while it runs."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {"LANG": "C.UTF-8", **launch.env}
    deadline = time.monotonic() + CREATE_TIMEOUT_S
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            launch.argv,
            env=env,
            cwd=log.parent,
            **as_user(launch.user),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    raise InternalError(f"Creating {what} took too long: {layout.log_tail(log)}")
                try:
                    proc.wait(1.0)
                except subprocess.TimeoutExpired:
                    if meanwhile is not None:
                        meanwhile()
        finally:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 9)
                proc.wait()
    if proc.returncode != 0:
        raise InternalError(f"Creating {what} failed: {layout.log_tail(log)}")


def _wait(
    ready: Callable[[], bool], parts: Parts, what: str, log: Path, meanwhile: Callable[[], None] | None = None
) -> None:
    """Until `ready`; `meanwhile` is called every few seconds once the wait is no longer short."""
    start = time.monotonic()
    deadline, nudged = start + max(parts.settings.engine_start_timeout, CREATE_TIMEOUT_S), start
    while time.monotonic() < deadline:
        if ready():
            return
        if meanwhile is not None and time.monotonic() - nudged >= 3.0:
            meanwhile()
            nudged = time.monotonic()
        time.sleep(0.1)
    raise InternalError(f"{what} did not start in time: {layout.log_tail(log)}")
