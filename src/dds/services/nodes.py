"""Engine processes of an instance's nodes: start, stop, readiness, admin access."""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path
from urllib.parse import quote_plus

from pymongo import MongoClient

from dds.db.models import Instance, Node
from dds.domain.catalog import FLAVORS
from dds.engine.base import NodeSpec
from dds.errors import InternalError
from dds.runtime import Runtime

SERVICE_USER = "dds_service"  # the service's own engine user (for backups, users, stats)
SERVICE_SECRET = "service.secret"


def instance_dir(rt: Runtime, instance_id: str) -> Path:
    return rt.settings.instances_dir / instance_id


def node_dir(rt: Runtime, node: Node) -> Path:
    return instance_dir(rt, node.instance_id) / node.id


def write_secret(path: Path, value: str) -> None:
    """Secrets live in 0600 files, never in job rows, argv or logs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)


def service_password(rt: Runtime, instance_id: str) -> str:
    path = instance_dir(rt, instance_id) / SERVICE_SECRET
    if not path.exists():
        write_secret(path, secrets.token_urlsafe(24))
    return path.read_text()


def spec_for(rt: Runtime, inst: Instance, node: Node, *, setup: bool = False) -> NodeSpec:
    flavor = FLAVORS.get(inst.spec_code)
    return NodeSpec(
        node_dir=node_dir(rt, node),
        listen_host=node.engine_host,
        listen_port=node.engine_port,
        debug_port=node.debug_port,
        repl_set_name="replica" if inst.mode == "ReplicaSet" else None,
        read_only=inst.read_only,
        vcpus=flavor.vcpus if flavor else 1,
        ram_bytes=(flavor.ram_gb if flavor else 1) * 1024**3,
        setup_user=SERVICE_USER if setup else None,
        setup_password=service_password(rt, inst.id) if setup else None,
    )


def start_node(rt: Runtime, inst: Instance, node: Node) -> int:
    """(Re)start the node's engine and wait until it serves; returns its pid."""
    first = not (node_dir(rt, node) / "data").exists() or not any((node_dir(rt, node) / "data").iterdir())
    spec = spec_for(rt, inst, node, setup=first)
    spec.data_dir.mkdir(parents=True, exist_ok=True)
    spec.state_dir.mkdir(parents=True, exist_ok=True)
    pid = rt.provisioner.start(spec.node_dir, rt.engine.launch(spec), spec.log_path)
    deadline = time.monotonic() + rt.settings.engine_start_timeout
    while time.monotonic() < deadline:
        if rt.engine.is_ready(spec):
            return pid
        if rt.provisioner.running_pid(spec.node_dir) is None:
            raise InternalError(f"The engine of node {node.name} exited during start: {_log_tail(spec.log_path)}")
        time.sleep(0.01)
    rt.provisioner.stop(spec.node_dir)
    raise InternalError(f"The engine of node {node.name} did not become ready in time.")


def stop_node(rt: Runtime, node: Node) -> None:
    rt.provisioner.stop(node_dir(rt, node))


def is_running(rt: Runtime, node: Node) -> bool:
    return rt.provisioner.running_pid(node_dir(rt, node)) is not None


def remove_instance_files(rt: Runtime, instance_id: str) -> None:
    shutil.rmtree(instance_dir(rt, instance_id), ignore_errors=True)


def primary(inst: Instance) -> Node:
    for node in inst.nodes:
        if node.role in ("Primary", "master"):
            return node
    return inst.nodes[0]


def admin_client(rt: Runtime, inst: Instance, timeout_ms: int = 5000) -> MongoClient:  # type: ignore[type-arg]
    """A client logged in as the service user, straight to the engine (not the gateway)."""
    node = primary(inst)
    host = "127.0.0.1" if node.engine_host in ("0.0.0.0", "") else node.engine_host
    pw = quote_plus(service_password(rt, inst.id))
    return MongoClient(
        f"mongodb://{SERVICE_USER}:{pw}@{host}:{node.engine_port}/?authSource=admin"
        f"&directConnection=true&authMechanism=SCRAM-SHA-256",
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
    )


def data_bytes(rt: Runtime, inst: Instance) -> int:
    """Real bytes on disk of every node's engine files (SQLite, WAL and shm)."""
    total = 0
    for node in inst.nodes:
        data = node_dir(rt, node) / "data"
        if data.exists():
            for f in data.iterdir():
                try:
                    total += f.stat().st_size
                except FileNotFoundError:
                    pass
    return total


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""
