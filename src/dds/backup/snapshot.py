"""A point-in-time copy of a running instance, served by a temporary engine.

The engine keeps one SQLite file per database. The engine process is paused
(SIGSTOP) for the moment it takes to open a read transaction on every file, then
resumed; each file is then copied from inside its read transaction (SQLite's
backup API), so all copies show the instant of the pause. A temporary, read-only
engine on the copy is what the dump reads, so the tenant's engine serves at full
speed meanwhile and every mode (Single too) gets the same guarantee: one
consistent point in time across all databases and collections.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import quote_plus

from pymongo import MongoClient

from dds.db.models import Instance
from dds.engine.base import NodeSpec
from dds.errors import InternalError
from dds.runtime import Runtime
from dds.services import nodes


def freeze_copy(pid: int | None, src: Path, dst: Path) -> None:
    """Copy every engine file of `src` into `dst` as of one instant."""
    dst.mkdir(parents=True, exist_ok=True)
    files = sorted(src.glob("*.sqlite"))
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


@contextlib.contextmanager
def serve_snapshot(rt: Runtime, inst: Instance, work: Path) -> Iterator[tuple[MongoClient, datetime]]:  # type: ignore[type-arg]
    """Yield a client of a temporary engine on a frozen copy of `inst`, and the copy's time."""
    node = nodes.primary(inst)
    node_dir = nodes.node_dir(rt, node)
    copy_dir = work / "engine"
    taken = rt.clock.now()
    freeze_copy(rt.provisioner.running_pid(node_dir), node_dir / "data", copy_dir / "data")
    listen, debug = _two_free_ports()
    spec = NodeSpec(
        node_dir=copy_dir,
        listen_host="127.0.0.1",
        listen_port=listen,
        debug_port=debug,
        repl_set_name=None,
        read_only=True,
    )
    spec.state_dir.mkdir(parents=True, exist_ok=True)
    rt.provisioner.start(copy_dir, rt.engine.launch(spec), spec.log_path)
    try:
        deadline = time.monotonic() + rt.settings.engine_start_timeout
        while not rt.engine.is_ready(spec):
            if time.monotonic() > deadline or rt.provisioner.running_pid(copy_dir) is None:
                raise InternalError("The temporary engine for the backup did not start.")
            time.sleep(0.01)
        password = quote_plus(nodes.service_password(rt, inst.id))
        uri = (
            f"mongodb://{nodes.SERVICE_USER}:{password}@127.0.0.1:{listen}/?authSource=admin"
            "&directConnection=true&authMechanism=SCRAM-SHA-256"
        )
        client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=10000)  # type: ignore[type-arg]
        with client:
            yield client, taken
    finally:
        rt.provisioner.stop(copy_dir)


def _two_free_ports() -> tuple[int, int]:
    import socket

    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        return a.getsockname()[1], b.getsockname()[1]
