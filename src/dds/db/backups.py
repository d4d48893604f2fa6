"""Backup rows. A row outlives its instance (manual backups are kept), so it copies
what a restore needs to know about the source: mode, version and volume."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from dds.db.models import Base, enum_column
from dds.domain.states import BackupStatus, BackupType


class Backup(Base):
    __tablename__ = "backups"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(32), index=True)
    instance_id: Mapped[str] = mapped_column(String(64), index=True)
    instance_name: Mapped[str] = mapped_column(String(64))
    instance_mode: Mapped[str] = mapped_column(String(16))
    datastore_type: Mapped[str] = mapped_column(String(32))
    datastore_version: Mapped[str] = mapped_column(String(16))
    volume_gb: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[BackupType] = enum_column(BackupType, 16)
    status: Mapped[BackupStatus] = enum_column(BackupStatus, 16, index=True)
    store: Mapped[str] = mapped_column(String(16))  # the store the archive went to
    object_key: Mapped[str] = mapped_column(String(255))
    file_name: Mapped[str] = mapped_column(String(128))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    manifest: Mapped[dict[str, Any]] = mapped_column(default=dict)
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # automated: window start
    begin_time: Mapped[datetime] = mapped_column(DateTime, index=True)
    end_time: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Set by a stop request (PUT /backups/{id}); the backup job checks it while it works.
    stop_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The portable mongodump-layout export, made in the background after the backup completed:
    # its key is named with the backup (so a delete never misses it); its size is set once stored.
    export_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    export_file_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    export_size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    export_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)

    def object_keys(self) -> list[str]:
        """Every object of this backup in the store."""
        return [self.object_key, *([self.export_key] if self.export_key else [])]


class DownloadPolicy(Base):
    """A project's backup download switch (DDS: one policy per project; no row = open)."""

    __tablename__ = "backup_download_policies"

    project_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    action: Mapped[str] = mapped_column(String(8))  # "open" | "close"
    updated: Mapped[datetime] = mapped_column(DateTime)
