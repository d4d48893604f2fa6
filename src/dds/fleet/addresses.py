"""A node's two addresses: the one clients are given and the one the engine listens on.

Until a gateway stands in front of the engine, the engine itself listens on the client
address; this is the one place that decides it, so the gateway changes only this rule.
"""

from __future__ import annotations

from dds.db.models import Node


def set_client_port(node: Node, port: int) -> None:
    """Give the node a new client port; the engine follows it while nothing stands in between."""
    node.port = port
    node.engine_port = port


def dial_host(host: str) -> str:
    """Where this host reaches a listener bound to `host` (a wildcard bind is reached on loopback)."""
    return "127.0.0.1" if host in ("0.0.0.0", "") else host
