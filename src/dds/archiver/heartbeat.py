"""The heartbeat writer, run by litestream as its `-exec` child.

One tiny SQLite database outside the engine's data directory, updated every interval
and replicated like the others: the capture times of its LTX files in the replica
prove when litestream was reading WALs, which is what tells an idle database from a
stopped sidecar. It exits when its parent (litestream) is gone or on SIGTERM.
Nothing imports this module: it is the `python -m` entry point only.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path

_SCHEMA = "CREATE TABLE IF NOT EXISTS beat (id INTEGER PRIMARY KEY CHECK (id = 1), ms INTEGER NOT NULL)"


def run(path: Path, interval_ms: int, stop: threading.Event, parent: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None, timeout=5)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(_SCHEMA)
        while not stop.is_set() and os.getppid() == parent:
            try:
                conn.execute("INSERT OR REPLACE INTO beat VALUES (1, ?)", (int(time.time() * 1000),))
            except sqlite3.OperationalError:
                pass  # busy during litestream's checkpoint: the next beat will do
            stop.wait(interval_ms / 1000)
    finally:
        conn.close()


def main(argv: list[str]) -> int:
    path, interval_ms = Path(argv[0]), int(argv[1])
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run(path, interval_ms, stop, os.getppid())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
