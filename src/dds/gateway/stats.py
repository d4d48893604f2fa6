"""Connection accounting: who is connected, from where, and what is running right now.

The engine cannot tell (behind the gateway it sees one address, and `currentOp` is always
empty). Everything lives in memory; `stats.json` in the log directory is a snapshot the
service reads, rewritten at most once a second and only when something changed.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dds.gateway.rules import operation_type


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(slots=True)
class Operation:
    """One command between its arrival and its reply."""

    id: int
    connection_id: int
    command: str
    namespace: str | None
    client: str
    user: str | None
    started: float  # epoch seconds
    db: str | None = None
    ip: str = ""
    op_type: str = "command"  # DDS statement type (rules.operation_type)

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "connection_id": self.connection_id,
            "command": self.command,
            "type": self.op_type,
            "db": self.db,
            "namespace": self.namespace,
            "client": self.client,
            "user": self.user,
            "started": _iso(self.started),
            "running_ms": round((now - self.started) * 1000, 1),
        }


@dataclass(slots=True)
class ClientInfo:
    """One open client connection."""

    id: int
    client: str  # ip:port
    ip: str
    connected: float
    user: str | None = None
    last_db: str | None = None  # of the latest command, so an idle session still names its database
    last_namespace: str | None = None


class Stats:
    """Counters and the live tables, mutated from the event loop only (no locks needed)."""

    def __init__(self) -> None:
        self.started = time.time()
        self.connections: dict[int, ClientInfo] = {}
        self.per_ip: Counter[str] = Counter()
        self.operations: dict[int, Operation] = {}
        self.accepted = 0
        self.refused = 0  # over max_connections
        self.commands = 0
        self.errors = 0
        self.slow = 0
        self.protocol_errors = 0
        self.settings: dict[str, Any] = {}  # the live thresholds, so a reader can see a reload took effect
        self.dirty = True
        self._connection_ids = itertools.count(1)
        self._operation_ids = itertools.count(1)

    @property
    def current(self) -> int:
        return len(self.connections)

    def open(self, client: str, ip: str) -> ClientInfo:
        """Register an accepted connection; its id is also the `connectionId` clients see."""
        info = ClientInfo(next(self._connection_ids), client, ip, time.time())
        self.connections[info.id] = info
        self.per_ip[ip] += 1
        self.accepted += 1
        self.dirty = True
        return info

    def close(self, info: ClientInfo) -> None:
        if self.connections.pop(info.id, None) is None:
            return
        self.per_ip[info.ip] -= 1
        if self.per_ip[info.ip] <= 0:
            del self.per_ip[info.ip]
        self.dirty = True

    def begin(self, info: ClientInfo, command: str, namespace: str | None, db: str | None = None) -> Operation:
        op = Operation(
            next(self._operation_ids),
            info.id,
            command,
            namespace,
            info.client,
            info.user,
            time.time(),
            db,
            info.ip,
            operation_type(command),
        )
        self.operations[op.id] = op
        self.commands += 1
        self.dirty = True
        return op

    def end(self, op: Operation) -> None:
        if self.operations.pop(op.id, None) is not None:
            self.dirty = True

    def sessions(self) -> list[dict[str, Any]]:
        """Every open client connection with the operation it is running, if any (the control channel's answer)."""
        now = time.time()
        running = {op.connection_id: op for op in self.operations.values()}
        out = []
        for c in self.connections.values():
            op = running.get(c.id)
            out.append(
                {
                    "id": c.id,
                    "client": c.client,
                    "ip": c.ip,
                    "user": c.user,
                    "connected": _iso(c.connected),
                    "active": op is not None,
                    "last_namespace": c.last_namespace,
                    "last_db": c.last_db,
                    "op": op.to_json(now) if op is not None else None,
                }
            )
        return out

    def snapshot(self) -> dict[str, Any]:
        """The JSON form written to stats.json."""
        now = time.time()
        return {
            "time": _iso(now),
            "pid": os.getpid(),
            "started": _iso(self.started),
            "settings": self.settings,
            "connections": {
                "current": self.current,
                "accepted": self.accepted,
                "refused": self.refused,
                "per_ip": dict(sorted(self.per_ip.items())),
            },
            "commands": self.commands,
            "errors": self.errors,
            "slow": self.slow,
            "protocol_errors": self.protocol_errors,
            "clients": [
                {"id": c.id, "client": c.client, "user": c.user, "connected": _iso(c.connected)}
                for c in self.connections.values()
            ],
            "inprog": [op.to_json(now) for op in self.operations.values()],
        }

    def write_if_dirty(self, path: Path) -> bool:
        """Atomically replace `path` with a fresh snapshot when something changed; never raises."""
        if not self.dirty:
            return False
        self.dirty = False
        tmp: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".stats.")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.snapshot(), f, separators=(",", ":"))
            os.replace(tmp, path)
        except OSError:
            self.dirty = True  # try again next tick
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            return False
        return True
