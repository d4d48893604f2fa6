"""SDK-HMAC-SHA256 request signatures, verified the way the Huawei SDK signs them.

Pure functions (no database, no clock of their own) so the scheme can be
tested against `huaweicloudsdkcore.signer.signer.Signer` directly. The
algorithm is the SDK's, not AWS SigV4: the HMAC key is the raw secret key,
there is no key derivation, and the canonical URI always ends with `/`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, unquote, unquote_plus

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "x-sdk-date"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
CONTENT_HEADER = "x-sdk-content-sha256"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#: How far `X-Sdk-Date` may be from the server's clock (the cloud gateway's tolerance).
WINDOW = timedelta(minutes=15)

_AUTH = re.compile(
    r"^SDK-HMAC-SHA256\s+Access=(?P<ak>[^,\s]+)\s*,\s*SignedHeaders=(?P<signed>[^,\s]+)\s*,"
    r"\s*Signature=(?P<sig>[0-9a-fA-F]+)\s*$"
)


class SignatureError(Exception):
    """The request is not validly signed; `reason` is safe to show the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Authorization:
    """The parsed `Authorization` header."""

    access_key: str
    signed_headers: tuple[str, ...]
    signature: str


@dataclass(frozen=True)
class SignedRequest:
    """What the server received, in the raw form the signature covers.

    `headers` maps lowercased names to values as received; `query` is the
    decoded (key, value) pairs in any order.
    """

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]
    body: bytes


def is_signed(authorization: str | None) -> bool:
    return authorization is not None and authorization.lstrip().startswith(ALGORITHM + " ")


def parse_authorization(value: str) -> Authorization:
    match = _AUTH.match(value.strip())
    if not match:
        raise SignatureError("malformed Authorization header")
    signed = tuple(match["signed"].split(";"))
    if any(not h or h != h.lower() for h in signed):
        raise SignatureError("malformed SignedHeaders")
    return Authorization(match["ak"], signed, match["sig"].lower())


def parse_query(raw: str) -> tuple[tuple[str, str], ...]:
    """Query string to decoded pairs, keeping repeated keys and empty values."""
    pairs = []
    for part in raw.split("&") if raw else ():
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote_plus(key), unquote_plus(value)))
    return tuple(pairs)


def _encode(value: str) -> str:
    return quote(value, safe="~")


def canonical_uri(path: str) -> str:
    uri = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(pairs))


def _header_value(raw: str) -> str:
    # The SDK sends UTF-8 bytes; HTTP servers hand headers over as latin-1 text.
    try:
        return raw.encode("latin-1").decode("utf-8").strip()
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw.strip()


def canonical_request(req: SignedRequest, signed_headers: Iterable[str]) -> str:
    names = list(signed_headers)
    missing = [h for h in names if h not in req.headers]
    if missing:
        raise SignatureError(f"signed header {missing[0]} is missing")
    headers = "".join(f"{h}:{_header_value(req.headers[h])}\n" for h in names)
    if not req.body:
        payload = EMPTY_SHA256
    else:
        payload = req.headers.get(CONTENT_HEADER) or hashlib.sha256(req.body).hexdigest()
    return "\n".join(
        [
            req.method.upper(),
            canonical_uri(req.path),
            canonical_query(req.query),
            headers,
            ";".join(names),
            payload,
        ]
    )


def string_to_sign(canonical: str, date: str) -> str:
    return f"{ALGORITHM}\n{date}\n{hashlib.sha256(canonical.encode()).hexdigest()}"


def sign(string: str, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), string.encode(), hashlib.sha256).hexdigest()


def request_time(req: SignedRequest) -> datetime:
    raw = req.headers.get(DATE_HEADER)
    if not raw:
        raise SignatureError("X-Sdk-Date header is missing")
    try:
        return datetime.strptime(raw.strip(), DATE_FORMAT)
    except ValueError:
        raise SignatureError("X-Sdk-Date is not yyyyMMddTHHmmssZ") from None


def verify(req: SignedRequest, auth: Authorization, secret_key: str, now: datetime, window: timedelta = WINDOW) -> None:
    """Raise `SignatureError` unless `auth` signs `req` with `secret_key` at a time near `now`.

    `now` is a naive UTC datetime. The date header must itself be signed, or an
    old request could be replayed with a fresh date.
    """
    if DATE_HEADER not in auth.signed_headers:
        raise SignatureError("X-Sdk-Date must be a signed header")
    when = request_time(req)
    if abs(now - when) > window:
        raise SignatureError("request time is outside the allowed window")
    canonical = canonical_request(req, auth.signed_headers)
    expected = sign(string_to_sign(canonical, req.headers[DATE_HEADER].strip()), secret_key)
    if not hmac.compare_digest(expected, auth.signature):
        raise SignatureError("verify aksk signature fail")
