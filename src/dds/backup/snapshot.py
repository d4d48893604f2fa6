"""A point-in-time copy of a running engine's files.

The engine keeps one SQLite file per database. The engine process is paused
(SIGSTOP) for the moment it takes to open a read transaction on every file, then
resumed; each file is then copied from inside its read transaction (SQLite's
backup API), so all copies show the instant of the pause: one consistent point in
time across all databases and collections.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
from pathlib import Path


def freeze_copy(pid: int | None, src: Path, dst: Path, skip: frozenset[str] = frozenset()) -> list[Path]:
    """Copy every engine file of `src` (but the databases named in `skip`) into `dst` as of one
    instant; returns the copies."""
    dst.mkdir(parents=True, exist_ok=True)
    files = sorted(f for f in src.glob("*.sqlite") if f.stem not in skip)
    conns = [sqlite3.connect(f, isolation_level=None, timeout=30) for f in files]
    try:
        if pid is not None:
            os.kill(pid, signal.SIGSTOP)
        try:
            for conn in conns:  # a read transaction pins each file's snapshot
                conn.execute("BEGIN")
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            if pid is not None:
                os.kill(pid, signal.SIGCONT)
        for f, conn in zip(files, conns, strict=True):
            with contextlib.closing(sqlite3.connect(dst / f.name)) as out:
                conn.backup(out)
    finally:
        for conn in conns:
            conn.close()
    return [dst / f.name for f in files]
