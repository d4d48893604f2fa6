"""The gateway process: one listener, its connections, logs, statistics and signals.

SIGHUP re-reads the configuration file; what a running listener cannot change (listen
address, log directory) is kept and named in gateway.log. SIGTERM/SIGINT stop accepting,
close every connection and exit 0.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

from dds.gateway.auth import Guard
from dds.gateway.config import ConfigError, GatewayConfig, load_config
from dds.gateway.connection import ClientConnection
from dds.gateway.hello import Topology
from dds.gateway.logs import GatewayLogs
from dds.gateway.stats import Stats

STATS_INTERVAL_S = 1.0
_RESTART_ONLY = ("listen_host", "listen_port", "log_dir")


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
        self._apply(config)

    def _apply(self, config: GatewayConfig) -> None:
        self.config = config
        self.guard = Guard(frozenset(config.protected_users))
        self.topology = Topology(config.advertised, config.repl_set_name, self.started)
        self.stats.settings = {
            "slow_ms": config.slow_ms,
            "max_connections": config.max_connections,
            "advertised": config.advertised,
            "repl_set_name": config.repl_set_name,
        }
        self.stats.dirty = True

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
        self._server = await loop.create_server(
            lambda: ClientConnection(self), config.listen_host, config.listen_port, reuse_address=True, backlog=511
        )
        self.logs.event(
            "listening",
            pid=os.getpid(),
            listen=f"{config.listen_host}:{self.port}",
            engine=f"{config.engine_host}:{config.engine_port}",
            advertised=config.advertised,
            repl_set_name=config.repl_set_name,
            loop=type(loop).__module__.split(".")[0],  # asyncio or uvloop
        )
        self._tick()

    def _tick(self) -> None:
        self.stats.write_if_dirty(self.stats_path)
        self._stats_timer = asyncio.get_running_loop().call_later(STATS_INTERVAL_S, self._tick)

    def connection_refused(self, client: str) -> None:
        """Count a connection closed at accept; log at most one line a second about it."""
        self.stats.refused += 1
        self.stats.dirty = True
        now = time.monotonic()
        if now - self._last_refusal_event >= 1.0:
            self._last_refusal_event = now
            self.logs.event(
                "connection_refused",
                client=client,
                max_connections=self.config.max_connections,
                refused_total=self.stats.refused,
            )

    def reload(self) -> None:
        """Re-read the config file (SIGHUP); a bad file keeps the running configuration."""
        if self.config_path is None:
            return
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            self.logs.event("reload_failed", error=str(exc))
            return
        kept = [name for name in _RESTART_ONLY if getattr(new, name) != getattr(self.config, name)]
        new = dataclasses.replace(new, **{name: getattr(self.config, name) for name in _RESTART_ONLY})
        self._apply(new)
        self.logs.event("reloaded", slow_ms=new.slow_ms, max_connections=new.max_connections, needs_restart=kept)

    def kill_sessions(self) -> None:
        """SIGUSR1: close the connections `kill.json` names (the service writes it for the DDS
        "kill session" call), client and engine side alike: the operation in flight and the
        connection's cursors end with them."""
        path = self.log_dir / "kill.json"
        try:
            wanted = {int(i) for i in json.loads(path.read_text(encoding="utf-8")).get("connections", [])}
        except (OSError, ValueError, TypeError, AttributeError):
            return
        path.unlink(missing_ok=True)
        for conn in list(self.connections):
            if conn.info is not None and conn.info.id in wanted:
                self.logs.event("session_killed", connection_id=conn.info.id, client=conn.info.client)
                conn.close(abort=True)
        self.stats.dirty = True

    async def stop(self) -> None:
        """Stop accepting, close every connection, write the last snapshot."""
        self.closing = True
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.close()
        if self._stats_timer is not None:
            self._stats_timer.cancel()
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
    gateway = Gateway(load_config(config_path), config_path)
    await gateway.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, gateway.reload)
    loop.add_signal_handler(signal.SIGUSR1, gateway.kill_sessions)
    await stop.wait()
    await gateway.stop()
    return 0
