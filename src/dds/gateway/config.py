"""Gateway configuration: one JSON file per node, written by the service, re-read on SIGHUP."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from dds.gateway.errors import ConfigError
from dds.gateway.members import Member
from dds.gateway.rules import KillRule, networks_from_json, rules_from_json

__all__ = ["REFUSE", "ConfigError", "GatewayConfig", "config_from_json", "dump_config", "load_config"]

# In `extra`: the node's data is lost or damaged; answer every request with this reason instead of
# forwarding it (gateway/refusal.py), so no client is ever served an engine with nothing in it.
REFUSE = "refuse"


@dataclass(frozen=True)
class GatewayConfig:
    """Everything one gateway process needs.

    `advertised_*` is the address clients must use (what `hello` reports), which differs from
    `listen_*` when the gateway listens on 0.0.0.0 or behind NAT.
    """

    listen_host: str
    listen_port: int
    engine_host: str
    engine_port: int
    advertised_host: str
    advertised_port: int
    log_dir: str
    repl_set_name: str | None = None
    protected_users: tuple[str, ...] = ("dds_service",)
    slow_ms: float = 100.0
    max_connections: int = 0  # 0 = unlimited
    # Not in the design brief but needed to be safe: a client that starts a message and stops.
    partial_message_timeout_s: float = 60.0
    # audit.log is written only while the instance's audit policy is on (the service sets it).
    audit_enabled: bool = True
    kill_op_rules: tuple[KillRule, ...] = ()
    client_networks: tuple[str, ...] = ()  # CIDRs admitted at accept time; empty: every client
    tls_cert_file: str | None = None  # both set: the listener speaks TLS only
    tls_key_file: str | None = None
    control_socket: str | None = None  # Unix socket for the service: sessions, kill, stats
    # The instance's role grants (gateway/roles_store.py); None: no role checks (every user may do anything).
    roles_file: str | None = None
    # A replica set on PostgreSQL storage: every member's client address, which one this gateway
    # fronts, and the pg_auto_failover monitor that says who is primary (gateway/members.py).
    members: tuple[Member, ...] = ()
    member_name: str | None = None
    monitor_port: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def advertised(self) -> str:
        """`host:port` as clients see it."""
        return f"{self.advertised_host}:{self.advertised_port}"

    def to_json(self) -> dict[str, Any]:
        """The file form: tuples become lists, unknown keys are kept for forward compatibility."""
        out = asdict(self)
        out["protected_users"] = list(self.protected_users)
        out["kill_op_rules"] = [rule.to_json() for rule in self.kill_op_rules]
        out["client_networks"] = list(self.client_networks)
        out["members"] = [asdict(m) for m in self.members]
        extra = out.pop("extra")
        return {**extra, **out}


_INT_FIELDS = ("listen_port", "engine_port", "advertised_port")
_STR_FIELDS = ("listen_host", "engine_host", "advertised_host", "log_dir")


def config_from_json(data: Any) -> GatewayConfig:
    """Validate a parsed JSON object; raises ConfigError naming the first bad field."""
    if not isinstance(data, dict):
        raise ConfigError("<root>", "must be a JSON object")
    known = {f.name for f in fields(GatewayConfig)} - {"extra"}
    for name in _STR_FIELDS:
        if not isinstance(data.get(name), str) or not data[name]:
            raise ConfigError(name, "must be a non-empty string")
    for name in _INT_FIELDS:
        value = data.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
            raise ConfigError(name, "must be a port number 1-65535")
    repl = data.get("repl_set_name")
    if repl is not None and (not isinstance(repl, str) or not repl):
        raise ConfigError("repl_set_name", "must be null or a non-empty string")
    users = data.get("protected_users", ["dds_service"])
    if not isinstance(users, list) or not all(isinstance(u, str) and u for u in users):
        raise ConfigError("protected_users", "must be a list of user names")
    slow = data.get("slow_ms", 100)
    if not isinstance(slow, int | float) or isinstance(slow, bool) or slow < 0:
        raise ConfigError("slow_ms", "must be a number >= 0")
    limit = data.get("max_connections", 0)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise ConfigError("max_connections", "must be an integer >= 0 (0 = unlimited)")
    partial = data.get("partial_message_timeout_s", 60.0)
    if not isinstance(partial, int | float) or isinstance(partial, bool) or partial <= 0:
        raise ConfigError("partial_message_timeout_s", "must be a number > 0")
    audit = data.get("audit_enabled", True)
    if not isinstance(audit, bool):
        raise ConfigError("audit_enabled", "must be true or false")
    tls = (data.get("tls_cert_file"), data.get("tls_key_file"))
    if any(v is not None and (not isinstance(v, str) or not v) for v in tls) or (tls[0] is None) != (tls[1] is None):
        raise ConfigError("tls_cert_file", "tls_cert_file and tls_key_file must both be file paths, or both null")
    control = data.get("control_socket")
    if control is not None and (not isinstance(control, str) or not control):
        raise ConfigError("control_socket", "must be null or a path")
    roles_file = data.get("roles_file")
    if roles_file is not None and (not isinstance(roles_file, str) or not roles_file):
        raise ConfigError("roles_file", "must be null or a path")
    members = _members(data)
    return GatewayConfig(
        listen_host=data["listen_host"],
        listen_port=data["listen_port"],
        engine_host=data["engine_host"],
        engine_port=data["engine_port"],
        advertised_host=data["advertised_host"],
        advertised_port=data["advertised_port"],
        log_dir=data["log_dir"],
        repl_set_name=repl,
        protected_users=tuple(users),
        slow_ms=float(slow),
        max_connections=limit,
        partial_message_timeout_s=float(partial),
        audit_enabled=audit,
        kill_op_rules=rules_from_json(data.get("kill_op_rules")),
        client_networks=networks_from_json(data.get("client_networks")),
        tls_cert_file=tls[0],
        tls_key_file=tls[1],
        control_socket=control,
        roles_file=roles_file,
        members=members,
        member_name=data.get("member_name") if members else None,
        monitor_port=data.get("monitor_port") if members else None,
        extra={k: v for k, v in data.items() if k not in known},
    )


def _members(data: dict[str, Any]) -> tuple[Member, ...]:
    raw = data.get("members") or []
    if not isinstance(raw, list):
        raise ConfigError("members", "must be a list")
    members = []
    for item in raw:
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) and item[k] for k in ("name", "host")):
            raise ConfigError("members", "each member needs a name and a host")
        port = item.get("port")
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise ConfigError("members", "each member needs a port 1-65535")
        members.append(
            Member(item["name"], item["host"], port, bool(item.get("hidden")), int(item.get("delay_ms") or 0))
        )
    if members:
        if data.get("member_name") not in {m.name for m in members}:
            raise ConfigError("member_name", "must name one of the members")
        port = data.get("monitor_port")
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise ConfigError("monitor_port", "must be a port number 1-65535 when members are given")
    return tuple(members)


def load_config(path: Path) -> GatewayConfig:
    """Read and validate a config file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError("<file>", f"cannot read {path}: {exc}") from exc
    return config_from_json(data)


def dump_config(config: GatewayConfig, path: Path) -> None:
    """Write atomically (temp file + rename) so a SIGHUP never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(config.to_json(), f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
