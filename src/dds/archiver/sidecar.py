"""The sidecar supervisor: runs litestream for one node and keeps it in step with the data dir.

Every poll it scans the data directory; a new database file (a new incarnation) or a
dropped one means a new config and a restart, so new databases are archived within
a poll interval plus a restart (about a second). Every restart — planned or after a
crash — is recorded in the catalog as a pause, and restore ranges leave it out: while
litestream is down nothing is captured, and what it captures on coming back carries
the time it came back.
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import IO

from dds.archiver.catalog import Catalog, identity, incarnation_id, needs_restart, reconcile, scan
from dds.archiver.config import ArchiveConfig, SidecarPlan, launch, write_config
from dds.archiver.coverage import expire, load_catalog, publish
from dds.archiver.errors import SidecarFailed
from dds.archiver.store import ReplicaStore, open_store
from dds.core.children import die_with_parent

log = logging.getLogger(__name__)

EXPIRE_EVERY_MS = 3_600_000


def now_ms() -> int:
    return int(time.time() * 1000)


class Sidecar:
    """Litestream for one instance node, restarted when the set of database files changes."""

    def __init__(
        self,
        config: ArchiveConfig,
        *,
        poll_interval: float = 0.25,
        store: ReplicaStore | None = None,
        own_group: bool = True,
    ):
        if config.state_dir.resolve().is_relative_to(config.data_dir.resolve()):
            raise ValueError("the archiver's state must live outside the engine's data directory")
        self.config = config
        self.poll_interval = poll_interval
        # True: litestream leads a process group of its own (in-process use, tests). False: it stays
        # in ours, so whoever stops our group (the service's provisioner) stops litestream with us.
        self.own_group = own_group
        self.store = store if store is not None else open_store(config.replica)
        self.restarts = 0
        self._lock = threading.RLock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._plan: SidecarPlan | None = None
        self._catalog: Catalog | None = None
        self._heartbeat_id = ""
        self._prev_scan: int | None = None
        self._stopped_at: int | None = None
        self._last_alive = 0
        self._next_spawn = 0
        self._failures = 0
        self._last_expire = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def catalog(self) -> Catalog:
        with self._lock:
            return self._catalog if self._catalog is not None else Catalog()

    def start(self) -> None:
        """Start litestream (if stopped) and the watcher thread."""
        with self._lock:
            if self._proc is not None:
                return
            if self._catalog is None:
                loaded = load_catalog(self.store)
                self._catalog = replace(loaded, gap_ms=self.config.gap_ms, settle_ms=self.config.settle_ms)
            # A new process (after a stop, a crash, or archiving switched off) does not know when
            # the previous one stopped capturing; its last heartbeat does. Read before overwriting.
            stopped_at = self._stopped_at if self._stopped_at is not None else last_beat(self.config.heartbeat_path)
            prepare_heartbeat(self.config.heartbeat_path)
            ident = identity(self.config.heartbeat_path)
            if ident is None:
                raise SidecarFailed(f"heartbeat database {self.config.heartbeat_path} vanished")
            born = ident.btime_ns // 1_000_000 if ident.btime_ns is not None else now_ms()
            self._heartbeat_id = incarnation_id(born, ident.ino)
            now = now_ms()
            self._catalog = reconcile(self._catalog, scan(self.config.data_dir), now, self._prev_scan)
            self._prev_scan = now
            self._spawn(pause_from=stopped_at)
            self._stopped_at = None
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._watch, name="archiver-sidecar", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 20) -> None:
        """Stop the watcher, then litestream with SIGTERM (it syncs once more and exits)."""
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None
        with self._lock:
            if self._proc is not None:
                self._stopped_at = now_ms()
                self._terminate(timeout)
            self._proc = None

    def kill(self) -> None:
        """SIGKILL litestream alone, as a crash would; the watcher notices and restarts it."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                os.kill(self._proc.pid, signal.SIGKILL)

    def tick(self) -> None:
        """One watcher step: re-scan, restart on change or after a crash, publish the catalog."""
        with self._lock:
            if self._proc is None or self._catalog is None:
                return
            now = now_ms()
            alive = self._proc.poll() is None
            before = self._catalog
            self._catalog = reconcile(before, scan(self.config.data_dir), now, self._prev_scan)
            self._prev_scan = now
            if not alive:
                if now >= self._next_spawn:
                    log.warning("litestream exited with %s; restarting", self._proc.returncode)
                    self._failures += 1
                    self._next_spawn = now + min(30_000, 500 * 2 ** min(self._failures, 6))
                    self._spawn(pause_from=self._last_alive)
                return
            if self._plan is not None and needs_restart(self._plan.running_ids, self._catalog):
                self._terminate(20)
                self._spawn(pause_from=now)
            elif self._catalog != before:
                publish(self.store, self._catalog)
            self._last_alive = now
            if now - self._next_spawn > 10_000:
                self._failures = 0
            if now - self._last_expire > EXPIRE_EVERY_MS:
                self._expire(now)

    def _spawn(self, pause_from: int | None) -> None:
        assert self._catalog is not None
        plan = SidecarPlan(heartbeat_id=self._heartbeat_id, incarnations=self._catalog.live())
        # Publish first: the catalog must know every incarnation before its replica path gets data.
        publish(self.store, self._catalog)
        write_config(self.config, plan)
        spec = launch(self.config)
        if self._log is None:
            self._log = open(log_path(self.config), "ab")  # noqa: SIM115 - held for the child
        self._proc = subprocess.Popen(
            spec.argv,
            env={**os.environ, **spec.env},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=self.own_group,  # the heartbeat child goes with litestream either way
            preexec_fn=None if self.own_group else die_with_parent,
        )
        spawned = now_ms()
        self._plan = plan
        self._last_alive = spawned
        if pause_from is not None:
            self.restarts += 1
            self._catalog = self._catalog.with_pause(pause_from, spawned)
            publish(self.store, self._catalog)

    def _terminate(self, timeout: float) -> None:
        """SIGTERM, then SIGKILL to the group after `timeout`; a lingering heartbeat child goes too.

        The group is signalled while litestream is an unreaped zombie, so its id (the
        group's) cannot have been handed to another process meanwhile.
        """
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        try:
            if self.own_group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        except ProcessLookupError:
            pass
        proc.wait(5)

    def _expire(self, now: int) -> None:
        assert self._catalog is not None
        self._last_expire = now
        retention = int(self.config.retention.total_seconds() * 1000)
        self._catalog = expire(self.store, self._catalog, now, retention, self._heartbeat_id)
        publish(self.store, self._catalog)

    def _watch(self) -> None:
        while not self._stopping.wait(self.poll_interval):
            try:
                self.tick()
            except Exception:  # a bad scan or a store hiccup must not end archiving
                log.exception("archiver tick failed")

    def close(self) -> None:
        """Stop everything and release the log file."""
        self.stop()
        if self._log is not None:
            self._log.close()
            self._log = None


def prepare_heartbeat(path: Path) -> None:
    """Create the heartbeat database in WAL mode (litestream needs WAL) before the sidecar starts;
    its writer is `dds.archiver.heartbeat`, litestream's `-exec` child."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS beat (id INTEGER PRIMARY KEY CHECK (id = 1), ms INTEGER NOT NULL)")
        conn.execute("INSERT OR REPLACE INTO beat VALUES (1, ?)", (now_ms(),))
    finally:
        conn.close()


def last_beat(path: Path) -> int | None:
    """When the previous run's heartbeat writer last wrote (UTC ms), if there was a previous run."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT ms FROM beat WHERE id = 1").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return int(row[0]) if row else None


def log_path(config: ArchiveConfig) -> Path:
    return config.state_dir / "litestream.log"
