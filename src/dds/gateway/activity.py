"""What one client connection did, turned into log records and counters.

Kept apart from the connection's I/O so the record shapes are in one place: every record
names the time, database, command, namespace, client address, user and connection, and
carries the command only as a redacted shape.
"""

from __future__ import annotations

from typing import Any

from dds.gateway.auth import Identity
from dds.gateway.errors import ErrorCode, ProtocolError, Refusal
from dds.gateway.logs import AUDITED_COMMANDS, GatewayLogs, utc_now
from dds.gateway.redact import command_shape
from dds.gateway.stats import ClientInfo, Stats
from dds.gateway.wire import Reply, Request

_ERRMSG_LIMIT = 1000


class Activity:
    """The log and counter side of one client connection."""

    def __init__(self, logs: GatewayLogs, stats: Stats, identity: Identity) -> None:
        self.logs = logs
        self.stats = stats
        self.identity = identity
        self.info: ClientInfo | None = None  # set once the connection is accepted

    @property
    def client(self) -> str:
        return self.info.client if self.info else "unknown"

    def record(self, request: Request) -> dict[str, Any]:
        """The fields every command record starts with."""
        return {
            "time": utc_now(),
            "db": request.db,
            "command": request.command,
            "ns": request.namespace,
            "client": self.client,
            "user": self.identity.principal,
            "connection_id": self.info.id if self.info else None,
        }

    def replied(self, request: Request, reply: Reply, ok: bool, elapsed_ms: float, slow_ms: float) -> None:
        """slow.log, error.log and audit.log lines for an engine reply, as they apply."""
        if ok and elapsed_ms < slow_ms and request.command not in AUDITED_COMMANDS:
            return
        record = self.record(request)
        record["duration_ms"] = round(elapsed_ms, 3)
        record["shape"] = command_shape(request)
        if elapsed_ms >= slow_ms:
            self.stats.slow += 1
            self.logs.slow.write(record)
        if not ok:
            self.stats.errors += 1
            try:
                body = reply.body
                code, name, errmsg = body.get("code"), body.get("codeName"), body.get("errmsg")
            except ProtocolError:
                code, name, errmsg = None, None, None
            self.logs.error.write(
                {**record, "source": "engine", "code": code, "codeName": name, "errmsg": str(errmsg)[:_ERRMSG_LIMIT]}
            )
        if request.command in AUDITED_COMMANDS:
            self.logs.write_audit({**record, "event": "command", "ok": ok})

    def failed(self, request: Request, code: ErrorCode, message: str, elapsed_ms: float) -> None:
        """error.log for a forwarded request the gateway itself answered with an error (engine gone, killed)."""
        self.stats.errors += 1
        record = self.record(request)
        record["duration_ms"] = round(elapsed_ms, 3)
        record.update(source="gateway", code=int(code), codeName=code.name, errmsg=message)
        record["shape"] = command_shape(request)
        self.logs.error.write(record)

    def refused(self, request: Request, refusal: Refusal) -> None:
        """error.log (and audit.log for protection rules) for a command the gateway answered itself."""
        self.stats.commands += 1
        self.stats.errors += 1
        record = self.record(request)
        record.update(source="gateway", code=int(refusal.code), codeName=refusal.code.name, errmsg=refusal.message)
        record["shape"] = command_shape(request)
        self.logs.error.write(record)
        if not refusal.audit:
            return
        if request.command == "saslStart":
            try:
                mechanism = request.body.get_str("mechanism")
            except ProtocolError:
                mechanism = None
            self.authentication("refused", refusal.subject, request.db, mechanism)
        else:
            self.logs.write_audit({**record, "event": "refused"})

    def authentication(
        self, outcome: str, user: str | None, db: str | None, mechanism: str | None, **extra: Any
    ) -> None:
        """An audit.log line: success, failure (engine said no) or refused (the gateway said no)."""
        self.logs.write_audit(
            {
                "time": utc_now(),
                "event": "authentication",
                "outcome": outcome,
                "user": user,
                "db": db,
                "mechanism": mechanism,
                "client": self.client,
                "connection_id": self.info.id if self.info else None,
                **extra,
            }
        )

    def event(self, name: str, **fields: Any) -> None:
        """A gateway.log line about this connection."""
        self.logs.event(name, client=self.client, **fields)
