"""Identifiers in the shapes DDS uses (32 hex characters plus a kind suffix)."""

from __future__ import annotations

import uuid


def instance_id() -> str:
    return uuid.uuid4().hex + "in02"


def node_id() -> str:
    return uuid.uuid4().hex + "no02"


def group_id() -> str:
    return uuid.uuid4().hex + "gr02"


def backup_id() -> str:
    return uuid.uuid4().hex + "br02"


def configuration_id() -> str:
    return uuid.uuid4().hex + "pr02"


def job_id() -> str:
    return str(uuid.uuid4())


def project_id() -> str:
    return uuid.uuid4().hex
