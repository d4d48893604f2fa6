"""One client connection and its own engine connection.

Requests are handled strictly one at a time: read a request, forward it, read exactly one
engine reply, then answer or drop it. That keeps replies matched to requests even though the
engine answers `moreToCome` (w:0) requests that the client expects no reply to, and it is
what drivers do anyway (one operation in flight per connection). Keeping one engine
connection per client keeps cursors and the SCRAM conversation where the engine expects.

Built on asyncio Protocols rather than streams: the common case (a whole message in one read)
then costs no task switch and no extra copy.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, cast

from dds.gateway import authorize
from dds.gateway.activity import Activity
from dds.gateway.auth import HELLO_COMMANDS, Attempt, AuthOutcome, Guard, Identity
from dds.gateway.config import GatewayConfig
from dds.gateway.durability import Concern, Durability, Outcome, concern_of, unsatisfiable
from dds.gateway.errors import ErrorCode, ProtocolError, Refusal, storage_restarting
from dds.gateway.fsync import fsync_reply
from dds.gateway.hello import LOCAL_COMMANDS, Topology, local_reply, rewrite_hello
from dds.gateway.logs import GatewayLogs
from dds.gateway.members import WRITE_COMMANDS
from dds.gateway.privileges import Grants
from dds.gateway.roles_store import RolesStore
from dds.gateway.rules import AllowList, operation_type
from dds.gateway.screen import screen
from dds.gateway.stats import ClientInfo, Operation, Stats
from dds.gateway.user_admin import AfterReply, Handled, UserAdmin, connection_status
from dds.gateway.wire import (
    LEGACY_COMMANDS,
    MAX_MESSAGE_SIZE,
    Reply,
    Request,
    build_op_msg,
    error_document,
    frame_length,
    parse_reply,
    parse_request,
    reply_for,
    with_new_body,
    without_more_to_come,
)


class Gateway(Protocol):
    """What a connection needs of the process that accepted it (the server implements it)."""

    config: GatewayConfig
    logs: GatewayLogs
    stats: Stats
    guard: Guard
    topology: Topology
    connections: set[ClientConnection]
    closing: bool
    allow: AllowList
    roles: RolesStore | None  # None: authorization off
    user_admin: UserAdmin | None
    durability: Durability | None  # a replica set on PostgreSQL storage: majority replies wait here

    def connection_refused(self, client: str, reason: str = "max_connections") -> None: ...


# Stop reading from a client that keeps sending while its request is in flight.
BACKLOG_LIMIT = 1024 * 1024
# A connection closed after a last reply waits this long for the client to read it.
_FLUSH_TIMEOUT_S = 5.0
# While a write whose wtimeout passed is still in the engine, its commits waiting in PostgreSQL
# are released this often.
_RELEASE_EVERY_S = 0.1
_SASL_COMMANDS = frozenset({"saslStart", "saslContinue", "logout"})
# Every authenticated user may run these and nothing about them depends on roles: not even a stat.
_UNCHECKED = authorize.FREE - {"connectionStatus"}


@dataclass(slots=True)
class InFlight:
    """The request the engine is working on for this connection."""

    request: Request
    attempt: Attempt | None  # the authentication this request starts, if any
    started: float  # perf_counter at forwarding
    op: Operation
    # OP_MSG speculative authentication, which the engine ignores: the saslStart the gateway
    # sends itself once the hello is answered, and then the hello reply waiting for its result.
    speculation: bytes | None = None
    followup: Request | None = None
    hello: dict[str, Any] | None = None
    after: AfterReply | None = None  # turns the engine's reply into the client's (user/role commands)
    concern: Concern | None = None  # the reply waits for a standby's copy (majority write or read)
    wtimer: asyncio.TimerHandle | None = None  # wtimeout: releases the engine's commit waiting in PostgreSQL


class Forward(NamedTuple):
    """What `_admit` decided to send to the engine."""

    data: bytes
    attempt: Attempt | None = None
    speculation: bytes | None = None
    after: AfterReply | None = None


class EngineLink(asyncio.Protocol):
    """The engine side: hands everything to its ClientConnection (while it is the current link)."""

    def __init__(self, owner: ClientConnection) -> None:
        self.owner = owner

    def data_received(self, data: bytes) -> None:
        if self.owner.link is self:
            self.owner.engine_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.owner.link is self:
            self.owner.engine_lost(exc)

    def pause_writing(self) -> None:
        self.owner.pause_client("engine")

    def resume_writing(self) -> None:
        self.owner.resume_client("engine")


class ClientConnection(asyncio.Protocol):
    """The client side of one proxied connection."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.transport: asyncio.Transport | None = None
        self.engine: asyncio.Transport | None = None
        self.link: EngineLink | None = None  # the protocol of `engine`; a replaced link's callbacks are ignored
        self.info: ClientInfo | None = None
        self.identity = Identity()
        self.activity = Activity(gateway.logs, gateway.stats, self.identity)
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.inflight: InFlight | None = None
        self.closed = False
        self._pause_reasons: set[str] = set()
        self._partial_timer: asyncio.TimerHandle | None = None
        self._last_progress = 0.0
        self._connect_task: asyncio.Task[None] | None = None
        self.held: asyncio.Task[None] | None = None  # a reply waiting for a standby's copy

    # --- client transport callbacks -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: uvloop's transports are not asyncio.Transport subclasses.
        self.transport = transport = cast(asyncio.Transport, transport)
        gateway = self.gateway
        peer = transport.get_extra_info("peername")
        ip, port = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else ("unknown", 0)
        limit = gateway.config.max_connections
        if gateway.closing or (limit and gateway.stats.current >= limit):
            # Over the limit: close at once, before any engine connection exists.
            self.closed = True
            gateway.connection_refused(f"{ip}:{port}")
            transport.abort()
            return
        if not gateway.allow.admits(ip):
            # Not in the instance's client networks: closed before any engine connection exists.
            self.closed = True
            gateway.connection_refused(f"{ip}:{port}", "client_network")
            transport.abort()
            return
        self.info = self.activity.info = gateway.stats.open(f"{ip}:{port}", ip)
        gateway.connections.add(self)
        self._connect_task = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        config = self.gateway.config
        loop = asyncio.get_running_loop()
        try:
            engine, link = await loop.create_connection(
                lambda: EngineLink(self), config.engine_host, config.engine_port
            )
        except OSError as exc:
            self.activity.event("engine_unreachable", error=str(exc))
            self.close()
            return
        if self.closed:
            engine.close()
            return
        self.engine, self.link = engine, link
        self._process()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self._client_data(data)
        except Exception as exc:  # a bug must cost one connection, never the process
            self._internal_error(exc)

    def _client_data(self, data: bytes) -> None:
        try:
            if not self.inbuf and self._idle():
                if frame_length(data) == len(data):  # the common case: one whole message
                    self._handle_request(data)
                    return
            self.inbuf += data
            self._last_progress = time.monotonic()
            frame_length(self.inbuf)  # refuse an oversized or impossible length before buffering it
        except ProtocolError as exc:
            self._violation(exc)
            return
        if self._idle():
            self._process()
        elif len(self.inbuf) > BACKLOG_LIMIT:
            self.pause_client("backlog")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._release()

    def pause_writing(self) -> None:
        # The client reads slower than the engine answers: stop reading from the engine.
        if self.engine is not None:
            self.engine.pause_reading()

    def resume_writing(self) -> None:
        if self.engine is not None:
            self.engine.resume_reading()

    # --- engine transport callbacks (through EngineLink) ----------------------------------

    def engine_data(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self._engine_data(data)
        except Exception as exc:  # a bug must cost one connection, never the process
            self._internal_error(exc)

    def _engine_data(self, data: bytes) -> None:
        try:
            if not self.outbuf and frame_length(data, MAX_MESSAGE_SIZE) == len(data):
                self._handle_reply(data)
                return
            self.outbuf += data
            while not self.closed:
                n = frame_length(self.outbuf, MAX_MESSAGE_SIZE)
                if n is None or len(self.outbuf) < n:
                    return
                if n == len(self.outbuf):
                    message = bytes(self.outbuf)
                    self.outbuf.clear()
                else:
                    message = bytes(self.outbuf[:n])
                    del self.outbuf[:n]
                self._handle_reply(message)
        except ProtocolError as exc:
            self._engine_violation(exc)

    def engine_lost(self, exc: Exception | None) -> None:
        """The engine closed its side. A request in flight gets an error reply, never a silent close.

        Then, if the engine knew nothing about this client worth keeping (not authenticated, no
        conversation started), a new engine connection serves the next request and the client
        keeps its connection. An authenticated client's login lived in the engine connection and
        cannot be replayed (SCRAM), so that client connection closes once the reply is out: the
        driver opens a new one and logs in again.
        """
        if self.closed:
            return
        self.engine, self.link = None, None
        self.outbuf.clear()
        self.resume_client("engine")  # a back-pressure pause of the lost engine connection ends with it
        flight = self.inflight
        if flight is None:
            self.close()  # an idle connection: nothing to answer, nothing worth reconnecting for
            return
        self.inflight = None
        request = flight.request
        self.activity.event("engine_closed", command=request.command, error=str(exc or ""))
        self._fail(
            flight,
            ErrorCode.InternalError,
            f"the database engine closed its connection while running {request.command or 'the command'}; "
            "the command may or may not have taken effect",
        )
        identity = self.identity
        if identity.authenticated or identity.pending is not None or flight.attempt is not None:
            self._close_after_reply()
            return
        self.activity.event("engine_reconnect")
        self._connect_task = asyncio.get_running_loop().create_task(self._connect())

    def interrupt(self) -> None:
        """Kill this session (the control channel's `kill`, a kill-op rule): as MongoDB's killOp.

        The request in flight, if any, is answered with `Interrupted` (11601), which drivers do
        not retry, before the connection closes: a driver seeing only a closed connection would
        run a retryable read again on a new one. The engine connection closes too, which ends the
        engine's work on it and its cursors; its reply, should one come, is never forwarded.
        """
        if self.closed:
            return
        flight = self.inflight
        if flight is None:
            self.close(abort=True)
            return
        self.inflight = None
        self._fail(flight, ErrorCode.Interrupted, "operation was interrupted")
        self._close_after_reply()

    # --- flow control ---------------------------------------------------------------------

    def pause_client(self, reason: str) -> None:
        if not self._pause_reasons and self.transport is not None and not self.closed:
            self.transport.pause_reading()
        self._pause_reasons.add(reason)

    def resume_client(self, reason: str) -> None:
        if reason not in self._pause_reasons:
            return
        self._pause_reasons.discard(reason)
        if not self._pause_reasons and self.transport is not None and not self.closed:
            self.transport.resume_reading()

    # --- requests -------------------------------------------------------------------------

    def _process(self) -> None:
        """Handle buffered client messages until one is in flight or the buffer holds no whole message."""
        buf = self.inbuf
        while not self.closed and self._idle():
            try:
                n = frame_length(buf)
            except ProtocolError as exc:
                self._violation(exc)
                return
            if n is None or len(buf) < n:
                self.resume_client("backlog")
                if buf:
                    self._arm_partial_timer()
                return
            if n == len(buf):
                data = bytes(buf)
                buf.clear()
            else:
                data = bytes(buf[:n])
                del buf[:n]
            self._handle_request(data)
        if not self._idle() and len(buf) > BACKLOG_LIMIT:
            self.pause_client("backlog")

    def _idle(self) -> bool:
        """The engine link is up and nothing of this connection is in flight or held."""
        return self.inflight is None and self.held is None and self.engine is not None

    def _handle_request(self, data: bytes) -> None:
        try:
            request = parse_request(data)
            namespace = request.namespace  # decodes (and caches) `$db` and the collection: fail here if bad
        except ProtocolError as exc:
            self._violation(exc)
            return
        if self._awaits_topology_change(request):
            asyncio.get_running_loop().create_task(self._hello_after_change(request))
            return
        try:
            forward = self._admit(request)
        except ProtocolError as exc:
            self._violation(exc)
            return
        except Refusal as refusal:
            if not request.more_to_come and self.transport is not None:
                doc = error_document(refusal.code, refusal.message, refusal.labels)
                self.transport.write(reply_for(request, doc))
            self.activity.refused(request, refusal)
            return
        if forward is None:
            return
        assert self.info is not None and self.engine is not None
        info = self.info
        op = self.gateway.stats.begin(info, request.command, namespace, request.db)
        if request.db is not None and request.command not in HELLO_COMMANDS:
            info.last_db, info.last_namespace = request.db, namespace
        self.inflight = flight = InFlight(
            request, forward.attempt, time.perf_counter(), op, forward.speculation, after=forward.after
        )
        if self.gateway.durability is not None:
            self._note_concern(flight)
        self.engine.write(forward.data)

    def _note_concern(self, flight: InFlight) -> None:
        """A majority write or read: its reply will wait; a `wtimeout` bounds the engine's wait too."""
        request = flight.request
        flight.concern = concern = concern_of(request.command, request.body, WRITE_COMMANDS)
        if concern is not None and concern.timeout_s is not None:
            flight.wtimer = asyncio.get_running_loop().call_later(concern.timeout_s, self._release_commit, flight)

    def _release_commit(self, flight: InFlight) -> None:
        if self.inflight is flight and self.gateway.durability is not None:
            asyncio.get_running_loop().create_task(self._release_commits(flight, self.gateway.durability))

    async def _release_commits(self, flight: InFlight, durability: Durability) -> None:
        """Until the engine answers: a write may commit more than once (the oplog's entry too)."""
        while self.inflight is flight and not self.closed:
            await durability.release_commits()
            await asyncio.sleep(_RELEASE_EVERY_S)

    def _admit(self, request: Request) -> Forward | None:
        """What to send to the engine for this request (None: answered here), and the auth attempt."""
        gateway = self.gateway
        command = request.command
        if request.legacy and (
            command not in LEGACY_COMMANDS or not (request.legacy_collection or "").endswith(".$cmd")
        ):
            raise Refusal(
                ErrorCode.UnsupportedOpQueryCommand,
                f"Unsupported OP_QUERY command: {command}. The client driver may require an upgrade.",
            )
        gateway.guard.check(request, self.identity)
        if command in WRITE_COMMANDS and not gateway.topology.writable:
            raise Refusal(ErrorCode.NotWritablePrimary, "not primary", labels=("RetryableWriteError",))
        screen(request)  # what the engine cannot take would cost the connection: refused here
        if gateway.config.kill_op_rules and self.info is not None:
            self._check_kill_rules(request)
        if gateway.roles is not None and self.identity.authenticated and command not in _UNCHECKED:
            handled = self._authorize(request, gateway.roles)
            if handled is not None:
                if handled.reply is not None:
                    self._answer(request, handled.reply)
                    return None
                data = request.data if handled.body is None else with_new_body(request, handled.body)
                return Forward(data, after=handled.after)
        if command in LOCAL_COMMANDS:
            self._answer(request, local_reply(command, gateway.topology))
            return None
        if command == "fsync":
            self._answer(request, fsync_reply(request.body))
            return None
        if command in HELLO_COMMANDS and "speculativeAuthenticate" in request.body:
            return self._admit_speculative(request)
        if command == "saslStart":
            return Forward(request.data, gateway.guard.sasl_start(request))
        return Forward(request.data)

    def _authorize(self, request: Request, roles: RolesStore) -> Handled | None:
        """Refuse what the user's roles do not allow; user and role commands get their own handling."""
        auth = roles.current()
        user, db = self.identity.user, self.identity.db
        grants = auth.grants(db or "", user or "")
        authorize.check(request, grants, user, db)
        command = request.command
        if command == "connectionStatus":
            show = request.body.get("showPrivileges") in (True, 1)
            return Handled(reply=connection_status(auth, user, db, show))
        if command == "listDatabases" and not grants.allows("listDatabases", None):
            return Handled(after=lambda reply: _visible_databases(reply, grants))
        admin = self.gateway.user_admin
        return admin.handle(request) if admin is not None else None

    def _check_kill_rules(self, request: Request) -> None:
        """Refuse an operation a kill-op rule's `max_concurrency` does not leave room for."""
        assert self.info is not None
        op_type = operation_type(request.command)
        db, namespace, ip = request.db, request.namespace, self.info.ip
        running = self.gateway.stats.operations.values()
        for rule in self.gateway.config.kill_op_rules:
            if not rule.max_concurrency or not rule.matches(op_type, db, namespace, ip):
                continue
            busy = sum(1 for op in running if rule.matches(op.op_type, op.db, op.namespace, op.ip))
            if busy >= rule.max_concurrency:
                raise Refusal(
                    ErrorCode.Interrupted,
                    f"operation was interrupted: killOp rule {rule.id} allows at most {rule.max_concurrency} "
                    f"concurrent {op_type} operation(s) on {namespace or db}",
                )

    def _admit_speculative(self, request: Request) -> Forward:
        """A hello that starts authentication (`speculativeAuthenticate`, what pymongo sends).

        The engine honours it only on OP_QUERY. On OP_MSG the gateway strips it, and after the
        hello runs it as a plain saslStart on the same engine connection, merging the result
        into the hello reply: the driver saves a round trip as with MongoDB. A protected user's
        attempt is stripped and not run: the driver falls back to saslStart, which is refused.
        """
        attempt, refusal = self.gateway.guard.speculative(request)
        if attempt is not None and request.legacy:
            return Forward(request.data, attempt)
        doc = request.body.decode()
        spec = doc.pop("speculativeAuthenticate")
        if attempt is None or refusal is not None:
            mechanism = spec.get("mechanism") if isinstance(spec, dict) else None
            mechanism = mechanism if isinstance(mechanism, str) else None
            subject = refusal.subject if refusal else None
            self.activity.authentication("refused", subject, request.db, mechanism, speculative=True)
            return Forward(with_new_body(request, doc))
        sasl_start = {k: v for k, v in spec.items() if k != "db"}
        sasl_start["$db"] = attempt.db
        return Forward(with_new_body(request, doc), attempt, build_op_msg(sasl_start, 0))

    def _awaits_topology_change(self, request: Request) -> bool:
        """An awaitable hello (drivers' streaming monitor) whose topologyVersion is still ours: it
        is answered when who is primary changes, or after maxAwaitTimeMS."""
        watch = self.gateway.topology.watch
        if watch is None or request.command not in HELLO_COMMANDS or "maxAwaitTimeMS" not in request.body:
            return False
        seen = request.body.decode().get("topologyVersion")
        return (
            isinstance(seen, dict)
            and seen.get("processId") == self.gateway.topology.process_id
            and seen.get("counter") == watch.changes
        )

    async def _hello_after_change(self, request: Request) -> None:
        watch = self.gateway.topology.watch
        assert watch is not None
        wait_ms = request.body.get("maxAwaitTimeMS")
        timeout = float(wait_ms) / 1000 if isinstance(wait_ms, int | float) and not isinstance(wait_ms, bool) else 10.0
        await watch.wait_change(watch.changes, min(max(timeout, 0.0), 60.0))
        if self.transport is None or self.transport.is_closing():
            return
        body = {k: v for k, v in request.body.decode().items() if k not in ("maxAwaitTimeMS", "topologyVersion")}
        self._handle_request(with_new_body(request, body))

    def _answer(self, request: Request, doc: dict[str, Any]) -> None:
        """A reply the gateway makes itself."""
        self.gateway.stats.commands += 1
        if not request.more_to_come and self.transport is not None:
            self.transport.write(reply_for(request, doc))

    # --- replies --------------------------------------------------------------------------

    def _handle_reply(self, data: bytes) -> None:
        flight = self.inflight
        if flight is None:
            raise ProtocolError("engine sent a message nobody asked for")
        self.inflight = None
        request = flight.request
        expected = (flight.followup or request).header.request_id
        reply = parse_reply(data)
        if reply.header.response_to != expected:
            raise ProtocolError(f"engine answered {reply.header.response_to}, expected {expected}")
        if flight.speculation is not None and flight.followup is None and reply.ok and self.engine is not None:
            # The hello is answered; now the speculative saslStart, before the client hears anything.
            flight.hello = reply.body.decode()
            flight.followup = parse_request(flight.speculation)
            self.inflight = flight
            self.engine.write(flight.speculation)
            return
        if flight.wtimer is not None:
            flight.wtimer.cancel()
        if flight.followup is not None:
            out, ok = self._speculative_hello(flight, reply), True
        else:
            out, ok = self._reply_bytes(flight, reply), reply.ok
            if ok and flight.after is None:
                out = self._unsatisfiable(flight, reply, out)
        durability = self.gateway.durability
        if flight.concern is not None and ok and durability is not None and self.gateway.topology.writable:
            self.held = asyncio.get_running_loop().create_task(self._hold(flight, reply, durability))
            return
        self._deliver(flight, reply, out, ok)

    def _unsatisfiable(self, flight: InFlight, reply: Reply, out: bytes) -> bytes:
        """A write concern this set can never satisfy: the write's reply at once, with MongoDB's
        writeConcernError (a replica set only: a standalone refuses such a concern itself)."""
        topology = self.gateway.topology
        if topology.repl_set_name is None:
            return out
        request = flight.request
        error = unsatisfiable(request.command, request.body, len(topology.members) or 1, WRITE_COMMANDS)
        if error is None:
            return out
        flight.concern = None  # nothing to wait for
        doc = reply.body.decode()
        doc["writeConcernError"] = error
        return reply_for(request, doc, reply.header.request_id)

    async def _hold(self, flight: InFlight, reply: Reply, durability: Durability) -> None:
        """The reply once a standby that may be promoted has the write (or what the read saw); a
        write concern error once `wtimeout` passes or the member stops being the primary first."""
        concern = flight.concern
        assert concern is not None
        started = flight.started
        timeout = None if concern.timeout_s is None else max(0.0, concern.timeout_s - (time.perf_counter() - started))
        outcome = await durability.replicated(timeout, lambda: self.gateway.topology.writable)
        self.held = None
        if self.closed:
            return
        request = flight.request
        out = without_more_to_come(reply)
        if outcome is not Outcome.REPLICATED:
            doc = reply.body.decode()
            if concern.read:
                doc = error_document(
                    ErrorCode.InterruptedDueToReplStateChange,
                    "the member stopped being the primary before the read was majority-committed",
                )
            else:
                doc["writeConcernError"] = _write_concern_error(outcome)
                if outcome is Outcome.STEPPED_DOWN:
                    doc["errorLabels"] = ["RetryableWriteError"]
            out = reply_for(request, doc, reply.header.request_id)
        self._deliver(flight, reply, out, True)

    def _deliver(self, flight: InFlight, reply: Reply, out: bytes, ok: bool) -> None:
        request = flight.request
        elapsed_ms = (time.perf_counter() - flight.started) * 1000
        if not request.more_to_come and self.transport is not None:
            self.transport.write(out)
        gateway = self.gateway
        gateway.stats.end(flight.op)
        self._last_progress = time.monotonic()
        self.activity.replied(request, reply, ok, elapsed_ms, gateway.config.slow_ms)
        self._process()

    def _reply_bytes(self, flight: InFlight, reply: Reply) -> bytes:
        """The bytes the client gets: the engine's own, unless hello, SASL or usersInfo need a look."""
        request = flight.request
        command = request.command
        if not reply.ok and storage_restarting(reply.body.get_str("errmsg")):
            labels = ("RetryableWriteError",) if command in WRITE_COMMANDS else ()
            message = "the member is restarting (its storage refused the command); retry"
            return reply_for(
                request, error_document(ErrorCode.ShutdownInProgress, message, labels), reply.header.request_id
            )
        if flight.after is not None:
            doc = reply.body.decode()
            out = flight.after(doc)
            if command == "usersInfo":
                out = self.gateway.guard.filter_users_info(out if out is not None else doc) or out
            if out is not None:
                return reply_for(request, out, reply.header.request_id)
            return without_more_to_come(reply)
        if command in HELLO_COMMANDS:
            doc = reply.body.decode()
            self._observe_auth(command, flight.attempt, doc, request.db)
            if doc.get("ok") == 1:
                doc = rewrite_hello(doc, self.gateway.topology, self.info.id if self.info else 0)
                return reply_for(request, doc, reply.header.request_id)
        elif command in _SASL_COMMANDS:
            self._observe_auth(command, flight.attempt, reply.body.decode(), request.db)
        elif command == "usersInfo":  # not only when ok: a misread `ok` must not leak a user
            filtered = self.gateway.guard.filter_users_info(reply.body.decode())
            if filtered is not None:
                return reply_for(request, filtered, reply.header.request_id)
        return without_more_to_come(reply)

    def _speculative_hello(self, flight: InFlight, sasl_reply: Reply) -> bytes:
        """The hello reply with the gateway-run saslStart's result as `speculativeAuthenticate`."""
        sasl = sasl_reply.body.decode()
        self._observe_auth("saslStart", flight.attempt, sasl, flight.request.db)
        assert flight.hello is not None
        hello = dict(flight.hello)
        if sasl.get("ok") == 1:
            hello["speculativeAuthenticate"] = {k: v for k, v in sasl.items() if k != "ok"}
        hello = rewrite_hello(hello, self.gateway.topology, self.info.id if self.info else 0)
        return reply_for(flight.request, hello, sasl_reply.header.request_id)

    def _observe_auth(self, command: str, started: Attempt | None, doc: dict[str, Any], db: str | None) -> None:
        identity = self.identity
        attempt = started if command != "saslContinue" else identity.pending
        outcome = identity.observe(command, started, doc)
        if self.info is not None and self.info.user != identity.principal:
            self.info.user = identity.principal
            self.gateway.stats.dirty = True
        if outcome is AuthOutcome.SUCCEEDED:
            mechanism, speculative = (attempt.mechanism, attempt.speculative) if attempt else (None, False)
            self.activity.authentication("success", identity.user, identity.db, mechanism, speculative=speculative)
        elif outcome is AuthOutcome.FAILED:
            who = attempt.user if attempt else None
            db = attempt.db if attempt else db
            mechanism = attempt.mechanism if attempt else None
            self.activity.authentication("failure", who, db, mechanism, code=doc.get("code"))

    def _fail(self, flight: InFlight, code: ErrorCode, message: str) -> None:
        """Answer an in-flight request with an error the gateway makes (the engine's reply is not coming)."""
        request = flight.request
        if not request.more_to_come and self.transport is not None:
            self.transport.write(reply_for(request, error_document(code, message)))
        self.gateway.stats.end(flight.op)
        self._last_progress = time.monotonic()
        self.activity.failed(request, code, message, (time.perf_counter() - flight.started) * 1000)

    # --- closing --------------------------------------------------------------------------

    def _violation(self, exc: ProtocolError) -> None:
        """The client broke the protocol: log it and close, no reply."""
        self.gateway.stats.protocol_errors += 1
        self.activity.event("protocol_error", error=str(exc)[:200])
        self.close(abort=True)

    def _internal_error(self, exc: Exception) -> None:
        self.activity.event("internal_error", error=repr(exc)[:500], trace=traceback.format_exc(limit=8))
        self.close(abort=True)

    def _engine_violation(self, exc: ProtocolError) -> None:
        self.activity.event("engine_protocol_error", error=str(exc)[:200])
        self.close(abort=True)

    def _arm_partial_timer(self) -> None:
        if self._partial_timer is None:
            timeout = self.gateway.config.partial_message_timeout_s
            self._partial_timer = asyncio.get_running_loop().call_later(timeout, self._check_partial)

    def _check_partial(self) -> None:
        """Close a client that started a message and stopped sending (never hang on it)."""
        self._partial_timer = None
        if self.closed or not self.inbuf or self.inflight is not None or self._pause_reasons:
            return  # nothing pending on the client, or the wait is ours: _process re-arms
        timeout = self.gateway.config.partial_message_timeout_s
        idle = time.monotonic() - self._last_progress
        if idle >= timeout:
            self._violation(ProtocolError(f"incomplete message for {idle:.0f} s"))
        else:
            self._partial_timer = asyncio.get_running_loop().call_later(timeout - idle, self._check_partial)

    def _close_after_reply(self) -> None:
        """Close both sides once the replies written so far are out (abort if the client never reads them)."""
        transport = self.transport
        self.close()
        if transport is not None and transport.get_write_buffer_size():
            asyncio.get_running_loop().call_later(_FLUSH_TIMEOUT_S, transport.abort)

    def close(self, abort: bool = False) -> None:
        """Close both sides; statistics are released when the client transport reports the loss."""
        if self.closed:
            return
        self.closed = True
        if self.transport is not None:
            if abort:
                self.transport.abort()
            else:
                self.transport.close()
        self._release()

    def _release(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine, self.link = None, None
        if self._connect_task is not None and not self._connect_task.done():
            self._connect_task.cancel()
        if self._partial_timer is not None:
            self._partial_timer.cancel()
            self._partial_timer = None
        if self.inflight is not None:
            if self.inflight.wtimer is not None:
                self.inflight.wtimer.cancel()
            self.gateway.stats.end(self.inflight.op)
            self.inflight = None
        if self.held is not None:
            self.held.cancel()
            self.held = None
        if self.info is not None:
            self.gateway.stats.close(self.info)
            self.gateway.connections.discard(self)


def _write_concern_error(outcome: Outcome) -> dict[str, Any]:
    """MongoDB's writeConcernError: the write is kept on the primary but no standby confirmed it."""
    if outcome is Outcome.TIMED_OUT:
        code, message = ErrorCode.WriteConcernFailed, "waiting for replication timed out"
        return {"code": int(code), "codeName": code.name, "errmsg": message, "errInfo": {"wtimeout": True}}
    code, message = ErrorCode.PrimarySteppedDown, "the primary stepped down while waiting for replication"
    return {"code": int(code), "codeName": code.name, "errmsg": message}


def _visible_databases(reply: dict[str, Any], grants: Grants) -> dict[str, Any] | None:
    """listDatabases without the action: only the databases the user holds privileges in (as MongoDB)."""
    dbs = reply.get("databases")
    if reply.get("ok") != 1 or not isinstance(dbs, list):
        return None
    kept = [d for d in dbs if isinstance(d, dict) and grants.touches_db(str(d.get("name")))]
    out = {**reply, "databases": kept}
    if "totalSize" in out:
        out["totalSize"] = sum(int(d.get("sizeOnDisk", 0) or 0) for d in kept)
    return out
