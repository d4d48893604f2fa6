"""Metadata rows. Domain names, not wire names: the API's views translate."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy import Enum as SQLEnum
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedColumn, mapped_column, relationship

from dds.domain.states import InstanceStatus, JobStatus, NodeStatus


def enum_column(enum: type[StrEnum], length: int, *, index: bool = False) -> MappedColumn[Any]:
    """A status column that reads back as its enum; stored as the plain string (no DDL change)."""
    return mapped_column(
        SQLEnum(
            enum,
            native_enum=False,
            create_constraint=False,
            length=length,
            values_callable=lambda members: [m.value for m in members],
        ),
        index=index,
    )


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime)


class Instance(Base):
    __tablename__ = "instances"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[InstanceStatus] = enum_column(InstanceStatus, 32)
    datastore_type: Mapped[str] = mapped_column(String(32))
    datastore_version: Mapped[str] = mapped_column(String(16))
    engine_version: Mapped[str] = mapped_column(String(32), default="")
    spec_code: Mapped[str] = mapped_column(String(64))
    storage_type: Mapped[str] = mapped_column(String(32))
    volume_gb: Mapped[int] = mapped_column(Integer)
    port: Mapped[int] = mapped_column(Integer)
    read_only: Mapped[bool] = mapped_column(default=False)
    remark: Mapped[str] = mapped_column(Text, default="")
    region: Mapped[str] = mapped_column(String(64))
    availability_zone: Mapped[str] = mapped_column(String(128))
    vpc_id: Mapped[str] = mapped_column(String(64), default="")
    subnet_id: Mapped[str] = mapped_column(String(64), default="")
    security_group_id: Mapped[str] = mapped_column(String(64), default="")
    ssl_option: Mapped[str] = mapped_column(String(4), default="0")
    backup_keep_days: Mapped[int] = mapped_column(Integer, default=7)
    backup_start_time: Mapped[str] = mapped_column(String(16), default="00:00-01:00")
    backup_period: Mapped[str] = mapped_column(String(32), default="1,2,3,4,5,6,7")
    incremental_backup: Mapped[bool] = mapped_column(default=False)  # continuous archiving for PITR
    # Where the engines keep documents: "sqlite" (a file per database, one node) or "postgresql"
    # (a server per member, streaming replication kept by pg_auto_failover; fleet/members.py).
    storage: Mapped[str] = mapped_column(String(16), default="sqlite", server_default="sqlite")
    monitor_port: Mapped[int | None] = mapped_column(Integer, nullable=True)  # pg_auto_failover's monitor
    tags: Mapped[list[Any]] = mapped_column(default=list)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created: Mapped[datetime] = mapped_column(DateTime)
    updated: Mapped[datetime] = mapped_column(DateTime)

    nodes: Mapped[list[Node]] = relationship(
        back_populates="instance", cascade="all, delete-orphan", order_by="Node.name"
    )


class Node(Base):
    """One node of an instance. `host`/`port` is the address clients are given; `engine_*`
    is where the engine itself listens. They are kept apart end to end: today the engine
    listens on the client address itself (`fleet.addresses`), and a gateway in front will
    take the client address over without any change to the API."""

    __tablename__ = "nodes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[NodeStatus] = enum_column(NodeStatus, 32)
    host: Mapped[str] = mapped_column(String(64))
    port: Mapped[int] = mapped_column(Integer)
    engine_host: Mapped[str] = mapped_column(String(64))
    engine_port: Mapped[int] = mapped_column(Integer)
    debug_port: Mapped[int] = mapped_column(Integer)
    storage_port: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the member's PostgreSQL
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    restarts: Mapped[int] = mapped_column(Integer, default=0)

    instance: Mapped[Instance] = relationship(back_populates="nodes")


class Job(Base):
    """A durable unit of work; `step` counts the steps already done so a
    resumed job continues where it stopped."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(64))
    instance_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    instance_name: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[JobStatus] = enum_column(JobStatus, 16, index=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    step: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    heartbeat: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    fail_reason: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[datetime] = mapped_column(DateTime, index=True)
    ended: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
