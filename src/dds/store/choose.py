"""The backup store named by settings."""

from __future__ import annotations

from dds.core.errors import InvalidParameter
from dds.core.settings import Settings
from dds.store.base import BackupStore
from dds.store.local import LocalStore
from dds.store.s3 import S3Store


def open_store(settings: Settings) -> BackupStore:
    """The store named by `DDS_BACKUP_STORE`."""
    if settings.backup_store == "local":
        return LocalStore(settings.backup_store_dir)
    if settings.backup_store == "s3":
        return S3Store(settings)
    raise InvalidParameter(f"Unknown backup store {settings.backup_store!r}: local or s3.")
