"""Errors of the gateway, and the MongoDB error codes it answers with."""

from __future__ import annotations

from enum import IntEnum


class ConfigError(ValueError):
    """A configuration file that cannot be used; names the culprit field."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"gateway config field {field_name!r}: {message}")
        self.field_name = field_name


class ProtocolError(Exception):
    """The peer broke the wire protocol; the only answer is to close the connection."""


class ErrorCode(IntEnum):
    """MongoDB server error codes the gateway itself replies with (names are MongoDB's codeName)."""

    InternalError = 1
    BadValue = 2
    UserNotFound = 11
    Unauthorized = 13
    AuthenticationFailed = 18
    InvalidBSON = 22
    RoleNotFound = 31
    InvalidRoleModification = 49
    CommandNotFound = 59
    Interrupted = 11601
    NoReplicationEnabled = 76
    ShutdownInProgress = 91
    WriteConcernFailed = 64
    UnknownReplWriteConcern = 79
    UnsatisfiableWriteConcern = 100
    PrimarySteppedDown = 189
    InterruptedDueToReplStateChange = 11602
    NotWritablePrimary = 10107
    NotImplemented = 238
    UnsupportedOpQueryCommand = 352
    DuplicateKey = 11000


class Refusal(Exception):
    """A command the gateway answers with an error instead of forwarding it."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        audit: bool = False,
        subject: str | None = None,
        labels: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.labels = labels  # MongoDB's errorLabels (e.g. RetryableWriteError: drivers retry)
        self.audit = audit  # a protection rule fired: worth an audit record, not just an error line
        self.subject = subject  # the user name an authentication attempt claimed, when known


# What the engine says when its member's PostgreSQL server is restarting or shutting down
# (cannot_connect_now, admin_shutdown) or not listening yet: the command never ran.
_STORAGE_RESTARTING = ("(SQLSTATE 57P03)", "(SQLSTATE 57P01)", "failed to connect to `")


def storage_restarting(errmsg: object) -> bool:
    """An engine error that means "this member is restarting", which MongoDB answers with
    ShutdownInProgress: drivers then mark the member unknown and retry elsewhere, where an
    InternalError (even in the handshake's hello) fails the application's operation."""
    return isinstance(errmsg, str) and any(marker in errmsg for marker in _STORAGE_RESTARTING)
