"""Gateway processes: each node's client port, in front of its engine.

A gateway is a process of its own per node (not a task of the service): tenants' connections
and their load stay out of the API's event loop, one gateway's crash touches one node, and a
restart of the service does not drop a single client connection. It is supervised like the
engine: recorded by pid file, restarted if it dies, stopped with the node, reconciled at start.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dds.core.errors import InternalError
from dds.db.gateway import ConnectionPolicy, KillOpRule
from dds.db.models import Instance, Node
from dds.engine.base import Launch
from dds.fleet import integrity, layout, members, parameters, tls
from dds.fleet.addresses import dial_host, gateway_listen_host
from dds.fleet.secrets import SERVICE_USER
from dds.gateway import control
from dds.gateway.config import REFUSE, GatewayConfig, dump_config
from dds.gateway.members import Member
from dds.gateway.rules import KillRule
from dds.parts import Parts
from dds.provision.base import Role


def log_dir(parts: Parts, node: Node) -> Path:
    """The node's slow, error and audit logs and the gateway's statistics (`stats.json`)."""
    return layout.node_dir(parts.settings, node) / "logs"


def config_path(parts: Parts, node: Node) -> Path:
    return layout.node_dir(parts.settings, node) / "gateway.json"


def control_path(parts: Parts, node: Node) -> Path:
    """The gateway's control socket (dds.gateway.control): sessions, kill, stats, reload."""
    return layout.node_dir(parts.settings, node) / "control.sock"


def repl_set_name(inst: Instance) -> str | None:
    if inst.mode != "ReplicaSet":
        return None
    return str(inst.extra.get("repl_set_name") or "replica")


@dataclass(frozen=True)
class GatewayPolicy:
    """What an instance's settings ask of its gateways (rows of dds.db.gateway)."""

    audit_enabled: bool = False
    client_networks: tuple[str, ...] = ()
    kill_op_rules: tuple[KillRule, ...] = ()


def policy_of(parts: Parts, instance_id: str) -> GatewayPolicy:
    """The instance's audit policy, client networks and enabled kill-op rules, as committed."""
    with parts.db.session() as s:
        row = s.get(ConnectionPolicy, instance_id)
        rules = s.query(KillOpRule).filter(KillOpRule.instance_id == instance_id, KillOpRule.status == "ENABLED")
        kill = tuple(
            KillRule(
                id=r.id,
                operation_types=tuple(r.operation_types),
                namespaces=tuple(r.namespaces),
                client_ips=tuple(r.client_ips),
                max_concurrency=r.max_concurrency,
                secs_running=r.secs_running,
            )
            for r in rules.order_by(KillOpRule.created, KillOpRule.id)
        )
        if row is None:
            return GatewayPolicy(kill_op_rules=kill)
        return GatewayPolicy(row.audit_keep_days > 0, tuple(row.client_networks), kill)


def config_for(parts: Parts, inst: Instance, node: Node, policy: GatewayPolicy | None = None) -> GatewayConfig:
    policy = policy or policy_of(parts, inst.id)
    cert: tuple[str, str] | tuple[None, None] = (None, None)
    if inst.ssl_option == "1":
        hosts = list(dict.fromkeys([node.host, parts.settings.engine_host]))
        made = tls.node_certificate(parts.settings, layout.node_dir(parts.settings, node), hosts)
        cert = (str(made[0]), str(made[1]))
    tuned = parameters.effective(parts, inst.id, inst.spec_code)
    return GatewayConfig(
        listen_host=gateway_listen_host(parts.settings.engine_host, node),
        listen_port=node.port,
        engine_host=node.engine_host,
        engine_port=node.engine_port,
        advertised_host=node.host,
        advertised_port=node.port,
        log_dir=str(log_dir(parts, node)),
        repl_set_name=repl_set_name(inst),
        protected_users=(SERVICE_USER,),
        slow_ms=tuned.slow_ms,
        max_connections=tuned.max_connections,
        audit_enabled=policy.audit_enabled,
        kill_op_rules=policy.kill_op_rules,
        client_networks=policy.client_networks,
        tls_cert_file=cert[0],
        tls_key_file=cert[1],
        control_socket=str(control_path(parts, node)),
        roles_file=str(layout.roles_file(parts.settings, inst.id)),
        **_replica_set_members(inst, node),
        extra={REFUSE: _refusal(inst, node)} if integrity.known_fault(inst, node) else {},
    )


def _replica_set_members(inst: Instance, node: Node) -> dict[str, Any]:
    """On PostgreSQL storage every member's gateway knows the others and asks the monitor who is primary."""
    if inst.storage != "postgresql":
        return {}
    return {
        "members": tuple(
            Member(n.id, n.host, n.port, n.role == members.READ_REPLICA, _delay_ms(inst, n))
            for n in sorted(inst.nodes, key=lambda n: n.name)
        ),
        "member_name": node.id,
        "monitor_port": inst.monitor_port,
    }


def _delay_ms(inst: Instance, node: Node) -> int:
    replica = members.replica_settings(inst, node)
    return int(replica.get("delay_ms") or 0) if replica else 0


def _refusal(inst: Instance, node: Node) -> str:
    """What every client of a node whose data is lost or damaged is told instead of being served."""
    fault = integrity.known_fault(inst, node) or {}
    recovery = str(fault.get("recovery") or "")
    if recovery.startswith("job"):
        then = f"the service is recovering it ({recovery})"
    elif recovery:
        then = f"recovery: {recovery}; restore a backup onto the instance or delete it"
    else:
        then = "the service will recover it from the instance's backups"
    return (
        f"node {node.name} of instance {inst.id} is not serving: its data is missing or damaged "
        f"({fault.get('reason')}); {then}"
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
    host = dial_host(gateway_listen_host(parts.settings.engine_host, node))
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


def reload_gateways(parts: Parts, inst: Instance) -> None:
    """Push the instance's current policy to its running gateways without dropping a connection.

    The new config file is written first, then each gateway re-reads it: through the control
    socket (which answers once the new settings are live), else by SIGHUP.
    """
    policy = policy_of(parts, inst.id)
    for node in inst.nodes:
        dump_config(config_for(parts, inst, node, policy), config_path(parts, node))
        try:
            reply = control.request(control_path(parts, node), {"op": "reload"})
        except (OSError, ValueError):
            reply = {}
        if reply.get("ok"):
            continue
        pid = gateway_pid(parts, node)
        if pid is not None:
            os.kill(pid, signal.SIGHUP)


def restart_gateway(parts: Parts, inst: Instance, node: Node) -> int:
    """Stop and start only the node's gateway (what a listener change such as TLS needs); the engine
    and its data are untouched."""
    parts.provisioner.stop(layout.node_dir(parts.settings, node), Role.GATEWAY)
    return start_gateway(parts, inst, node)


def ask(parts: Parts, node: Node, message: dict[str, Any]) -> dict[str, Any]:
    """One control request to the node's gateway; InternalError if it cannot answer."""
    try:
        reply = control.request(control_path(parts, node), message)
    except (OSError, ValueError) as exc:
        raise InternalError(f"The gateway of node {node.name} is not reachable: {exc}") from exc
    if not reply.get("ok"):
        raise InternalError(f"The gateway of node {node.name} refused the request: {reply.get('error')}")
    return reply


def gateway_pid(parts: Parts, node: Node) -> int | None:
    return parts.provisioner.running_pid(layout.node_dir(parts.settings, node), Role.GATEWAY)


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False
