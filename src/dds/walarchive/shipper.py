"""The WAL archiver of a replica set on PostgreSQL storage: a receiver and a shipper.

The receiver is PostgreSQL's own `pg_receivewal`, streaming (and fsyncing) the WAL of whichever
member is primary into a local spool: its connection lists every member with
`target_session_attrs=read-write`, so after a failover it reconnects to the new primary, fetches
the timeline history and goes on from where its `.partial` segment ended, without a gap. It uses
no replication slot: a slot stays behind on the old primary at a failover (proven in a lab of
three failovers, see docs/backups.md).

Every beat the shipper writes a heartbeat commit on the primary, waits until the receiver has
flushed the WAL up to it, and ships what is new into the store: whole segments and timeline
histories once, the growing `.partial` segment as chunks of what was added since the last beat.
Then the coverage document records the heartbeat (see `coverage`). So what is committed is
restorable within about a beat, and an idle instance's archive still proves it is current.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import zstandard

from dds.archiver.config import ReplicaTarget
from dds.archiver.store import ReplicaStore, open_store
from dds.core.children import die_with_parent
from dds.provision.local import as_user
from dds.walarchive import coverage, wal

log = logging.getLogger("dds.walarchive")

APPLICATION = "dds_wal_archive"  # how the receiver shows in the primary's pg_stat_replication
REPLICATOR = "pgautofailover_replicator"
SUPERUSER = "ferretdb"
FILES = "files"  # whole segments and histories: files/<name>.zst
PARTIAL = "partial"  # the current segment's chunks: partial/<segment>/<offset>.zst
_BEAT_TABLE = "CREATE TABLE IF NOT EXISTS dds_archive_heartbeat (id int PRIMARY KEY, at timestamptz NOT NULL)"
_BEAT = (
    "INSERT INTO dds_archive_heartbeat VALUES (1, clock_timestamp()) ON CONFLICT (id) DO UPDATE SET at = excluded.at "
    "RETURNING (extract(epoch FROM at) * 1000)::bigint"
)
_LOST = "has already been removed"  # the receiver asked for WAL the primary recycled
_FLUSHED = "SELECT flush_lsn::text FROM pg_stat_replication WHERE application_name = %s ORDER BY flush_lsn DESC LIMIT 1"


@dataclass(frozen=True)
class WalArchiveConfig:
    spool: Path  # the receiver's directory (its `.partial` is where it goes on from)
    ports: tuple[int, ...]  # every HA member's server
    bin_dir: Path
    user: str | None  # the servers' user, as whom the receiver runs
    replica: ReplicaTarget
    retention_days: int = 7
    beat_s: float = 0.5

    def conninfo(self, user: str, extra: str = "") -> str:
        hosts = ",".join("127.0.0.1" for _ in self.ports)
        ports = ",".join(str(p) for p in self.ports)
        return f"host={hosts} port={ports} user={user} target_session_attrs=read-write connect_timeout=2 {extra}"


@dataclass
class _Partial:
    name: str = ""
    shipped: int = 0  # bytes of it already in the store


@dataclass
class Shipper:
    config: WalArchiveConfig
    store: ReplicaStore = field(init=False)
    cov: coverage.Coverage = field(init=False)
    fresh: bool = field(init=False)
    partial: _Partial = field(default_factory=_Partial)
    receiver: subprocess.Popen[bytes] | None = None
    conn: psycopg.Connection[tuple[object, ...]] | None = None
    last_expiry: float = 0.0

    def __post_init__(self) -> None:
        self.store = open_store(self.config.replica)
        self.cov = coverage.load(self.store)
        self.config.spool.mkdir(parents=True, exist_ok=True)
        # With nothing to go on from, the receiver starts where the primary is now: a new range.
        self.fresh = not any(self.config.spool.iterdir())
        if self.config.user:
            shutil.chown(self.config.spool, self.config.user, self.config.user)
        self.cctx = zstandard.ZstdCompressor(level=3)

    def run(self, stopping: threading.Event) -> None:
        try:
            while not stopping.is_set():
                started = time.monotonic()
                try:
                    self.step()
                except (psycopg.Error, OSError) as exc:
                    log.warning("beat failed: %s", exc)
                    self._disconnect()
                stopping.wait(max(0.05, self.config.beat_s - (time.monotonic() - started)))
        finally:
            self._disconnect()
            if self.receiver is not None and self.receiver.poll() is None:
                self.receiver.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.receiver.wait(10)

    def step(self) -> None:
        """One beat: receiver alive, heartbeat committed and flushed, new WAL shipped, recorded."""
        self._keep_receiving()
        conn = self._connection()
        row = conn.execute(_BEAT).fetchone()
        assert row is not None
        at_ms = int(str(row[0]))
        conn.commit()
        lsn_row = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
        conn.commit()
        assert lsn_row is not None
        target = wal.parse_lsn(str(lsn_row[0]))
        flushed = self._flushed_past(conn, target)
        if flushed is None:
            self._ship(None)  # whole segments still go; the heartbeat is not proven stored
            return
        first = self._first_lsn() if self.fresh else None  # before shipping clears older segments
        self._ship(flushed)
        if self.fresh and first is None:
            return  # nothing received yet to begin a range with
        self.cov.extend(at_ms, first)
        self.fresh = False
        now_ms = int(time.time() * 1000)
        if time.monotonic() - self.last_expiry > 60:
            self.last_expiry = time.monotonic()
            for key in self.cov.expire(now_ms - self.config.retention_days * 86_400_000):
                self.store.delete_prefix(key)
        coverage.save(self.store, self.cov)

    def _first_lsn(self) -> int | None:
        """Where a stream that began with nothing before it starts: the oldest segment the
        receiver wrote (it begins at the start of the segment the primary was writing)."""
        segnos = [wal.segno_of(p.name.removesuffix(".partial")) for p in self.config.spool.iterdir()]
        first = min((n for n in segnos if n is not None), default=None)
        return None if first is None else first * wal.SEGMENT_BYTES

    def _flushed_past(self, conn: psycopg.Connection[tuple[object, ...]], target: int) -> int | None:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            row = conn.execute(_FLUSHED, (APPLICATION,)).fetchone()
            conn.commit()
            if row is not None and row[0] is not None and wal.parse_lsn(str(row[0])) >= target:
                return wal.parse_lsn(str(row[0]))
            time.sleep(0.01)
        return None

    def _ship(self, flushed: int | None) -> None:
        """Store what the receiver finished (whole files, in name order), then the flushed part
        of its current segment beyond what is stored."""
        spool = self.config.spool
        names = sorted(p.name for p in spool.iterdir())
        whole = [n for n in names if wal.is_segment(n) or wal.is_history(n)]
        for name in whole:
            key = f"{FILES}/{name}.zst"
            if key not in self.cov.files:
                self.store.write(key, self.cctx.compress((spool / name).read_bytes()))
                self.cov.files[key] = int(time.time() * 1000)
                if wal.is_segment(name):
                    self.store.delete_prefix(f"{PARTIAL}/{name}")
                    if self.partial.name == name:
                        self.partial = _Partial()
        segments = [n for n in whole if wal.is_segment(n)]
        for old in segments[:-1]:  # the newest whole segment stays: the receiver goes on after it
            (spool / old).unlink(missing_ok=True)
        partials = [n for n in names if n.endswith(".partial") and wal.is_segment(n.removesuffix(".partial"))]
        if flushed is None or not partials:
            return
        name = partials[-1].removesuffix(".partial")
        segno, offset = wal.segment_and_offset(flushed)
        if wal.segno_of(name) != segno:
            return  # flushed into a segment not yet opened here: the next beat ships it
        if self.partial.name != name:
            self.partial = _Partial(name, 0)
            self.store.delete_prefix(f"{PARTIAL}/{name}")  # what an earlier run shipped is shipped again whole
        if offset <= self.partial.shipped:
            return
        with open(spool / partials[-1], "rb") as f:
            f.seek(self.partial.shipped)
            chunk = f.read(offset - self.partial.shipped)
        key = f"{PARTIAL}/{name}/{self.partial.shipped:010d}.zst"
        self.store.write(key, self.cctx.compress(chunk))
        self.cov.files.setdefault(f"{PARTIAL}/{name}", int(time.time() * 1000))
        self.partial.shipped += len(chunk)

    def _keep_receiving(self) -> None:
        if self.receiver is not None and self.receiver.poll() is None:
            return
        c = self.config
        if self.receiver is not None:
            log.warning("the WAL receiver exited (%s); starting it again", self.receiver.returncode)
            if _LOST in self.receiver_log.read_text(errors="replace")[-2000:]:
                # The primary no longer has the WAL after the spool's end: start over, a new range.
                log.warning("the WAL the archive would go on from is gone: a new range begins")
                for entry in c.spool.iterdir():
                    entry.unlink()
                self.partial, self.fresh = _Partial(), True
            self.receiver_log.unlink(missing_ok=True)
        argv = [
            str(c.bin_dir / "pg_receivewal"),
            f"--directory={c.spool}",
            "--synchronous",
            "--no-password",
            f"--dbname={c.conninfo(REPLICATOR, f'application_name={APPLICATION}')}",
        ]
        with open(self.receiver_log, "ab") as err:
            self.receiver = subprocess.Popen(
                argv,
                **as_user(c.user),
                stdin=subprocess.DEVNULL,
                stderr=err,
                preexec_fn=die_with_parent,
                env={"LANG": "C.UTF-8", "PATH": f"{c.bin_dir}:/usr/bin:/bin"},
            )

    @property
    def receiver_log(self) -> Path:
        return self.config.spool.parent / "receiver.log"

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        if self.conn is None or self.conn.closed:
            self.conn = psycopg.connect(self.config.conninfo(SUPERUSER, "dbname=postgres"))
            self.conn.execute(_BEAT_TABLE)
            self.conn.commit()
        return self.conn

    def _disconnect(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(psycopg.Error):
                self.conn.close()
            self.conn = None
