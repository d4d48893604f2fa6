"""The processes of an instance's nodes (engine, and the gateway in front of it): start, stop,
readiness, admin access."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote_plus

from pymongo import MongoClient

from dds.core.errors import InternalError
from dds.db.models import Instance, Node
from dds.domain.catalog import FLAVORS
from dds.domain.states import InstanceStatus
from dds.engine.base import NodeSpec
from dds.fleet import archivers, gateways, integrity, layout, members, parameters
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
        repl_set_name=gateways.repl_set_name(inst),
        read_only=inst.read_only,
        vcpus=flavor.vcpus if flavor else 1,
        ram_bytes=(flavor.ram_gb if flavor else 1) * 1024**3,
        setup_user=SERVICE_USER if setup else None,
        setup_password=service_password(parts.settings, inst.id) if setup else None,
        cache_kib=parameters.effective(parts, inst.id, inst.spec_code).cache_kib,
        postgresql_url=members.storage_url(node) if members.uses_postgresql(inst) else None,
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
            raise InternalError(f"The engine of {what} exited during start: {layout.log_tail(spec.log_path)}")
        time.sleep(0.01)
    parts.provisioner.stop(spec.node_dir, Role.ENGINE)
    raise InternalError(f"The engine of {what} did not become ready in time.")


def start_node(parts: Parts, inst: Instance, node: Node, *, wait_gateway: bool = True) -> int:
    """(Re)start the node's engine and its gateway (side by side) and wait until the engine serves,
    and the gateway too unless a later step waits for it (`wait_gateway_of`); returns the engine's pid.
    A gateway takes longer to start than the engine (a Python interpreter and its imports).
    On PostgreSQL storage the member's server comes first (created on first use)."""
    if members.uses_postgresql(inst):
        members.ensure_member(parts, inst, node)
    gateways.launch_gateway(parts, inst, node)
    pid = _start_engine_of(parts, inst, node)
    if wait_gateway:
        gateways.wait_gateway(parts, node)
    sync_archiver(parts, inst, node)
    return pid


def wait_gateway_of(parts: Parts, node: Node) -> None:
    gateways.wait_gateway(parts, node)


def revive_node(parts: Parts, inst: Instance, node: Node) -> int:
    """Start only the node's processes that are not running (a dead engine does not cost the
    clients of a live gateway their listener); returns the engine's pid. A member on PostgreSQL
    storage whose server files are gone is rebuilt from the others first."""
    if members.uses_postgresql(inst):
        members.ensure_member(parts, inst, node)
    pid = engine_pid(parts, node)
    if pid is None:
        pid = _start_engine_of(parts, inst, node)
    if gateways.gateway_pid(parts, node) is None:
        gateways.start_gateway(parts, inst, node)
    sync_archiver(parts, inst, node)
    return pid


def restart_archiver(parts: Parts, inst: Instance, node: Node) -> None:
    """A new archiver launch (e.g. another retention); the restart is recorded as a short gap."""
    if archivers.archives(inst, node):
        archivers.start_archiver(parts, inst, node)


def sync_archiver(parts: Parts, inst: Instance, node: Node) -> None:
    """The node's archiver runs exactly while the instance has incremental backup on."""
    running = archivers.archiver_pid(parts, node) is not None
    wanted = archivers.archives(inst, node)
    if wanted and not running:
        archivers.start_archiver(parts, inst, node)
    elif not wanted and running:
        archivers.stop_archiver(parts, node)


def _start_engine_of(parts: Parts, inst: Instance, node: Node) -> int:
    """The node's engine, on data that has shown it is the node's own and whole
    (`fleet.integrity`): lost or damaged data is never started, so never served empty. Only the
    creating job starts an engine on a node that has no identity yet, and stamps it. On PostgreSQL
    storage the server keeps the data (`fleet.members`): the creating job's engine on the primary
    makes the service's login."""
    if members.uses_postgresql(inst):
        setup = inst.status == InstanceStatus.CREATING and members.wait_primary(parts, inst).name == node.id
        return start_engine(parts, spec_for(parts, inst, node, setup=setup), f"node {node.name}")
    known = integrity.known_fault(inst, node)
    if known:
        raise integrity.DataFault(str(known["reason"]), node.name)
    if integrity.recorded(inst, node) is None and inst.status == InstanceStatus.CREATING:
        data = layout.data_dir(parts.settings, node)
        first = not data.exists() or not any(data.iterdir())
        pid = start_engine(parts, spec_for(parts, inst, node, setup=first), f"node {node.name}")
        integrity.stamp(parts, inst, node)
        return pid
    integrity.verify(parts, inst, node)
    return start_engine(parts, spec_for(parts, inst, node), f"node {node.name}")


def stop_node(parts: Parts, node: Node) -> None:
    """Stop every process of the node."""
    parts.provisioner.stop(layout.node_dir(parts.settings, node))


def stop_instance(parts: Parts, inst: Instance) -> None:
    """Stop every process of every node, and the instance's own. A replica set on PostgreSQL
    storage loses its monitor first (no failover while its members stop) and then its members
    all at once (each waits for its server's shutdown)."""
    if not members.uses_postgresql(inst):
        for node in inst.nodes:
            stop_node(parts, node)
        return
    members.stop_monitor(parts, inst.id)
    with ThreadPoolExecutor(max_workers=len(inst.nodes) or 1) as pool:
        list(pool.map(lambda node: stop_node(parts, node), inst.nodes))


def engine_pid(parts: Parts, node: Node) -> int | None:
    return parts.provisioner.running_pid(layout.node_dir(parts.settings, node), Role.ENGINE)


def is_running(parts: Parts, node: Node) -> bool:
    """The node serves: its engine and its gateway are both alive (and its archiver, when on)."""
    return not dead_roles(parts, node)


def dead_roles(parts: Parts, node: Node) -> list[str]:
    """Which of the node's processes that should run are not running."""
    dead = [] if engine_pid(parts, node) is not None else ["engine"]
    if gateways.gateway_pid(parts, node) is None:
        dead.append("gateway")
    if archivers.archives(node.instance, node) and archivers.archiver_pid(parts, node) is None:
        dead.append("archiver")
    if members.uses_postgresql(node.instance):
        dead += members.dead_roles(parts, node)
    return dead


def primary(inst: Instance) -> Node:
    """The node recorded as the primary (a replica set on PostgreSQL: as of the supervisor's last
    look at its monitor, `members.sync_roles`)."""
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
    node = (members.primary_node(parts, inst) if members.uses_postgresql(inst) else None) or primary(inst)
    return service_client(parts, inst.id, node.engine_host, node.engine_port, timeout_ms)


def data_bytes(parts: Parts, inst: Instance) -> int:
    if members.uses_postgresql(inst):
        return members.data_bytes(parts, list(inst.nodes))
    return layout.data_bytes(parts.settings, list(inst.nodes))
