"""Turns a request's credentials into a project id, cheaply.

Validated tokens and access keys are cached for `auth_cache_seconds` so the
common path is a dictionary lookup plus (for AK/SK) one HMAC; expiry is still
checked against the clock on every request. A revoked token or disabled key
stops working within the cache period (at once in the process that revoked it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dds.core.clock import Clock
from dds.core.errors import AuthenticationFailed, Forbidden, TokenExpired, Unauthorized
from dds.core.settings import Settings
from dds.db.identity import Token
from dds.db.session import Database
from dds.iam import directory, signature, tokens
from dds.iam.secrets import SecretBox

_MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class TokenInfo:
    user_id: str
    project_id: str
    issued: datetime
    expires: datetime


@dataclass(frozen=True)
class _Key:
    project_id: str
    secret: str


class Authenticator:
    """One per runtime; thread-safe."""

    def __init__(self, settings: Settings, db: Database, clock: Clock) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.box = SecretBox(settings.key_file)
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[TokenInfo, float]] = {}
        self._keys: dict[str, tuple[_Key, float]] = {}
        self._project_ids: dict[str, str] = {}

    def remember_project(self, name: str, lookup: Callable[[], str]) -> str:
        """A project's id by name, looked up once (project ids never change)."""
        found = self._project_ids.get(name)
        if found is None:
            found = self._project_ids.setdefault(name, lookup())
        return found

    def _fresh(self, stamp: float) -> bool:
        return time.monotonic() - stamp < self.settings.auth_cache_seconds

    def _remember(self, cache: dict[str, tuple[Any, float]], key: str, value: object) -> None:
        with self._lock:
            if len(cache) >= _MAX_ENTRIES:
                cache.clear()
            cache[key] = (value, time.monotonic())

    def token(self, token: str) -> TokenInfo:
        """The token's scope; Unauthorized if unknown or revoked, TokenExpired if past its expiry."""
        digest = tokens.digest(token)
        hit = self._tokens.get(digest)
        if hit and self._fresh(hit[1]):
            info = hit[0]
        else:
            with self.db.session() as s:
                row = s.get(Token, digest)
                if row is None:
                    raise Unauthorized()
                info = TokenInfo(row.user_id, row.project_id, row.issued, row.expires)
            self._remember(self._tokens, digest, info)
        if self.clock.now() >= info.expires:
            raise TokenExpired()
        return info

    def cached_token(self, token: str) -> TokenInfo | None:
        """The token's scope if a fresh cache entry holds it (no I/O: safe on the event loop)."""
        hit = self._tokens.get(tokens.digest(token))
        if hit and self._fresh(hit[1]) and self.clock.now() < hit[0].expires:
            return hit[0]
        return None

    def forget_token(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(tokens.digest(token), None)

    def _key(self, access_key: str) -> _Key:
        hit = self._keys.get(access_key)
        if hit and self._fresh(hit[1]):
            return hit[0]
        with self.db.session() as s:
            row = directory.access_key(s, access_key)
            if row is None or not row.enabled:
                raise AuthenticationFailed("Get secretKey failed,ak:******,err:ak not exist")
            key = _Key(row.project_id, self.box.open(row.secret_encrypted))
        self._remember(self._keys, access_key, key)
        return key

    def signed(self, req: signature.SignedRequest) -> str:
        """The project of a correctly signed request; AuthenticationFailed otherwise.

        `X-Project-Id`, when sent (the SDK always sends it), must name the
        key's project: a key grants one project only.
        """
        try:
            auth = signature.parse_authorization(req.headers.get("authorization", ""))
        except signature.SignatureError as e:
            raise AuthenticationFailed(e.reason) from None
        key = self._key(auth.access_key)
        try:
            signature.verify(req, auth, key.secret, self.clock.now())
        except signature.SignatureError as e:
            reason = (
                "verify aksk signature fail"
                if e.reason.startswith("verify")
                else (f"verify aksk signature fail, {e.reason}")
            )
            raise AuthenticationFailed(reason) from None
        claimed = req.headers.get("x-project-id")
        if claimed and claimed.strip() != key.project_id:
            raise Forbidden("The X-Project-Id header does not match the access key's project.")
        return key.project_id
