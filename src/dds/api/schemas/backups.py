"""Request bodies of the backup and restoration API group (DDS field names)."""

from __future__ import annotations

from typing import Any

from dds.api.schemas.instances import Wire


class CreateManualBackupBody(Wire):
    backup: dict[str, Any] | None = None


class BatchDeleteBackupBody(Wire):
    backup_ids: list[str] | None = None


class SetBackupPolicyBody(Wire):
    backup_policy: dict[str, Any] | None = None


class RestoreInstanceBody(Wire):
    source: dict[str, Any] | None = None
    target: dict[str, Any] | None = None
