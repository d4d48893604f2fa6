"""The gateway process: one listener, its connections, logs, statistics and signals.

SIGHUP re-reads the configuration file; what a running listener cannot change (listen
address, log directory) is kept and named in gateway.log. SIGTERM/SIGINT stop accepting,
close every connection and exit 0.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import ssl
import time
from datetime import UTC, datetime
from pathlib import Path

from dds.gateway import refusal
from dds.gateway.auth import Guard
from dds.gateway.config import REFUSE, ConfigError, GatewayConfig, load_config
from dds.gateway.connection import ClientConnection
from dds.gateway.control import ControlServer
from dds.gateway.durability import Durability
from dds.gateway.hello import Topology
from dds.gateway.logs import GatewayLogs
from dds.gateway.members import MemberWatch
from dds.gateway.roles_store import RolesStore
from dds.gateway.rules import AllowList
from dds.gateway.stats import Stats
from dds.gateway.user_admin import UserAdmin

STATS_INTERVAL_S = 1.0
# A listener's address, TLS and control socket are fixed for its life: the service restarts
# the gateway (never the engine) to change them.
_RESTART_ONLY = ("listen_host", "listen_port", "log_dir", "tls_cert_file", "tls_key_file", "control_socket")


class Gateway:
    """Shared state of all connections of one gateway process."""

    def __init__(self, config: GatewayConfig, config_path: Path | None = None) -> None:
        self.config_path = config_path
        self.log_dir = Path(config.log_dir)
        self.logs = GatewayLogs(self.log_dir)
        self.stats = Stats()
        self.started = datetime.now(UTC).replace(microsecond=0)
        self.connections: set[ClientConnection] = set()
        self.closing = False
        self._server: asyncio.Server | None = None
        self._stats_timer: asyncio.TimerHandle | None = None
        self._last_refusal_event = 0.0
        self._control: ControlServer | None = None
        self.roles: RolesStore | None = None
        self.watch: MemberWatch | None = None
        self.durability: Durability | None = None
        self.user_admin: UserAdmin | None = None
        self._apply(config)

    def _apply(self, config: GatewayConfig) -> None:
        self.config = config
        self.guard = Guard(frozenset(config.protected_users))
        if config.roles_file is None:
            self.roles, self.user_admin = None, None
        elif self.roles is None or str(self.roles.path) != config.roles_file:
            self.roles = RolesStore(Path(config.roles_file))
            self.user_admin = UserAdmin(self.roles)
        self.topology = Topology(
            config.advertised, config.repl_set_name, self.started, config.members, self._watch_for(config)
        )
        self.allow = AllowList(config.client_networks)
        self.logs.audit_enabled = config.audit_enabled
        self.stats.settings = {
            "slow_ms": config.slow_ms,
            "max_connections": config.max_connections,
            "advertised": config.advertised,
            "repl_set_name": config.repl_set_name,
            "audit_enabled": config.audit_enabled,
            "client_networks": list(config.client_networks),
            "kill_op_rules": [rule.id for rule in config.kill_op_rules],
            "tls": config.tls_cert_file is not None,
            "authorization": config.roles_file is not None,
        }
        self.stats.dirty = True

    def _watch_for(self, config: GatewayConfig) -> MemberWatch | None:
        """One watch of the monitor for the gateway's life (started with the listener)."""
        if config.monitor_port is None or config.member_name is None:
            return None
        if self.watch is None or (self.watch.monitor_port, self.watch.me) != (config.monitor_port, config.member_name):
            old, old_durability = self.watch, self.durability
            self.watch = watch = MemberWatch(config.monitor_port, config.member_name)
            self.durability = Durability(config.monitor_port, config.member_name, watch.server_port)
            if old is not None:
                asyncio.get_running_loop().create_task(old.stop())
                self.watch.start()
            if old_durability is not None:
                asyncio.get_running_loop().create_task(old_durability.stop())
                self.durability.start()
        return self.watch

    @property
    def stats_path(self) -> Path:
        return self.log_dir / "stats.json"

    @property
    def port(self) -> int:
        """The port actually bound (useful with listen_port from a test)."""
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        config = self.config
        loop = asyncio.get_running_loop()
        tls: ssl.SSLContext | None = None
        if config.tls_cert_file and config.tls_key_file:
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.minimum_version = ssl.TLSVersion.TLSv1_2
            tls.load_cert_chain(config.tls_cert_file, config.tls_key_file)
        self._server = await loop.create_server(
            lambda: ClientConnection(self),
            config.listen_host,
            config.listen_port,
            reuse_address=True,
            backlog=511,
            ssl=tls,
        )
        if config.control_socket:
            self._control = ControlServer(Path(config.control_socket), self.control)
            await self._control.start()
        self.logs.event(
            "listening",
            pid=os.getpid(),
            listen=f"{config.listen_host}:{self.port}",
            engine=f"{config.engine_host}:{config.engine_port}",
            advertised=config.advertised,
            repl_set_name=config.repl_set_name,
            loop=type(loop).__module__.split(".")[0],  # asyncio or uvloop
            tls=tls is not None,
        )
        if self.watch is not None:
            self.watch.start()
        if self.durability is not None:
            self.durability.start()
        self._tick()

    def _tick(self) -> None:
        self._enforce_running_time()
        self.stats.write_if_dirty(self.stats_path)
        self._stats_timer = asyncio.get_running_loop().call_later(STATS_INTERVAL_S, self._tick)

    def connection_refused(self, client: str, reason: str = "max_connections") -> None:
        """Count a connection closed at accept; log at most one line a second about it."""
        self.stats.refused += 1
        self.stats.dirty = True
        now = time.monotonic()
        if now - self._last_refusal_event >= 1.0:
            self._last_refusal_event = now
            self.logs.event(
                "connection_refused",
                client=client,
                reason=reason,
                max_connections=self.config.max_connections,
                refused_total=self.stats.refused,
            )

    def _enforce_running_time(self) -> None:
        """Kill-op rules with `secs_running`: a matching operation running longer loses its connection."""
        rules = [rule for rule in self.config.kill_op_rules if rule.secs_running]
        if not rules or not self.stats.operations:
            return
        now = time.time()
        doomed: dict[int, str] = {}
        for op in self.stats.operations.values():
            for rule in rules:
                if now - op.started >= rule.secs_running and rule.matches(op.op_type, op.db, op.namespace, op.ip):
                    doomed[op.connection_id] = rule.id
        if doomed:
            for connection_id, rule_id in doomed.items():
                self.logs.event("killed_by_rule", connection_id=connection_id, rule=rule_id)
            self.kill(set(doomed))

    def kill(self, ids: set[int]) -> list[int]:
        """End these sessions: a running operation gets `Interrupted`, then both connections close.

        Returns the ids that were open.
        """
        killed = []
        for conn in list(self.connections):
            if conn.info is not None and conn.info.id in ids:
                killed.append(conn.info.id)
                conn.interrupt()
        return sorted(killed)

    def control(self, request: dict[str, object]) -> dict[str, object]:
        """Answer one control-channel request (see dds.gateway.control)."""
        op = request.get("op")
        if op == "sessions":
            return {"ok": True, "sessions": self.stats.sessions()}
        if op == "reload":
            if not self.reload():
                return {"ok": False, "error": "the config file could not be used; see gateway.log"}
            return {"ok": True, "settings": self.stats.settings}
        if op == "stats":
            return {"ok": True, "stats": self.stats.snapshot()}
        if op == "kill":
            ids = request.get("ids")
            if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                return {"ok": False, "error": "ids must be a list of session ids"}
            killed = self.kill(set(ids))
            self.logs.event("sessions_killed", requested=ids, killed=killed)
            return {"ok": True, "killed": killed}
        return {"ok": False, "error": f"unknown op {op!r}"}

    def reload(self) -> bool:
        """Re-read the config file (SIGHUP); a bad file keeps the running configuration (False)."""
        if self.config_path is None:
            return False
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            self.logs.event("reload_failed", error=str(exc))
            return False
        kept = [name for name in _RESTART_ONLY if getattr(new, name) != getattr(self.config, name)]
        new = dataclasses.replace(new, **{name: getattr(self.config, name) for name in _RESTART_ONLY})
        self._apply(new)
        # Clients outside a narrowed allow list lose their connections now, not at their next connect.
        outside = {c.info.id for c in self.connections if c.info is not None and not self.allow.admits(c.info.ip)}
        if outside:
            self.kill(outside)
        self.logs.event(
            "reloaded",
            slow_ms=new.slow_ms,
            max_connections=new.max_connections,
            audit_enabled=new.audit_enabled,
            client_networks=list(new.client_networks),
            kill_op_rules=len(new.kill_op_rules),
            closed_outside_networks=len(outside),
            needs_restart=kept,
        )
        return True

    async def stop(self) -> None:
        """Stop accepting, close every connection, write the last snapshot."""
        self.closing = True
        if self._control is not None:
            self._control.close()
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.close()
        if self._stats_timer is not None:
            self._stats_timer.cancel()
        if self.watch is not None:
            await self.watch.stop()
        if self.durability is not None:
            await self.durability.stop()
        if self._server is not None:
            try:
                await asyncio.wait_for(self._server.wait_closed(), timeout=5)
            except TimeoutError:
                pass
        await asyncio.sleep(0)  # let the transports deliver connection_lost
        self.stats.dirty = True
        self.stats.write_if_dirty(self.stats_path)
        self.logs.event("stopped", pid=os.getpid())
        self.logs.close()


async def serve(config_path: Path) -> int:
    """Run a gateway until SIGTERM/SIGINT; returns the process exit code."""
    config = load_config(config_path)
    if config.extra.get(REFUSE):  # the node's data is lost or damaged: refuse, never forward
        return await refusal.serve(config)
    gateway = Gateway(config, config_path)
    await gateway.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, gateway.reload)
    await stop.wait()
    await gateway.stop()
    return 0
