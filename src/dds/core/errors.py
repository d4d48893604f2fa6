"""The one error tree: every failure a client can see is one of these.

Each class carries its DDS error code and HTTP status; `api.errors` renders
them as `{"error_code": ..., "error_msg": ...}`. Codes follow the DDS API
reference's error-code appendix.
"""

from __future__ import annotations

import uuid
from typing import Any


class DDSError(Exception):
    """Base of all client-visible errors."""

    code: str = "DBS.280005"
    status: int = 500
    message: str = "Internal error."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.message
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        """The response body; every error has `error_code` and `error_msg`."""
        return {"error_code": self.code, "error_msg": self.message}


class InvalidParameter(DDSError):
    """A request field is missing, malformed or out of range."""

    code = "DBS.200001"
    status = 400
    message = "Parameter error."


class InvalidPassword(InvalidParameter):
    code = "DBS.200052"
    message = (
        "The password must contain 8 to 32 characters and at least three of the following: "
        "uppercase letters, lowercase letters, digits, and special characters ~!@#%^*-_=+?"
    )


class InvalidName(InvalidParameter):
    code = "DBS.280234"
    message = "Invalid DB instance name."


class InvalidMode(InvalidParameter):
    code = "DBS.280342"
    message = "Invalid DB instance mode."


class InvalidNodeType(InvalidParameter):
    code = "DBS.280327"
    message = "Invalid node type."


class InvalidNodeNumber(InvalidParameter):
    code = "DBS.280123"
    message = "Invalid node number."


class InvalidSpecifications(InvalidParameter):
    code = "DBS.280239"
    message = "Invalid specifications."


class SpecificationsMatch(InvalidParameter):
    """Resize to the flavor the instance already has."""

    code = "DBS.280267"
    message = "Specifications not match."


class InvalidStorageType(InvalidParameter):
    code = "DBS.280241"
    message = "Invalid storage type."


class StorageNotMultipleOfTen(InvalidParameter):
    code = "DBS.200302"
    message = "The storage space must be a multiple of 10."


class StorageOutOfRange(InvalidParameter):
    code = "DBS.280242"
    message = "The storage space is out of range."


class InvalidStorageSize(InvalidParameter):
    code = "DBS.200306"
    message = "Invalid storage space."


class InvalidEngine(InvalidParameter):
    code = "DBS.280235"
    message = "Invalid DB engine."


class InvalidVersion(InvalidParameter):
    code = "DBS.280236"
    message = "Invalid database version."


class InvalidUsername(InvalidParameter):
    code = "DBS.280292"
    message = "Invalid username."


class InvalidCredentials(InvalidParameter):
    code = "DBS.200029"
    message = "Invalid username and password."


class InvalidParameterValue(InvalidParameter):
    code = "DBS.212017"
    message = "Invalid parameter."


class InvalidConfigurationName(InvalidParameter):
    code = "DBS.212031"
    message = "Invalid parameter group name."


class InvalidConfigurationDescription(InvalidParameter):
    code = "DBS.212028"
    message = "Invalid parameter group description."


class ConfigurationNameExists(InvalidParameter):
    code = "DBS.212030"
    message = "The parameter group name already exists."


class ConfigurationNotFound(InvalidParameter):
    code = "DBS.212013"
    message = "This parameter group does not exist."


class ConfigurationNotPermitted(InvalidParameter):
    code = "DBS.212003"
    message = "This operation is not permitted."


class ConfigurationInUse(InvalidParameter):
    code = "DBS.212032"
    message = (
        "The operation cannot be performed because this parameter group is applied to one or more DB instance nodes."
    )


class InvalidBackupName(InvalidParameter):
    code = "DBS.280277"
    message = "Invalid backup name."


class InvalidBackupDescription(InvalidParameter):
    code = "DBS.280127"
    message = "Invalid backup description."


class InvalidRetention(InvalidParameter):
    code = "DBS.280214"
    message = "Invalid retention period."


class InvalidBackupPeriod(InvalidParameter):
    code = "DBS.280215"
    message = "Invalid backup period."


class InvalidBackupStartTime(InvalidParameter):
    code = "DBS.280216"
    message = "Invalid backup start time."


class InvalidOffset(InvalidParameter):
    code = "DBS.280440"
    message = "Invalid offset."


class InvalidLimit(InvalidParameter):
    code = "DBS.280439"
    message = "Invalid query limit."


class Unsupported(DDSError):
    """The request is valid DDS but the bundled engine cannot do it."""

    code = "DBS.280342"
    status = 400
    message = "This operation is not supported by the bundled engine."


class Unauthorized(DDSError):
    """A token that is unknown, revoked or expired (DDS's own 401)."""

    code = "DBS.280056"
    status = 401
    message = "Invalid token."


class TokenExpired(Unauthorized):
    message = "Invalid token: the token has expired."


