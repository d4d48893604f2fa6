"""Gateway processes: each node's client port, in front of its engine.

A gateway is a process of its own per node (not a task of the service): tenants' connections
and their load stay out of the API's event loop, one gateway's crash touches one node, and a
restart of the service does not drop a single client connection. It is supervised like the
engine: recorded by pid file, restarted if it dies, stopped with the node, reconciled at start.
"""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

from dds.core.errors import InternalError
from dds.db.models import Instance, Node
from dds.engine.base import Launch
from dds.fleet import layout
from dds.fleet.addresses import dial_host
from dds.fleet.secrets import SERVICE_USER
from dds.gateway.config import GatewayConfig, dump_config
from dds.parts import Parts
from dds.provision.base import Role

DEFAULT_SLOW_MS = 100.0  # DDS default of operationProfiling.slowOpThresholdMs


def log_dir(parts: Parts, node: Node) -> Path:
    """The node's slow, error and audit logs and the gateway's statistics (`stats.json`)."""
    return layout.node_dir(parts.settings, node) / "logs"


def config_path(parts: Parts, node: Node) -> Path:
    return layout.node_dir(parts.settings, node) / "gateway.json"


def repl_set_name(inst: Instance) -> str | None:
    return "replica" if inst.mode == "ReplicaSet" else None


def config_for(parts: Parts, inst: Instance, node: Node) -> GatewayConfig:
    return GatewayConfig(
        listen_host=parts.settings.engine_host,
        listen_port=node.port,
        engine_host=node.engine_host,
        engine_port=node.engine_port,
        advertised_host=node.host,
        advertised_port=node.port,
        log_dir=str(log_dir(parts, node)),
        repl_set_name=repl_set_name(inst),
        protected_users=(SERVICE_USER,),
        slow_ms=DEFAULT_SLOW_MS,
    )


def start_gateway(parts: Parts, inst: Instance, node: Node) -> int:
    """(Re)start the node's gateway with a fresh configuration and wait until it accepts; returns its pid."""
    pid = launch_gateway(parts, inst, node)
    wait_gateway(parts, node)
    return pid


def launch_gateway(parts: Parts, inst: Instance, node: Node) -> int:
    """(Re)start the gateway process without waiting (it starts beside a starting engine)."""
    config = config_for(parts, inst, node)
    path = config_path(parts, node)
    dump_config(config, path)
    node_dir = layout.node_dir(parts.settings, node)
    launch = Launch(argv=[sys.executable, "-m", "dds.gateway", "--config", str(path)], env={})
    return parts.provisioner.start(node_dir, Role.GATEWAY, launch, node_dir / "gateway.out")


def wait_gateway(parts: Parts, node: Node) -> None:
    """Until the gateway accepts on the node's client port."""
    node_dir = layout.node_dir(parts.settings, node)
    host = dial_host(parts.settings.engine_host)
    deadline = time.monotonic() + parts.settings.engine_start_timeout
    while time.monotonic() < deadline:
        if _accepts(host, node.port):
            return
        if parts.provisioner.running_pid(node_dir, Role.GATEWAY) is None:
            tail = layout.log_tail(node_dir / "gateway.out")
            raise InternalError(f"The gateway of node {node.name} exited during start: {tail}")
        time.sleep(0.01)
    parts.provisioner.stop(node_dir, Role.GATEWAY)
    raise InternalError(f"The gateway of node {node.name} did not accept connections in time.")


def gateway_pid(parts: Parts, node: Node) -> int | None:
    return parts.provisioner.running_pid(layout.node_dir(parts.settings, node), Role.GATEWAY)


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False
