"""Signed, expiring download links for the local store (S3 presigns its own).

A link names project, backup and file and carries an expiry; the HMAC covers all
four, so changing any of them (or using it under another project) is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from dds.core.errors import LinkRefused

SECRET_FILE = "link.secret"


def load_secret(configured: str | None, data_dir: Path) -> bytes:
    """The configured secret, or one generated once into the data dir (0600)."""
    if configured:
        return configured.encode()
    path = data_dir / SECRET_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def epoch(ts: datetime) -> int:
    return int(ts.replace(tzinfo=UTC).timestamp())


def signature(secret: bytes, project_id: str, backup_id: str, name: str, expires: int) -> str:
    msg = f"{project_id}\n{backup_id}\n{name}\n{expires}".encode()
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()


def make_link(base_url: str, secret: bytes, project_id: str, backup_id: str, name: str, expires: datetime) -> str:
    exp = epoch(expires)
    sig = signature(secret, project_id, backup_id, name, exp)
    return f"{base_url}/backup-files/{quote(project_id)}/{quote(backup_id)}/{quote(name)}?expires={exp}&signature={sig}"


def check(secret: bytes, project_id: str, backup_id: str, name: str, expires: str, sig: str, now: datetime) -> None:
    """Raise LinkRefused (403) unless the link is intact and not expired."""
    try:
        exp = int(expires)
    except (TypeError, ValueError):
        raise LinkRefused() from None
    want = signature(secret, project_id, backup_id, name, exp)
    if not hmac.compare_digest(want, sig or ""):
        raise LinkRefused()
    if epoch(now) >= exp:
        raise LinkRefused("The download link has expired.")
