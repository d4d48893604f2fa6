"""Secrets handed to processes and jobs through 0600 files, never job rows, argv or logs."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from dds.core.settings import Settings
from dds.fleet.layout import instance_dir

SERVICE_USER = "dds_service"  # the service's own engine user (backups, users, stats)
TENANT_ADMIN = "rwuser"  # the tenant's administrator, whose password the API sets
_SERVICE_SECRET = "service.secret"
_PENDING_PASSWORD = "pending.secret"  # the tenant's rwuser password until the create job used it


def write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)


def service_password(settings: Settings, instance_id: str) -> str:
    """The service user's password of this instance, made on first use."""
    path = instance_dir(settings, instance_id) / _SERVICE_SECRET
    if not path.exists():
        write_secret(path, secrets.token_urlsafe(24))
    return path.read_text()


def hand_over_password(settings: Settings, instance_id: str, password: str) -> None:
    """The API hands the tenant's initial password to the create job."""
    write_secret(instance_dir(settings, instance_id) / _PENDING_PASSWORD, password)


def pending_password(settings: Settings, instance_id: str) -> str:
    return (instance_dir(settings, instance_id) / _PENDING_PASSWORD).read_text()


def forget_password(settings: Settings, instance_id: str) -> None:
    (instance_dir(settings, instance_id) / _PENDING_PASSWORD).unlink(missing_ok=True)
