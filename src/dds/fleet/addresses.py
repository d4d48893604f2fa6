"""A node's two addresses: the one clients are given and the one the engine listens on.

Clients reach a node's gateway on `host`/`port`; the engine listens on loopback only
(`engine_host`/`engine_port`), where nothing but the gateway and the service reach it.
This is the one place that decides it.
"""

from __future__ import annotations

from dds.db.models import Node

ENGINE_HOST = "127.0.0.1"  # engines are never reachable from outside the host


def set_client_port(node: Node, port: int) -> None:
    """Give the node a new client port: only its gateway moves; the engine keeps its private port."""
    node.port = port


def dial_host(host: str) -> str:
    """Where this host reaches a listener bound to `host` (a wildcard bind is reached on loopback)."""
    return "127.0.0.1" if host in ("0.0.0.0", "") else host
