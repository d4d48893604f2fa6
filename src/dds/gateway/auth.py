"""Who is on a connection, and what the tenant may not do to the service's own user.

The engine authenticates (SCRAM passes through unchanged) but authorizes nothing: any
tenant user could read or drop the management user. The gateway learns the user name from
the SCRAM client-first message, trusts it only once the engine replies `done: true, ok: 1`,
and refuses the few commands that would expose or change a protected user.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dds.gateway.errors import ErrorCode, ProtocolError, Refusal
from dds.gateway.fields import ARRAY, Fields
from dds.gateway.wire import Request

HELLO_COMMANDS = frozenset({"hello", "isMaster", "ismaster"})
SASL_MECHANISMS = frozenset({"SCRAM-SHA-1", "SCRAM-SHA-256"})  # all the engine supports

# What MongoDB lets a client run before it authenticates.
UNAUTHENTICATED_COMMANDS = HELLO_COMMANDS | {
    "ping",
    "buildInfo",
    "buildinfo",
    "saslStart",
    "saslContinue",
    "getnonce",
    "logout",
    "endSessions",
    "whatsmyuri",
    "connectionStatus",
}
USER_COMMANDS = frozenset({"createUser", "updateUser", "dropUser", "grantRolesToUser", "revokeRolesFromUser"})
SYSTEM_USERS = "system.users"
# Fields (besides the command's own value) that name a collection or namespace.
_NAMESPACE_FIELDS = ("to", "toCollection", "collection", "viewOn")
# Aggregation stage fields that name another collection (not implemented by the engine today).
_PIPELINE_FIELDS = frozenset({"from", "coll", "into", "$out", "$merge", "$unionWith", "$lookup", "$graphLookup"})
_SCAN_DEPTH = 12


def _auth_failed(user: str | None = None) -> Refusal:
    # The same words the engine uses, so a refused user learns nothing more than a wrong password.
    return Refusal(ErrorCode.AuthenticationFailed, "Authentication failed.", audit=True, subject=user)


def _unauthorized(message: str) -> Refusal:
    return Refusal(ErrorCode.Unauthorized, message, audit=True)


def scram_user(payload: bytes) -> str:
    """The user name of a SCRAM client-first message `n,,n=<user>,r=<nonce>` (RFC 5802).

    Anything a driver would not send (channel binding, an authzid, reserved attributes,
    bad escapes) is refused rather than interpreted: the engine must not see a different
    user than the gateway did.
    """
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise _auth_failed() from None
    if not (text.startswith("n,,") or text.startswith("y,,")):
        raise _auth_failed()
    attributes = text[3:].split(",")
    if len(attributes) < 2 or not attributes[0].startswith("n=") or not attributes[1].startswith("r="):
        raise _auth_failed()
    escaped = attributes[0][2:]
    user = escaped.replace("=2C", ",").replace("=3D", "=")
    # Every '=' must have been one of the two escapes.
    if escaped.count("=") != (escaped.count("=2C") + escaped.count("=3D")) or not user:
        raise _auth_failed()
    return user


@dataclass(frozen=True, slots=True)
class Attempt:
    """An authentication the client has started: who, where, how."""

    user: str
    db: str
    mechanism: str
    speculative: bool = False  # started inside hello (`speculativeAuthenticate`)


class AuthOutcome(enum.Enum):
    """What an engine reply meant for the connection's identity."""

    SUCCEEDED = "success"  # engine said done: true, ok: 1
    FAILED = "failure"  # engine said ok: 0 to a SASL step


class Identity:
    """The authenticated user of one client connection, as learned from SASL replies."""

    __slots__ = ("authenticated", "user", "db", "pending")

    def __init__(self) -> None:
        self.authenticated = False
        self.user: str | None = None
        self.db: str | None = None
        self.pending: Attempt | None = None  # the conversation the engine is in the middle of

    @property
    def principal(self) -> str | None:
        """`user@db` for logs, None when not authenticated."""
        if not self.authenticated:
            return None
        return f"{self.user or '?'}@{self.db or '?'}"

    def observe(self, command: str, attempt: Attempt | None, reply: Mapping[str, Any]) -> AuthOutcome | None:
        """Update from the engine's reply to a hello/SASL/logout command; returns what happened."""
        ok = reply.get("ok") == 1
        if command in HELLO_COMMANDS:
            spec = reply.get("speculativeAuthenticate")
            if attempt is None or not ok or not isinstance(spec, Mapping):
                return None  # no speculative conversation: the driver falls back to saslStart
            self.pending = attempt
            return self._login() if spec.get("done") is True else None
        if command == "saslStart":
            if not ok:
                return AuthOutcome.FAILED
            self.pending = attempt
            return self._login() if reply.get("done") is True else None
        if command == "saslContinue":
            if not ok:
                return AuthOutcome.FAILED
            return self._login() if reply.get("done") is True else None
        if command == "logout" and ok:
            self.authenticated, self.user, self.db, self.pending = False, None, None, None
        return None

    def _login(self) -> AuthOutcome:
        attempt = self.pending
        self.authenticated = True
        self.user, self.db = (attempt.user, attempt.db) if attempt else (None, None)
        return AuthOutcome.SUCCEEDED


