"""Local processes: each node process is a child in its own process group.

A pid file per role in the node directory (`engine.pid`, `gateway.pid`, ...) lets a
restarted service find processes that a killed predecessor left behind, even ones it
never got to record.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from dds.engine.base import Launch
from dds.provision.base import Role


def as_user(user: str | None) -> dict[str, Any]:
    """Popen arguments that run a child as `user` with that user's own group and no other: with
    root's group kept, a root-owned 0701 directory on the way would deny it (group bits apply)."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def pidfile(node_dir: Path, role: Role) -> Path:
    return node_dir / f"{role.value}.pid"


def _key(node_dir: Path, role: Role) -> str:
    return f"{node_dir}#{role.value}"


class LocalProvisioner:
    """Starts, watches and stops node processes on this host.

    `fork_modules`: Python programs (`python -m MODULE`) started by forking a zygote that
    imported `preload` once (`provision.zygote`) instead of a new interpreter: a few ms instead
    of ~150-200.
    """

    def __init__(self, fork_modules: tuple[str, ...] = (), preload: tuple[str, ...] = ()) -> None:
        self._fork_modules = fork_modules
        self._preload = preload  # what the zygote imports once (the forked programs' dependencies)
        self._zygote: subprocess.Popen[bytes] | None = None
        self._zygote_lock = threading.Lock()
        self._forked: set[str] = set()
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        # Forked processes are no children of ours: their pid is also kept here, so they can be
        # found and stopped even when their node directory (and pid file) is gone (a lost disk).
        self._forked_pids: dict[str, int] = {}
        self._adopted: set[str] = set()  # live processes of a crashed predecessor, taken over at start

    def start(self, node_dir: Path, role: Role, launch: Launch, log_path: Path) -> int:
        """Start the process and record its pid before anything else can fail."""
        self.stop(node_dir, role)
        node_dir.mkdir(parents=True, exist_ok=True)
        forked = self._fork(launch, node_dir, log_path)
        if forked is not None:
            _write_atomically(pidfile(node_dir, role), str(forked))
            self._forked.add(_key(node_dir, role))
            self._forked_pids[_key(node_dir, role)] = forked
            return forked
        env = _clean_env()
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
                **as_user(launch.user),
            )
        _write_atomically(pidfile(node_dir, role), str(proc.pid))
        self._children[_key(node_dir, role)] = proc
        return proc.pid

    def _fork(self, launch: Launch, node_dir: Path, log_path: Path) -> int | None:
        """The pid of a child forked by the zygote, or None to start it the ordinary way."""
        argv = launch.argv
        if len(argv) < 3 or argv[0] != sys.executable or argv[1] != "-m" or argv[2] not in self._fork_modules:
            return None
        request = {"module": argv[2], "argv": argv[3:], "cwd": str(node_dir), "log": str(log_path), "env": launch.env}
        with self._zygote_lock:
            try:
                zygote = self._ensure_zygote()
                assert zygote.stdin is not None and zygote.stdout is not None
                zygote.stdin.write((json.dumps(request) + "\n").encode())
                zygote.stdin.flush()
                reply = zygote.stdout.readline()
                return int(json.loads(reply)["pid"])
            except (OSError, ValueError, KeyError):
                self._close_zygote()
                return None

    def _ensure_zygote(self) -> subprocess.Popen[bytes]:
        if self._zygote is None or self._zygote.poll() is not None:
            self._zygote = subprocess.Popen(
                [sys.executable, "-m", "dds.provision.zygote", *self._preload],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=_clean_env(),
            )
        return self._zygote

    def _close_zygote(self) -> None:
        if self._zygote is not None:
            with contextlib.suppress(OSError):
                self._zygote.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._zygote.wait(5)
            self._zygote = None

    def running_pid(self, node_dir: Path, role: Role) -> int | None:
        """The pid of the role's process if it is alive, else None (and reaps it)."""
        proc = self._children.get(_key(node_dir, role))
        if proc is not None:
            if proc.poll() is None:
                return proc.pid
            del self._children[_key(node_dir, role)]
            return None
        pid = _read_pid(pidfile(node_dir, role))
        if pid is not None and _belongs_to(pid, node_dir):
            return pid
        remembered = self._forked_pids.get(_key(node_dir, role))
        if remembered is not None and _forked_alive(remembered):
            return remembered
        return None

    def stop(self, node_dir: Path, role: Role | None = None, timeout: float = 10.0) -> None:
        """Stop the role's process group (every role's when None): SIGTERM, then SIGKILL after `timeout`."""
        for each in [role] if role is not None else list(Role):
            self._stop_one(node_dir, each, timeout)

    def _stop_one(self, node_dir: Path, role: Role, timeout: float) -> None:
        proc = self._children.pop(_key(node_dir, role), None)
        remembered = self._forked_pids.pop(_key(node_dir, role), None)
        pid = proc.pid if proc else _read_pid(pidfile(node_dir, role))
        if pid is None and remembered is not None and _forked_alive(remembered):
            pid = remembered  # its node directory (and pid file) is gone; we forked it ourselves
        if pid is not None and (proc is not None or pid == remembered or _belongs_to(pid, node_dir)):
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
        elif pid is not None:
            _kill_group_remains(pid, node_dir)
        with contextlib.suppress(FileNotFoundError):
            pidfile(node_dir, role).unlink()

    def signal(self, node_dir: Path, role: Role, signum: int) -> bool:
        pid = self.running_pid(node_dir, role)
        if pid is None:
            return False
        try:
            os.killpg(pid, signum)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def adopt(self, node_dir: Path, role: Role) -> None:
        pid = self.running_pid(node_dir, role)
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGCONT)
        self._adopted.add(_key(node_dir, role))

    def _leader(self, key: str) -> int | None:
        node_dir, _, role = key.rpartition("#")
        return self.running_pid(Path(node_dir), Role(role))

    def stop_all(self) -> None:
        for key in list(self._children) + sorted(self._adopted | self._forked):
            node_dir, _, role = key.rpartition("#")
            self.stop(Path(node_dir), Role(role))
        self._adopted.clear()
        self._forked.clear()
        with self._zygote_lock:
            self._close_zygote()

    def orphans(self, root: Path) -> list[tuple[Path, Role]]:
        """(node directory, role) under `root` whose pid file names a live process of that node."""
        found = []
        for role in Role:
            for path in root.glob(f"*/*/{role.value}.pid"):
                pid = _read_pid(path)
                if pid is not None and _belongs_to(pid, path.parent):
                    found.append((path.parent, role))
        return found

    def sweep(self, root: Path) -> int:
        known = (*self._children, *self._adopted, *self._forked)
        kept = {pid for key in known if (pid := self._leader(key)) is not None}
        left = [p for p in strays(root) if not _kept(p, kept)] if root.exists() else []
        for pid in left:
            kill_group(pid)
        return len(left)


