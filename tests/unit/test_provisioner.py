"""The local provisioner with real child processes (no engine): roles, pid files, orphans, strays."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from dds.engine.base import Launch
from dds.provision.base import Role
from dds.provision.local import LocalProvisioner, pidfile


def _sleeper(node_dir: Path) -> Launch:
    # The node directory on the command line is how a process is recognised as the node's own.
    return Launch(argv=[sys.executable, "-c", "import time; time.sleep(60)", str(node_dir.resolve())], env={})


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return True
    return state == "Z"


def test_roles_have_their_own_processes_and_pid_files(tmp_path: Path) -> None:
    node = tmp_path / "instances" / "i1" / "n1"
    prov = LocalProvisioner()
    engine = prov.start(node, Role.ENGINE, _sleeper(node), node / "engine.log")
    gateway = prov.start(node, Role.GATEWAY, _sleeper(node), node / "gateway.log")
    try:
        assert engine != gateway
        assert pidfile(node, Role.ENGINE).read_text() == str(engine)
        assert prov.running_pid(node, Role.GATEWAY) == gateway
        prov.stop(node, Role.GATEWAY)
        assert prov.running_pid(node, Role.GATEWAY) is None and prov.running_pid(node, Role.ENGINE) == engine
    finally:
        prov.stop(node)
    assert prov.running_pid(node, Role.ENGINE) is None and not pidfile(node, Role.ENGINE).exists()


def test_a_new_provisioner_finds_orphans_by_pid_file_and_sweeps_unrecorded_ones(tmp_path: Path) -> None:
    root = tmp_path / "instances"
    recorded, unrecorded = root / "i1" / "n1", root / "i2" / "n2"
    old = LocalProvisioner()  # stands for a service that was killed
    pid = old.start(recorded, Role.ENGINE, _sleeper(recorded), recorded / "engine.log")
    unrecorded.mkdir(parents=True)
    stray = subprocess.Popen(_sleeper(unrecorded).argv, start_new_session=True)  # killed before its pid file
    try:
        fresh = LocalProvisioner()
        assert fresh.orphans(root) == [(recorded, Role.ENGINE)]
        fresh.stop(recorded, Role.ENGINE)
        assert fresh.sweep(root) == 1
        deadline = time.monotonic() + 5
        while not (_gone(pid) and stray.poll() is not None) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _gone(pid) and stray.poll() is not None
        assert fresh.sweep(root) == 0
    finally:
        stray.kill()
        old.stop_all()


def test_forked_processes_are_recorded_found_and_stopped_like_others(tmp_path: Path) -> None:
    """`python -m MODULE` for a fork module comes from the zygote: same pid file, same stop, its node
    directory as working directory (its command line is the zygote's)."""
    node = tmp_path / "instances" / "i1" / "n1"
    prov = LocalProvisioner(fork_modules=("http.server",), preload=("http.server",))
    launch = Launch(argv=[sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "0"], env={})
    pid = prov.start(node, Role.GATEWAY, launch, node / "gateway.out")
    try:
        assert pidfile(node, Role.GATEWAY).read_text() == str(pid)
        assert Path(f"/proc/{pid}/cwd").resolve() == node.resolve()
        assert prov.running_pid(node, Role.GATEWAY) == pid
        fresh = LocalProvisioner()  # a restarted service finds it by pid file and working directory
        assert fresh.running_pid(node, Role.GATEWAY) == pid
        assert fresh.orphans(tmp_path / "instances") == [(node, Role.GATEWAY)]
    finally:
        prov.stop_all()
    deadline = time.monotonic() + 5
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid) and prov.running_pid(node, Role.GATEWAY) is None