class Guard:
    """The gateway's rules for tenant commands, for one set of protected user names."""

    def __init__(self, protected_users: frozenset[str]) -> None:
        self.protected = protected_users

    def check(self, request: Request, identity: Identity) -> None:
        """Raise Refusal when the request must not reach the engine."""
        body = request.body
        command = request.command
        if body.duplicate is not None:
            # The engine takes the last of repeated keys; the gateway checks the first. Never both.
            raise Refusal(ErrorCode.BadValue, f"duplicate field {body.duplicate!r} in command")
        for seq in request.sequences:
            if seq.identifier in body:
                raise Refusal(ErrorCode.BadValue, f"document sequence {seq.identifier!r} repeats a command field")
        if not identity.authenticated and command not in UNAUTHENTICATED_COMMANDS:
            raise Refusal(ErrorCode.Unauthorized, f"Command {command} requires authentication")
        if command in USER_COMMANDS:
            if body.get_str(command) in self.protected:
                raise _unauthorized(f"not authorized to run {command} on a user managed by the service")
        elif command == "usersInfo":
            if body.get("showCredentials") not in (None, False, 0):
                raise _unauthorized("showCredentials is not allowed")
        elif command in ("dropAllUsersFromDatabase", "dropDatabase") and request.db == "admin":
            raise _unauthorized(f"not authorized to run {command} on admin")
        if self._touches_system_users(body, command):
            raise _unauthorized(f"not authorized on {SYSTEM_USERS}")

    def _touches_system_users(self, body: Fields, command: str) -> bool:
        if command == "explain":
            inner = body.sub("explain")
            if inner is None or inner.first is None:
                return False
            # Repeated keys inside: the engine would read the last one; treat as the worst case.
            return inner.duplicate is not None or self._touches_system_users(inner, inner.first)
        names = [body.get_str(command), *(body.get_str(f) for f in _NAMESPACE_FIELDS)]
        if any(name is not None and _is_system_users(name) for name in names):
            return True
        if command == "aggregate" and body.kind("pipeline") == ARRAY:
            return _pipeline_names_system_users(body.get("pipeline"), 0)
        return False

    def speculative(self, request: Request) -> tuple[Attempt | None, Refusal | None]:
        """(attempt, refusal) for a hello carrying `speculativeAuthenticate`.

        A refused attempt (protected user, unreadable payload) is to be stripped from the
        hello, not answered with an error: the driver then runs a normal saslStart, which
        `sasl_start` refuses, as MongoDB answers a failed speculation.
        """
        spec = request.body.sub("speculativeAuthenticate")
        if spec is None:
            return None, _auth_failed()
        try:
            return self._attempt(spec, spec.get_str("db"), speculative=True), None
        except Refusal as refusal:
            return None, refusal
        except ProtocolError:
            return None, _auth_failed()

    def sasl_start(self, request: Request) -> Attempt:
        """The attempt of a saslStart; refuses protected users and mechanisms it cannot read."""
        return self._attempt(request.body, request.db)

    def _attempt(self, body: Fields, db: str | None, speculative: bool = False) -> Attempt:
        if body.duplicate is not None or body.first != "saslStart":
            raise _auth_failed()
        mechanism = body.get_str("mechanism")
        payload = body.get("payload")
        if mechanism not in SASL_MECHANISMS or not isinstance(payload, bytes) or db is None:
            raise _auth_failed()
        user = scram_user(payload)
        if user in self.protected:
            raise _auth_failed(user)
        return Attempt(user=user, db=db, mechanism=mechanism, speculative=speculative)

    def filter_users_info(self, reply: dict[str, Any]) -> dict[str, Any] | None:
        """The usersInfo reply without protected users, or None when nothing had to go."""
        users = reply.get("users")
        if not isinstance(users, list):
            return None
        kept = [u for u in users if not (isinstance(u, Mapping) and u.get("user") in self.protected)]
        if len(kept) == len(users):
            return None
        return {**reply, "users": kept}


def _is_system_users(name: str) -> bool:
    # A NUL inside a name is no honest collection name; treat it as the worst case.
    return name == SYSTEM_USERS or name.endswith("." + SYSTEM_USERS) or "\x00" in name


def _pipeline_names_system_users(value: Any, depth: int) -> bool:
    """Any stage field that names another collection, at any depth, naming system.users."""
    if depth > _SCAN_DEPTH:
        return True  # deeper than any honest pipeline: refuse rather than guess
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in _PIPELINE_FIELDS and isinstance(item, str) and _is_system_users(item):
                return True
            if _pipeline_names_system_users(item, depth + 1):
                return True
    elif isinstance(value, list):
        return any(_pipeline_names_system_users(item, depth + 1) for item in value)
    return False