def strays(root: Path, known: set[int] | None = None) -> list[int]:
    """Live processes whose command line names a directory under `root` but which no pid file
    records (a service killed between starting a process and recording it)."""
    marker = str(root.resolve()) + "/"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in (known or set()) or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if (marker in cmdline or _cwd(int(entry.name)).startswith(marker)) and _state(int(entry.name)) != "Z":
            found.append(int(entry.name))
    return found


def kill_group(pid: int) -> None:
    """SIGKILL a stray's process group (it serves nobody: the metadata does not know it)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _kill_group_remains(pgid: int, node_dir: Path) -> None:
    """A role's leader died but its children may live on in its group (an archiver killed with
    SIGKILL leaves Litestream behind): kill the group's members that still name this node."""
    marker = str(node_dir.resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if int(stat[2]) == pgid and marker in cmdline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)


def _group_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[2])
    except (OSError, ValueError, IndexError):
        return None


def _parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _kept(pid: int, groups: set[int]) -> bool:
    """The process, or one of its ancestors, is in a kept process group: PostgreSQL's workers
    leave their server's group (setsid) but are its children, and serve it."""
    seen = 0
    at: int | None = pid
    while at is not None and at > 1 and seen < 64:
        if _group_of(at) in groups:
            return True
        at, seen = _parent_of(at), seen + 1
    return False


def _write_atomically(path: Path, text: str) -> None:
    """A crash never leaves an empty pid file (it would hide a live process from reconciliation)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.rename(path)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _belongs_to(pid: int, node_dir: Path) -> bool:
    """Guard against pid reuse: the process must name this node's directory on its command line."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    where = str(node_dir.resolve())
    return state != "Z" and (where in cmdline or _cwd(pid) in (where, f"{where} (deleted)"))


def _forked_alive(pid: int) -> bool:
    """A process this provisioner forked is still that process (a forked one carries the zygote's
    command line) and alive."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z" and "dds.provision.zygote" in cmdline


def _cwd(pid: int) -> str:
    """A process's working directory: node processes run in their node directory (forked ones
    carry the zygote's command line, so this is what names their node)."""
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""


def _clean_env() -> dict[str, str]:
    """The service's environment without its own settings and the engine's (secrets travel in
    each launch's env only)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("DDS_", "FERRETDB_"))}


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
