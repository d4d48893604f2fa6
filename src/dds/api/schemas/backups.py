"""Bodies of the backup group that the generated wire models lack (stop, download policy).

Field names and types as the DDS API reference and the Huawei SDK models give them."""

from __future__ import annotations

from dds.wire.base import Wire


class StopBackupRequestBody(Wire):
    action: str | None = None  # "stop"


class StopBackupResponse(Wire):
    job_id: str | None = None


class ListBackupDownloadPolicyResponse(Wire):
    id: str | None = None
    action: str | None = None  # "open" | "close"


class SaveBackupDownloadPolicyRequestBody(Wire):
    action: str | None = None


class UpdateBackupDownloadPolicyRequestBody(Wire):
    id: str | None = None
    action: str | None = None


class BackupDownloadPolicyChanged(Wire):
    """POST and PUT answer `{}`."""
