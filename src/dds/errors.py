"""The one error tree: every failure a client can see is one of these.

Each class carries its DDS error code and HTTP status; `api.errors` renders
them as `{"error_code": ..., "error_msg": ...}`. Codes follow the DDS API
reference's error-code appendix.
"""

from __future__ import annotations


class DDSError(Exception):
    """Base of all client-visible errors."""

    code: str = "DBS.280005"
    status: int = 500
    message: str = "Internal error."

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        self.message = message or self.message
        if code:
            self.code = code
        super().__init__(self.message)


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


class Unsupported(DDSError):
    """The request is valid DDS but the bundled engine cannot do it."""

    code = "DBS.280342"
    status = 400
    message = "This operation is not supported by the bundled engine."


class Unauthorized(DDSError):
    code = "DBS.280056"
    status = 401
    message = "Invalid token."


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
    code = "DBS.201204"
    message = "The backup file does not exist."


class Conflict(DDSError):
    """The resource's state does not allow the action now."""

    code = "DBS.200011"
    status = 403
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
