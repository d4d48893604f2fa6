"""A node's two addresses: the one clients are given and the one the engine listens on.

Clients reach a node's gateway on `host`/`port`; the engine listens on loopback only
(`engine_host`/`engine_port`), where nothing but the gateway and the service reach it.
This is the one place that decides it.
"""

from __future__ import annotations

from dds.db.models import Node

ENGINE_HOST = "127.0.0.1"  # engines are never reachable from outside the host


def member_hosts(client_host: str, listen_host: str, count: int) -> list[str] | None:
    """The members of a replica set each get an address of their own, as on the cloud, with the
    instance's port: on loopback, 127.0.0.1, 127.0.0.2, ... (the whole 127/8 reaches this host).
    None where the service has one address only: the members then share it on ports of their own."""
    if client_host != "127.0.0.1" or listen_host != "127.0.0.1":
        return None
    return [f"127.0.0.{i + 1}" for i in range(count)]


def gateway_listen_host(listen_host: str, node: Node) -> str:
    """A member with an address of its own listens on it; other nodes on the service's listen address."""
    return node.host if node.host.startswith("127.") and node.host != listen_host else listen_host


def set_client_port(node: Node, port: int) -> None:
    """Give the node a new client port: only its gateway moves; the engine keeps its private port."""
    node.port = port


def dial_host(host: str) -> str:
    """Where this host reaches a listener bound to `host` (a wildcard bind is reached on loopback)."""
    return "127.0.0.1" if host in ("0.0.0.0", "") else host
