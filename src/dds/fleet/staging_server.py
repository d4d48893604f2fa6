"""A PostgreSQL server of our own on a restored base backup, for as long as a job reads it.

A base backup is made readable by starting a server on it: PostgreSQL replays the WAL the
backup carries up to its consistent end and opens. The server runs beside the instance's
members, on loopback only, with every setting a member brings along that would reach out or
wait (synchronous standbys, archiving) switched off on its command line. Stopped, it leaves a
cleanly shut-down directory (recovery done), which a new instance's first member can start from.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dds.core.errors import InternalError
from dds.engine import postgres
from dds.fleet import members
from dds.parts import Parts
from dds.provision.local import as_user

START_TIMEOUT_S = 300.0  # replaying the backup's WAL is bounded by what was written during it
_LEFT_BEHIND = ("postmaster.pid", "postmaster.opts", "standby.signal", "recovery.signal")


@dataclass(frozen=True)
class Recovery:
    """Replay archived WAL (in `wal_dir`) past the backup's end, up to the last commit at or
    before `target_ms`, on the newest timeline, and open there as a primary."""

    wal_dir: Path
    target_ms: int

    def settings(self) -> list[str]:
        at = datetime.fromtimestamp(self.target_ms / 1000, UTC).isoformat(sep=" ", timespec="milliseconds")
        return [
            f"restore_command=cp {self.wal_dir}/%f %p",
            f"recovery_target_time={at}",
            "recovery_target_timeline=latest",
            "recovery_target_action=promote",
        ]


@contextlib.contextmanager
def serving(parts: Parts, pgdata: Path, recovery: Recovery | None = None) -> Iterator[int]:
    """Start a server on `pgdata` (a base backup unpacked), yield its port, stop it after. With a
    `recovery`, the port is yielded once it has recovered to its target and opened for writes;
    the settings are on its command line only, so nothing of them stays in the directory."""
    t = members.tools(parts)
    for name in _LEFT_BEHIND:
        with contextlib.suppress(FileNotFoundError):
            (pgdata / name).unlink()
    _own(pgdata, t.user)
    if recovery is not None:
        _own(recovery.wal_dir, t.user)
        (pgdata / "recovery.signal").touch()
    port = _free_port()
    log = pgdata.parent / "staging-server.log"
    argv = [
        str(t.bin_dir / "postgres"),
        "-D",
        str(pgdata),
        "-p",
        str(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        f"unix_socket_directories={t.socket_dir}",
        "-c",
        "synchronous_standby_names=",
        "-c",
        "archive_mode=off",
        "-c",
        "hot_standby=on",
        "-c",
        "logging_collector=off",
        "-c",
        "shared_preload_libraries=",
    ]
    for setting in recovery.settings() if recovery else []:
        argv += ["-c", setting]
    t.socket_dir.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            argv,
            **as_user(t.user),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={"LANG": "C.UTF-8", "PATH": f"{t.bin_dir}:/usr/bin:/bin"},
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (postgres.accepts(port) and (recovery is None or not postgres.in_recovery(port))):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise InternalError(f"The backup's server did not start: {log.read_text(errors='replace')[-800:]}")
            time.sleep(0.1)
        yield port
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGINT)  # a fast shutdown
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


def _own(pgdata: Path, user: str | None) -> None:
    """The server's user owns its directory (unpacked by the service); PostgreSQL wants 0700."""
    pgdata.chmod(0o700)
    if user is None:
        return
    shutil.chown(pgdata, user, user)
    for root, dirs, files in os.walk(pgdata):
        for name in dirs + files:
            shutil.chown(os.path.join(root, name), user, user)
    members.traversable(pgdata.parent)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
