"""Opaque bearer tokens: random, stored only as a SHA-256 digest with their expiry.

A random token is revocable (delete the row) and reveals nothing; the digest
means a leaked metadata database does not leak usable tokens. Validation is
one primary-key lookup, and `Authenticator` caches it briefly.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete
from sqlalchemy.orm import Session

from dds.db.identity import Token, User


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(s: Session, user: User, project_id: str, now: datetime, lifetime: timedelta) -> tuple[str, Token]:
    """A new token for `user` scoped to `project_id`; expired rows are pruned on the way."""
    s.execute(delete(Token).where(Token.expires < now))
    token = secrets.token_urlsafe(48)
    row = Token(digest=digest(token), user_id=user.id, project_id=project_id, issued=now, expires=now + lifetime)
    s.add(row)
    s.flush()
    return token, row


def find(s: Session, token: str) -> Token | None:
    return s.get(Token, digest(token))


def revoke(s: Session, token: str) -> bool:
    result = cast(CursorResult[Any], s.execute(delete(Token).where(Token.digest == digest(token))))
    return bool(result.rowcount)
