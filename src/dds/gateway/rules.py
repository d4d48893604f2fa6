"""Kill-op rules and the client allow list: which operations and which clients the gateway refuses.

A kill-op rule (DDS "killOp rule") names operation types, optionally namespaces and client
IPs, and a limit: `max_concurrency` (a matching operation beyond that many already running is
refused before it reaches the engine) and/or `secs_running` (a matching operation running
longer is killed: its client and engine connections are closed).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dds.gateway.errors import ConfigError

OPERATION_TYPES = ("insert", "update", "query", "command", "remove", "getmore")

_TYPE_OF = {
    "insert": "insert",
    "update": "update",
    "findAndModify": "update",
    "findandmodify": "update",
    "delete": "remove",
    "find": "query",
    "aggregate": "query",
    "count": "query",
    "distinct": "query",
    "getMore": "getmore",
}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def operation_type(command: str) -> str:
    """The DDS statement type of a command: insert, update, query, remove, getmore or command."""
    return _TYPE_OF.get(command, "command")


def namespace_matches(patterns: Iterable[str], db: str | None, namespace: str | None) -> bool:
    """`db` matches every collection of the database, `db.coll` exactly that collection."""
    for pattern in patterns:
        if "." in pattern:
            if namespace == pattern:
                return True
        elif db == pattern:
            return True
    return False


@dataclass(frozen=True)
class KillRule:
    """One enabled kill-op rule as the gateway enforces it."""

    id: str
    operation_types: tuple[str, ...]
    namespaces: tuple[str, ...] = ()
    client_ips: tuple[str, ...] = ()
    max_concurrency: int = 0  # 0: no limit on concurrency
    secs_running: int = 0  # 0: no limit on running time

    def matches(self, op_type: str, db: str | None, namespace: str | None, ip: str) -> bool:
        if op_type not in self.operation_types:
            return False
        if self.namespaces and not namespace_matches(self.namespaces, db, namespace):
            return False
        return not self.client_ips or ip in self.client_ips

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "operation_types": list(self.operation_types),
            "namespaces": list(self.namespaces),
            "client_ips": list(self.client_ips),
            "max_concurrency": self.max_concurrency,
            "secs_running": self.secs_running,
        }


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(name, "must be a list of non-empty strings")
    return tuple(value)


def _count(value: Any, name: str) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(name, "must be an integer >= 0")
    return value


def rules_from_json(data: Any) -> tuple[KillRule, ...]:
    """Validate the `kill_op_rules` list of a config file."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ConfigError("kill_op_rules", "must be a list")
    rules = []
    for i, item in enumerate(data):
        where = f"kill_op_rules[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise ConfigError(where, "must be an object with a string id")
        types = _strings(item.get("operation_types"), f"{where}.operation_types")
        if not types or any(t not in OPERATION_TYPES for t in types):
            raise ConfigError(f"{where}.operation_types", f"must name some of {', '.join(OPERATION_TYPES)}")
        rules.append(
            KillRule(
                id=item["id"],
                operation_types=types,
                namespaces=_strings(item.get("namespaces"), f"{where}.namespaces"),
                client_ips=_strings(item.get("client_ips"), f"{where}.client_ips"),
                max_concurrency=_count(item.get("max_concurrency"), f"{where}.max_concurrency"),
                secs_running=_count(item.get("secs_running"), f"{where}.secs_running"),
            )
        )
    return tuple(rules)


def networks_from_json(data: Any) -> tuple[str, ...]:
    """Validate `client_networks`: CIDR strings; an empty list admits every client."""
    values = _strings(data, "client_networks")
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ConfigError("client_networks", f"{value!r} is not an IP network") from None
    return values


class AllowList:
    """The client networks admitted at accept time (empty: everyone)."""

    def __init__(self, cidrs: Iterable[str]) -> None:
        self.networks: tuple[Network, ...] = tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)

    def admits(self, ip: str) -> bool:
        if not self.networks:
            return True
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr.version == net.version and addr in net for net in self.networks)
