"""Local processes: each engine is a child in its own process group.

A pid file in the node directory lets a restarted service find engines that a
killed predecessor left behind, even ones it never got to record.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from dds.engine.base import Launch

PIDFILE = "engine.pid"


class LocalProvisioner:
    """Starts, watches and stops engine processes on this host."""

    def __init__(self) -> None:
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, node_dir: Path, launch: Launch, log_path: Path) -> int:
        """Start the process and record its pid before anything else can fail."""
        self.stop(node_dir)
        node_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DDS_", "FERRETDB_"))}
        env.update(launch.env)
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                launch.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=node_dir,
                start_new_session=True,
            )
        (node_dir / PIDFILE).write_text(str(proc.pid))
        self._children[str(node_dir)] = proc
        return proc.pid

    def running_pid(self, node_dir: Path) -> int | None:
        """The pid of this node's engine if it is alive, else None (and reaps it)."""
        proc = self._children.get(str(node_dir))
        if proc is not None:
            if proc.poll() is None:
                return proc.pid
            del self._children[str(node_dir)]
            return None
        pid = _read_pid(node_dir)
        if pid is not None and _is_engine_of(pid, node_dir):
            return pid
        return None

    def exit_code(self, node_dir: Path) -> int | None:
        proc = self._children.get(str(node_dir))
        return proc.poll() if proc else None

    def stop(self, node_dir: Path, timeout: float = 10.0) -> None:
        """Stop the node's process group: SIGTERM, then SIGKILL after `timeout`."""
        proc = self._children.pop(str(node_dir), None)
        pid = proc.pid if proc else _read_pid(node_dir)
        if pid is not None and (proc is not None or _is_engine_of(pid, node_dir)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
                os.killpg(pid, signal.SIGCONT)  # a paused engine (backup snapshot) must see the SIGTERM
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and _alive(pid, proc):
                time.sleep(0.05)
            if _alive(pid, proc):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                while _alive(pid, proc):
                    time.sleep(0.05)
        with contextlib.suppress(FileNotFoundError):
            (node_dir / PIDFILE).unlink()

    def stop_all(self) -> None:
        for key in list(self._children):
            self.stop(Path(key))

    def orphans(self, root: Path) -> list[Path]:
        """Node directories under `root` whose pid file names a live engine."""
        found = []
        for pidfile in root.glob(f"*/*/{PIDFILE}"):
            pid = _read_pid(pidfile.parent)
            if pid is not None and _is_engine_of(pid, pidfile.parent):
                found.append(pidfile.parent)
        return found


def _read_pid(node_dir: Path) -> int | None:
    try:
        return int((node_dir / PIDFILE).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _is_engine_of(pid: int, node_dir: Path) -> bool:
    """Guard against pid reuse: the process must be an engine of this node."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state != "Z" and str(node_dir.resolve()) in cmdline


def _alive(pid: int, proc: subprocess.Popen[bytes] | None) -> bool:
    if proc is not None:
        return proc.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return "Z"
