"""Per-instance settings the node gateways enforce: audit policy, client networks, kill-op rules.

Rows go with their instance (foreign key, ON DELETE CASCADE). TLS is `instances.ssl_option`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dds.db.models import Base


class ConnectionPolicy(Base):
    """One row per instance that changed a default (no row: audit off, every client admitted)."""

    __tablename__ = "connection_policies"

    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True)
    audit_keep_days: Mapped[int] = mapped_column(Integer, default=0)  # 0: auditing off (DDS)
    audit_types: Mapped[list[Any]] = mapped_column(default=list)
    audit_scope: Mapped[str] = mapped_column(String(1024), default="all")
    client_networks: Mapped[list[Any]] = mapped_column(default=list)


class KillOpRule(Base):
    """A DDS killOp rule; created DISABLED, enforced by the gateways while ENABLED."""

    __tablename__ = "kill_op_rules"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    operation_types: Mapped[list[Any]] = mapped_column(default=list)
    namespaces: Mapped[list[Any]] = mapped_column(default=list)
    client_ips: Mapped[list[Any]] = mapped_column(default=list)
    plan_summary: Mapped[str] = mapped_column(String(64), default="")
    max_concurrency: Mapped[int] = mapped_column(Integer, default=0)
    secs_running: Mapped[int] = mapped_column(Integer, default=0)
    node_type: Mapped[str] = mapped_column(String(32), default="replica")
    status: Mapped[str] = mapped_column(String(16), default="DISABLED")
    created: Mapped[datetime] = mapped_column(DateTime)
