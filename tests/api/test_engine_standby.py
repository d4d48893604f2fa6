"""The engine on a PostgreSQL hot standby (engine patch 0010), the ground replica sets stand on:
a primary and a streaming standby made by `pg_basebackup -R -X stream` (Debian's PostgreSQL,
installed by `make test`), one FerretDB (PostgreSQL backend) on each. What the primary's engine
creates, indexes and drops becomes visible through the standby's engine (FerretDB v1.24.2 loaded
a standby's metadata once and never saw a later collection); writes on the standby are refused
with an error and the engine keeps serving."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

from tests.helpers import bare_engine, free_ports

PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
pytestmark = pytest.mark.skipif(not PG_BINS, reason="PostgreSQL is not installed (make test installs it)")


def as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as Debian's `postgres` user."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def pg(tool: str, *args: str) -> None:
    proc = subprocess.run(as_postgres([str(PG_BINS[-1].parent / tool), *args]), capture_output=True, text=True)
    assert proc.returncode == 0, f"{tool} {args}: {proc.stdout}{proc.stderr}"


@contextlib.contextmanager
def primary_and_standby() -> Iterator[tuple[int, int]]:
    """A primary and its streaming hot standby on loopback ports, user `ferret`, database `ferretdb`."""
    base = Path(tempfile.mkdtemp(prefix="dds-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    primary, standby = base / "primary", base / "standby"
    ports = free_ports(2)
    started: list[Path] = []
    try:
        pg("initdb", "-D", str(primary), "-U", "ferret", "--auth=trust", "--no-sync")
        opts = f"-p {ports[0]} -c listen_addresses=127.0.0.1 -c unix_socket_directories={base} -c fsync=off"
        pg("pg_ctl", "-D", str(primary), "-o", opts, "-l", str(base / "primary.log"), "-w", "start")
        started.append(primary)
        pg("createdb", "-h", "127.0.0.1", "-p", str(ports[0]), "-U", "ferret", "ferretdb")
        # -R writes standby.signal and primary_conninfo: the copy starts as a streaming hot standby
        source = ("-h", "127.0.0.1", "-p", str(ports[0]), "-U", "ferret")
        pg("pg_basebackup", *source, "-D", str(standby), "-R", "-X", "stream", "--checkpoint=fast")
        opts = f"-p {ports[1]} -c listen_addresses=127.0.0.1 -c unix_socket_directories={base} -c fsync=off"
        pg("pg_ctl", "-D", str(standby), "-o", opts, "-l", str(base / "standby.log"), "-w", "start")
        started.append(standby)
        yield ports[0], ports[1]
    finally:
        for data in reversed(started):
            with contextlib.suppress(AssertionError):
                pg("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


def engine_on(tmp: Path, pg_port: int) -> contextlib.AbstractContextManager[MongoClient[dict[str, Any]]]:
    """The project's engine build with its PostgreSQL backend on the server at pg_port."""
    return bare_engine(tmp, "--handler=postgresql", f"--postgresql-url=postgres://ferret@127.0.0.1:{pg_port}/ferretdb")


def eventually(check: Callable[[], bool], what: str, seconds: float = 10) -> float:
    """Seconds until check() holds (polled), or fail naming what never happened."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"{what} within {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - started


def test_standby_engine_sees_what_the_primary_creates(tmp_path: Path) -> None:
    with primary_and_standby() as (primary_port, standby_port):
        with engine_on(tmp_path / "p", primary_port) as primary, engine_on(tmp_path / "s", standby_port) as standby:
            primary.app.first.insert_one({"_id": 0})
            eventually(
                lambda: standby.app.first.find_one({"_id": 0}) is not None, "the first collection on the standby"
            )
            # the standby's engine has loaded its metadata: what comes later must reach it too
            primary.app.later.insert_many([{"_id": i, "g": i % 7} for i in range(100)])
            took = eventually(
                lambda: standby.app.later.count_documents({}) == 100, "a collection created later, on the standby"
            )
            primary.app.later.create_index("g")
            eventually(lambda: "g_1" in standby.app.later.index_information(), "an index created later, on the standby")
            assert standby.app.later.count_documents({"g": 3}) == len([i for i in range(100) if i % 7 == 3])
            primary.app.later.drop()
            eventually(lambda: "later" not in standby.app.list_collection_names(), "the drop, on the standby")

            with pytest.raises((OperationFailure, PyMongoError)):
                standby.app.first.insert_one({"_id": 1})
            assert standby.admin.command("ping")["ok"] == 1.0
            assert standby.app.first.find_one({"_id": 0}) == {"_id": 0}
    print(f"\na collection the primary created was readable on the standby after {took:.2f} s")
