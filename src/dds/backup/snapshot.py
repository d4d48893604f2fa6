"""A running engine's files held as of one instant.

The engine keeps one SQLite file per database. The engine process is paused (SIGSTOP) for
the moment it takes to fold each file's write-ahead log in and open a read transaction on
every file, then resumed; each file is then read in place (or copied with SQLite's backup
API) from inside its read transaction, so every file shows the instant of the pause: one
consistent point in time across all databases and collections.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dds.core.errors import EngineFilesDamaged


@dataclass(frozen=True)
class FrozenFile:
    """One engine file as of the freeze: read `size` bytes of `path` (while frozen) for its image."""

    name: str
    path: Path
    size: int
    collections: list[str]  # the engine's collections in this file at the freeze (not system.*)


@contextlib.contextmanager
def frozen(pid: int | None, src: Path, staging: Path, skip: frozenset[str] = frozenset()) -> Iterator[list[FrozenFile]]:
    """Hold every engine file of `src` (but the databases in `skip`) as of one instant, for as
    long as the block runs, without copying where SQLite lets us read the file itself.

    While the engine is paused, each file's write-ahead log is checkpointed (PASSIVE: no lock
    a paused writer could hold is needed) and a read transaction is opened. When that
    checkpoint moved every logged page into the file, the reader ignores the log and holds the
    lock that keeps every later checkpoint out of the file (WAL read-lock 0): the file's first
    `page_count * page_size` bytes stay the snapshot's image until the block ends, however the
    engine writes meanwhile (its writes go to the log). A file whose log could not be folded in
    (another reader of the engine held old pages) is copied into `staging` with SQLite's backup
    API from inside its read transaction instead.
    """
    files = sorted(f for f in src.glob("*.sqlite") if f.stem not in skip)
    conns = [sqlite3.connect(f, isolation_level=None, timeout=30) for f in files]
    try:
        whole: list[bool] = []
        if pid is not None:
            os.kill(pid, signal.SIGSTOP)
        try:
            for conn in conns:
                busy, logged, folded = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                conn.execute("BEGIN")
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                whole.append(busy == 0 and logged == folded)
        finally:
            if pid is not None:
                os.kill(pid, signal.SIGCONT)
        held = []
        for f, conn, in_file in zip(files, conns, whole, strict=True):
            # The image must be whole before it is kept: a damaged file would make a backup that
            # restores (or recovers a lost node) into the same damage.
            found = [str(r[0]) for r in conn.execute("PRAGMA quick_check(5)")]
            if found != ["ok"]:
                raise EngineFilesDamaged(f"The engine's file {f.name} is damaged: {'; '.join(found)}")
            names = _collections(conn)
            if in_file:
                pages = conn.execute("PRAGMA page_count").fetchone()[0]
                page_size = conn.execute("PRAGMA page_size").fetchone()[0]
                held.append(FrozenFile(f.name, f, int(pages) * int(page_size), names))
            else:
                staging.mkdir(parents=True, exist_ok=True)
                with contextlib.closing(sqlite3.connect(staging / f.name)) as out:
                    conn.backup(out)
                held.append(FrozenFile(f.name, staging / f.name, (staging / f.name).stat().st_size, names))
        yield held
    finally:
        for conn in conns:
            conn.close()


def _collections(conn: sqlite3.Connection) -> list[str]:
    """Collection names from the engine's catalog table, as the open read transaction sees it."""
    try:
        rows = conn.execute("SELECT name FROM _ferretdb_collections ORDER BY name").fetchall()
    except sqlite3.DatabaseError:
        return []
    return [r[0] for r in rows if not r[0].startswith("system.")]
