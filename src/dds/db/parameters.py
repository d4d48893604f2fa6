"""Parameter templates, each instance's parameter values, and what changed when (DDS "histories").

Built-in templates are not rows: they are the catalog's defaults (`domain/parameters.py`).
An instance without a row runs on the defaults.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dds.db.models import Base


class Configuration(Base):
    """A tenant's parameter template: values that differ from the defaults of its version and node type."""

    __tablename__ = "configurations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    datastore_version: Mapped[str] = mapped_column(String(16))
    node_type: Mapped[str] = mapped_column(String(16))
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created: Mapped[datetime] = mapped_column(DateTime)
    updated: Mapped[datetime] = mapped_column(DateTime)


class InstanceParameters(Base):
    """The values an instance runs with (over the defaults), and the template last applied."""

    __tablename__ = "instance_parameters"

    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True)
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    configuration_id: Mapped[str] = mapped_column(String(64), default="")
    updated: Mapped[datetime] = mapped_column(DateTime)


class ParameterChange(Base):
    """One parameter changed in a template (`configuration_id`) or on an instance (`instance_id`)."""

    __tablename__ = "parameter_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    configuration_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    instance_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    parameter: Mapped[str] = mapped_column(String(128))
    old_value: Mapped[str] = mapped_column(Text, default="")
    new_value: Mapped[str] = mapped_column(Text, default="")
    changed_by: Mapped[str] = mapped_column(String(128), default="")
    changed_at: Mapped[datetime] = mapped_column(DateTime)
    applied: Mapped[bool] = mapped_column(Boolean, default=False)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, default=None)
    result: Mapped[str] = mapped_column(String(16), default="")


class ConfigurationApplication(Base):
    """A template applied to an instance: when, and whether it worked."""

    __tablename__ = "configuration_applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    configuration_id: Mapped[str] = mapped_column(String(64), index=True)
    project_id: Mapped[str] = mapped_column(String(32))
    instance_id: Mapped[str] = mapped_column(String(64))
    instance_name: Mapped[str] = mapped_column(String(64))
    applied_at: Mapped[datetime] = mapped_column(DateTime)
    result: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str] = mapped_column(Text, default="")
