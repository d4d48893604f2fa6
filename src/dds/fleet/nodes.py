"""Engine processes of an instance's nodes: start, stop, readiness, admin access."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from pymongo import MongoClient

from dds.core.errors import InternalError
from dds.db.models import Instance, Node
from dds.domain.catalog import FLAVORS
from dds.engine.base import NodeSpec
from dds.fleet import layout
from dds.fleet.addresses import dial_host
from dds.fleet.secrets import SERVICE_USER, service_password
from dds.parts import Parts
from dds.provision.base import Role

AdminClient = MongoClient[dict[str, Any]]


def spec_for(parts: Parts, inst: Instance, node: Node, *, setup: bool = False) -> NodeSpec:
    flavor = FLAVORS.get(inst.spec_code)
    return NodeSpec(
        node_dir=layout.node_dir(parts.settings, node),
        listen_host=node.engine_host,
        listen_port=node.engine_port,
        debug_port=node.debug_port,
        repl_set_name="replica" if inst.mode == "ReplicaSet" else None,
        read_only=inst.read_only,
        vcpus=flavor.vcpus if flavor else 1,
        ram_bytes=(flavor.ram_gb if flavor else 1) * 1024**3,
        setup_user=SERVICE_USER if setup else None,
        setup_password=service_password(parts.settings, inst.id) if setup else None,
    )


def start_engine(parts: Parts, spec: NodeSpec, what: str) -> int:
    """Start an engine on `spec` and wait until it serves; returns its pid."""
    spec.data_dir.mkdir(parents=True, exist_ok=True)
    spec.state_dir.mkdir(parents=True, exist_ok=True)
    pid = parts.provisioner.start(spec.node_dir, Role.ENGINE, parts.engine.launch(spec), spec.log_path)
    deadline = time.monotonic() + parts.settings.engine_start_timeout
    while time.monotonic() < deadline:
        if parts.engine.is_ready(spec):
            return pid
        if parts.provisioner.running_pid(spec.node_dir, Role.ENGINE) is None:
            raise InternalError(f"The engine of {what} exited during start: {_log_tail(spec.log_path)}")
        time.sleep(0.01)
    parts.provisioner.stop(spec.node_dir, Role.ENGINE)
    raise InternalError(f"The engine of {what} did not become ready in time.")


def start_node(parts: Parts, inst: Instance, node: Node) -> int:
    """(Re)start the node's engine and wait until it serves; returns its pid."""
    data = layout.data_dir(parts.settings, node)
    first = not data.exists() or not any(data.iterdir())
    return start_engine(parts, spec_for(parts, inst, node, setup=first), f"node {node.name}")


def stop_node(parts: Parts, node: Node) -> None:
    """Stop every process of the node."""
    parts.provisioner.stop(layout.node_dir(parts.settings, node))


def engine_pid(parts: Parts, node: Node) -> int | None:
    return parts.provisioner.running_pid(layout.node_dir(parts.settings, node), Role.ENGINE)


def is_running(parts: Parts, node: Node) -> bool:
    return engine_pid(parts, node) is not None


def primary(inst: Instance) -> Node:
    for node in inst.nodes:
        if node.role in ("Primary", "master"):
            return node
    return inst.nodes[0]


def service_client(
    parts: Parts, instance_id: str, host: str, port: int, timeout_ms: int = 5000, password: str | None = None
) -> AdminClient:
    """A client logged in as the service user, straight to an engine (never through a gateway).

    `password` overrides the instance's current one (a backup's copy keeps the one it had)."""
    pw = quote_plus(password if password is not None else service_password(parts.settings, instance_id))
    return MongoClient(
        f"mongodb://{SERVICE_USER}:{pw}@{dial_host(host)}:{port}/?authSource=admin"
        f"&directConnection=true&authMechanism=SCRAM-SHA-256",
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
    )


def admin_client(parts: Parts, inst: Instance, timeout_ms: int = 5000) -> AdminClient:
    """The service user on the instance's primary engine."""
    node = primary(inst)
    return service_client(parts, inst.id, node.engine_host, node.engine_port, timeout_ms)


def data_bytes(parts: Parts, inst: Instance) -> int:
    return layout.data_bytes(parts.settings, list(inst.nodes))


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""
