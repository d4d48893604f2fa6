"""Small helpers shared by tests: engine connections and process inspection."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import httpx
from bson.int64 import Int64
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from dds.provision.ports import is_free

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports: every socket stays bound until all are chosen, so the
    kernel cannot hand the same port out twice (an engine's listen and debug address once
    collided that way)."""
    with contextlib.ExitStack() as held:
        socks = [held.enter_context(socket.socket()) for _ in range(count)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]


_RANGES = itertools.count()


def free_range(size: int = 1000) -> str:
    """A block of ports for one service's instances: below the kernel's ephemeral ports (which
    `free_port` and every outgoing connection take from, so a port the service found free
    stays free until its engine binds it), and a different block for each service this test
    process starts (blocks of different test processes are spread by pid)."""
    low = 10000
    try:
        high = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        high = 32768
    blocks = max(1, (high - low) // size)
    base = low + ((os.getpid() * 7 + next(_RANGES)) % blocks) * size
    return f"{base}-{base + size - 1}"


def instance_body(
    name: str, password: str, mode: str = "ReplicaSet", size: str = "10", version: str = "4.0", series: str = "s2"
) -> dict[str, Any]:
    """A create-instance body as the cloud's clients send it (network fields are stored, not used)."""
    ftype, suffix = ("replica", "repset") if mode == "ReplicaSet" else ("single", "single")
    return {
        "name": name,
        "datastore": {"type": "DDS-Community", "version": version, "storage_engine": "wiredTiger"},
        "region": "local-1",
        "availability_zone": "local-1a",
        "vpc_id": "674e9b42-cd8d-4d25-a2e6-5abcc565b961",
        "subnet_id": "f1df08c5-71d1-406a-aff0-de435a51007b",
        "security_group_id": "7aa51dbf-5b63-40db-9724-dad3c4828b58",
        "password": password,
        "mode": mode,
        "flavor": [
            {
                "type": ftype,
                "num": 1,
                "storage": "ULTRAHIGH",
                "size": size,
                "spec_code": f"dds.mongodb.{series}.medium.4.{suffix}",
            }
        ],
    }


def connect(
    instance: dict[str, Any], password: str, user: str = "rwuser", timeout_ms: int = 5000, auth_db: str = "admin"
) -> MongoClient:  # type: ignore[type-arg]
    """Connect the way a tenant would: only hosts/port from the instance details. A replica set of
    several members (PostgreSQL storage) by its seed list and name, so writes find the primary
    wherever a switchover put it; one node directly."""
    port = int(instance["port"])
    members = [n for g in instance["groups"] for n in g["nodes"] if n.get("role") != "ReadOnly"]
    if len(members) > 1:
        hosts = ",".join(f"{n['private_ip']}:{port}" for n in members)
        options = "replicaSet=replica"
    else:
        hosts, options = f"{members[0]['private_ip']}:{port}", "directConnection=true"
    return MongoClient(
        f"mongodb://{user}:{quote_plus(password)}@{hosts}/?authSource={auth_db}&{options}",
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
    )


def logs_in(instance: dict[str, Any], user: str, password: str, auth_db: str = "admin") -> bool:
    """Whether the user can authenticate (any command needs the handshake to succeed)."""
    try:
        with connect(instance, password, user=user, timeout_ms=3000, auth_db=auth_db) as client:
            client[auth_db].command("connectionStatus")
    except PyMongoError:
        return False
    return True


def engine_pids(under: Path) -> set[int]:
    """Pids of live (non-zombie) ferretdb processes whose command line mentions `under`."""
    return process_pids(under, "ferretdb")


def gateway_pids(under: Path) -> set[int]:
    """Pids of live instance gateways whose command line mentions `under`."""
    return process_pids(under, "dds.gateway")


def process_pids(under: Path, program: str) -> set[int]:
    """Pids of live (non-zombie) processes whose command line names `program` and that mention
    `under` (in the command line, or as their working directory: gateways forked by the zygote
    carry its command line and run in their node directory)."""
    found = set()
    marker = str(under.resolve())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[-1].split()[0]
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if cmd.startswith("postgres"):
            continue  # a PostgreSQL server process (its title may name the `ferretdb` user and database)
        if program in cmd and (marker in cmd or cwd.startswith(marker)) and state != "Z":
            found.add(int(entry))
    return found


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    return is_free(host, port)


class ServiceProcess:
    """`dds serve` as a real child process, so it can be killed with SIGKILL.

    `readme_only`: started exactly as the README says a user starts it (the `dds` console
    command, run in a directory of its own: `data_dir` is then that directory, and the service's
    data goes where the README's default puts it, `./var`) with nothing but the settings the
    README names for a second service on one machine — free ports; no `DDS_*` setting of the
    caller's environment leaks in."""

    def __init__(self, data_dir: Path, readme_only: bool = False) -> None:
        self.home = data_dir  # where it runs, and its log
        self.data_dir = data_dir / "var" if readme_only else data_dir
        self.port = free_port()
        self.readme_only = readme_only
        base = {k: v for k, v in os.environ.items() if not k.startswith("DDS_")} if readme_only else dict(os.environ)
        self.env = {**base, "DDS_PORT": str(self.port), "DDS_PORT_RANGE": free_range()}
        if not readme_only:
            self.env["DDS_DATA_DIR"] = str(data_dir)
            self.env["DDS_SUPERVISE_INTERVAL"] = "0.3"
            # No automated backups on the real clock: a run across a backup window (00:00 UTC by
            # default) would back up long-lived instances and refuse what the tests do with them.
            self.env["DDS_SCHEDULER_INTERVAL"] = "3600"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.home / "service.log", "ab")  # noqa: SIM115
        argv = [str(ROOT / ".venv" / "bin" / "dds")] if self.readme_only else [sys.executable, "-m", "dds.cli.main"]
        self.proc = subprocess.Popen(
            [*argv, "serve"],
            env=self.env,
            cwd=self.home if self.readme_only else ROOT,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "service exited: " + (self.home / "service.log").read_text()[-2000:]
            try:
                if httpx.get(self.url + "/", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("service did not start: " + (self.home / "service.log").read_text()[-2000:])

    def project_id(self, timeout: float = 30) -> str:
        """The default project's id, from the line `dds serve` prints at start (`Project 'demo': <id>`),
        as a newcomer reads it."""
        deadline = time.monotonic() + timeout
        while True:
            printed = (self.home / "service.log").read_text()
            found = re.search(r"Project '[^']+': ([0-9a-f]{32})", printed)
            if found:
                return found.group(1)
            assert time.monotonic() < deadline, "no `Project '...': <id>` line: " + printed[-2000:]
            time.sleep(0.2)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        """The service stops its own nodes. If it is not running (killed and never started again,
        or it failed to start), the node processes it left are killed here: a test stops what
        it started, even after its own failure."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
            return
        for program in ("ferretdb", "dds.gateway", "dds.archiver", "litestream"):
            for pid in process_pids(self.data_dir, program):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def project(self) -> str:
        with sqlite3.connect(self.data_dir / "meta.db") as db:
            return str(db.execute("select id from projects order by created limit 1").fetchone()[0])  # the default

    def node_pids(self) -> set[int]:
        pids = set()
        for pidfile in (self.data_dir / "instances").glob("*/*/engine.pid"):
            pids.add(int(pidfile.read_text()))
        return pids


def wait_job(api: httpx.Client, job_id: str, timeout: float = 120) -> dict[str, Any]:
    """Poll `GET /jobs?id=` (on a client whose base URL ends in the project) until the job ends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = api.get("/jobs", params={"id": job_id}).json()["job"]
        if job["status"] != "Running":
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not end in {timeout}s")


def wait_for(predicate: Any, timeout: float = 60, what: str = "condition", every: float = 0.2) -> Any:
    """Poll until `predicate()` is truthy and return its value (AssertionError after `timeout` s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what} not met in {timeout}s")


@contextlib.contextmanager
def bare_engine(tmp: Path, *backend: str, document_class: type[Any] = dict) -> Iterator[MongoClient]:  # type: ignore[type-arg]
    """The project's engine build, alone (no service, no gateway), with the given backend flags
    (`--handler=...` and its URL) and its state and log in tmp; a client connected to it."""
    port, debug = free_ports(2)
    tmp.mkdir(parents=True, exist_ok=True)
    argv = [
        str(ROOT / "bin" / "ferretdb"),
        *backend,
        f"--state-dir={tmp}",
        f"--listen-addr=127.0.0.1:{port}",
        f"--debug-addr=127.0.0.1:{debug}",
        "--telemetry=disable",
        "--log-level=error",
    ]
    log = tmp / "engine.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"http://127.0.0.1:{debug}/debug/readyz", timeout=1) as r:
                    if r.status == 200:
                        break
            time.sleep(0.05)
        with MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true", document_class=document_class) as client:
            yield client
        assert proc.poll() is None, "the engine exited: " + log.read_text()[-2000:]
    finally:
        proc.terminate()
        proc.wait(10)


def canon(v: Any) -> Any:
    """Values with their BSON types: int is int32, Int64 is int64, float is double."""
    if isinstance(v, dict):
        return {k: canon(x) for k, x in v.items()}
    if isinstance(v, list):
        return [canon(x) for x in v]
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, Int64):
        return ("long", int(v))
    if isinstance(v, int):
        return ("int", v)
    if isinstance(v, float):
        return ("double", v)
    return v


def member_logs(instance_dir: Path, lines: int = 12) -> str:
    """The last lines of every member's keeper log and of the monitor's (replica sets on
    PostgreSQL): what a failed wait on a member shows, so a red run says what the members did."""
    out = []
    for log in sorted(instance_dir.glob("*/storage.log")) + sorted(instance_dir.glob("monitor/monitor.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        out.append(f"--- {log.parent.name}/{log.name}\n" + "\n".join(tail))
    return "\n".join(out)