class AuthenticationFailed(Unauthorized):
    """Missing credentials or a bad AK/SK signature.

    On the cloud the API gateway rejects these before DDS sees them, with
    APIGW.0301 and an "Incorrect IAM authentication information: ..." message
    and a request id; clients see the same here.
    """

    code = "APIGW.0301"
    message = "x-auth-token not found"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(f"Incorrect IAM authentication information: {message or self.message}")

    def body(self) -> dict[str, Any]:
        return {**super().body(), "request_id": uuid.uuid4().hex}


class IdentityUnauthorized(AuthenticationFailed):
    """POST /v3/auth/tokens refused: also carries Keystone's `error` object for keystoneauth."""

    message = "The username or password is wrong."

    def body(self) -> dict[str, Any]:
        keystone = {"code": 401, "title": "Unauthorized", "message": self.message}
        return {**super().body(), "error": keystone}


class Forbidden(DDSError):
    code = "DBS.280032"
    status = 403
    message = "The token does not grant access to this project."


class NotFound(DDSError):
    code = "DBS.280016"
    status = 404
    message = "The resource does not exist."


class InstanceNotFound(NotFound):
    code = "DBS.200002"
    message = "The DB instance does not exist."


class JobNotFound(NotFound):
    code = "DBS.280016"
    message = "The job does not exist."


class BackupNotFound(NotFound):
    # DDS documents this code as 400; we answer 404 so other projects' backups look absent.
    code = "DBS.201204"
    message = "The backup file does not exist."


class BackupInvalid(DDSError):
    """The backup exists but cannot be used for this (wrong type, state or project)."""

    code = "DBS.280124"
    status = 400
    message = "Invalid backup."


class BackupExists(DDSError):
    code = "DBS.201201"
    status = 400
    message = "The backup already exists."


class BackupRestoring(DDSError):
    code = "DBS.201319"
    status = 400
    message = "Deleting backup file is not allowed because a restoration task is currently in progress. Please wait."


class BackupCorrupt(DDSError):
    """A backup file failed its checksum or is missing; nothing was restored."""

    code = "DBS.280124"
    status = 400
    message = "The backup file is damaged or missing."


class BackupStopped(DDSError):
    """A backup job ended early because its backup was stopped (the job's fail reason)."""

    code = "DBS.280124"
    status = 400
    message = "The backup was stopped on request."


class BackupNotRunning(DDSError):
    """Only a backup in progress can be stopped."""

    code = "DBS.201202"
    status = 400
    message = "Operation cannot be executed in current state of the DB instance."


class DownloadClosed(DDSError):
    """The project's backup download policy is `close`."""

    code = "DBS.280032"
    status = 403
    message = "Permission denied: backup download is closed by the project's backup download policy."


class LinkRefused(DDSError):
    """A download link that expired, was altered, or belongs to another project."""

    code = "DBS.280032"
    status = 403
    message = "The download link is invalid or has expired."


class RestoreTimeOutOfRange(InvalidParameter):
    """A point-in-time restore at a time no restorable range covers (archiving off, lagging or broken)."""

    message = "The restoration time is not within any restorable time range of the instance."


class RangeNotSatisfiable(DDSError):
    code = "DBS.200001"
    status = 416
    message = "The requested range is not satisfiable."


class Conflict(DDSError):
    """The resource's state does not allow the action now."""

    code = "DBS.200011"
    status = 403
    message = "Operation cannot be executed in current state of the DB instance."


class BackupNotAllowed(DDSError):
    """The instance's state does not allow a backup now."""

    code = "DBS.201202"
    status = 400
    message = "Operation cannot be executed in current state of the DB instance."


class PortInUse(Conflict):
    code = "DBS.200001"
    status = 409
    message = "The port is already in use."


class QuotaExceeded(DDSError):
    code = "DBS.200046"
    status = 413
    message = "Insufficient quota."


class InternalError(DDSError):
    code = "DBS.280005"
    status = 500
    message = "Internal error. Try again later."


class EngineFilesDamaged(InternalError):
    """An engine file failed SQLite's structural check; nothing is backed up from it."""

    message = "The instance's data files are damaged."


class IllegalTransition(InternalError):
    """A status change the state tables do not allow: a bug, never a client's mistake."""


def error_table() -> list[tuple[type[DDSError], str, int, str]]:
    """The one table: every error type with its DDS error code, HTTP status and default message.

    Read from the classes themselves so it cannot drift from what is rendered;
    tests check it against the DDS API reference's error-code appendix.
    """
    seen: list[type[DDSError]] = []
    stack: list[type[DDSError]] = [DDSError]
    while stack:
        cls = stack.pop(0)
        if cls not in seen:
            seen.append(cls)
            stack.extend(cls.__subclasses__())
    return [(c, c.code, c.status, c.message) for c in seen]
