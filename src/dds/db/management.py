"""Project quotas, the recycle bin, auto-enlarge policies and scheduled (delayed) operations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dds.db.models import Base


class ProjectQuota(Base):
    """A project's limits where they differ from the settings' defaults."""

    __tablename__ = "project_quotas"

    project_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    instances: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    volume_gb: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    backups: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)


class RecyclePolicy(Base):
    __tablename__ = "recycle_policies"

    project_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    retention_days: Mapped[int] = mapped_column(Integer, default=7)


class RecycledInstance(Base):
    """A deleted instance kept as its last backup until `retained_until`."""

    __tablename__ = "recycled_instances"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the deleted instance's id
    project_id: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    datastore_version: Mapped[str] = mapped_column(String(16))
    backup_id: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(DateTime)
    deleted_at: Mapped[datetime] = mapped_column(DateTime)
    retained_until: Mapped[datetime] = mapped_column(DateTime)


class AutoEnlargePolicy(Base):
    """Grow the volume by `step` % when usage passes `threshold` %, up to `limit_gb`."""

    __tablename__ = "auto_enlarge_policies"

    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True)
    threshold: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer)
    limit_gb: Mapped[int] = mapped_column(Integer)


class ScheduledJob(Base):
    """An operation delayed to the instance's maintenance window."""

    __tablename__ = "scheduled_jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(32), index=True)
    instance_id: Mapped[str] = mapped_column(String(64), index=True)
    instance_name: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))  # the job kind it becomes (JobName)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16))  # Pending, Running, Completed, Failed, Canceled
    created: Mapped[datetime] = mapped_column(DateTime)
    not_before: Mapped[datetime] = mapped_column(DateTime)  # start of the window it waits for
    window_end: Mapped[datetime] = mapped_column(DateTime)
    job_id: Mapped[str] = mapped_column(String(64), default="")  # the real job, once started
