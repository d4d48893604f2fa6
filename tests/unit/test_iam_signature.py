"""SDK-HMAC-SHA256 verification against the Huawei SDK's own signer (pure, no server)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from dds.iam import signature as sig
from tests.iam_helpers import sdk_sign

AK, SK = "AKEXAMPLE", "SKEXAMPLE"
PROJECT = "0549b4a43100d4f32f51c01c2fe4acdb"
NOW = datetime(2024, 1, 1, 12, 0, 0)


def received(method: str, url: str, headers: dict[str, str], body: bytes) -> sig.SignedRequest:
    """What a server sees: the path and query as sent, lowercased header names, the raw body."""
    parts = urlsplit(url)
    return sig.SignedRequest(
        method, parts.path, sig.parse_query(parts.query), {k.lower(): v for k, v in headers.items()}, body
    )


def signed_request(
    method: str = "GET",
    url: str = f"https://dds.eu-de.otc.t-systems.com/v3/{PROJECT}/instances?limit=10&offset=0",
    body: Any = None,
    when: datetime = NOW,
    sk: str = SK,
) -> tuple[sig.SignedRequest, sig.Authorization]:
    full, headers, raw = sdk_sign(method, url, AK, sk, PROJECT, body=body, date=when)
    req = received(method, full, headers, raw)
    return req, sig.parse_authorization(req.headers["authorization"])


def test_worked_example_from_the_reference_notes() -> None:
    req, auth = signed_request()
    assert auth.signature == "0fc8de6e29e6144366026f09ec6ce63bf68f593a4a87b87943302343dc4aa45e"
    assert auth.signed_headers == ("content-type", "host", "x-project-id", "x-sdk-date")
    canonical = sig.canonical_request(req, auth.signed_headers)
    assert canonical.splitlines()[1] == f"/v3/{PROJECT}/instances/"
    assert sig.string_to_sign(canonical, "20240101T120000Z").endswith(
        "283b92e4cdb4f4580e1973a7741fe3c481c81131a93c5972866570469fc58b66"
    )
    sig.verify(req, auth, SK, NOW)


@pytest.mark.parametrize(
    "method,url,body",
    [
        ("POST", f"https://h:8443/v3/{PROJECT}/instances", {"name": "ünïcode-név", "flavor": [{"num": 1}]}),
        (
            "GET",
            f"http://127.0.0.1:8080/v3/{PROJECT}/backups?instance_id=abc&begin_time=2024-01-01%2010:00:00"
            "&end_time=2024-01-02%2010:00:00&limit=5",
            None,
        ),
        ("GET", f"http://h/v3/{PROJECT}/jobs?id=3711e2ad-5787&name=a~b*c%2Fd&id=zz", None),
        ("DELETE", f"http://h/v3/{PROJECT}/instances/abc%20def", None),
        ("PUT", f"http://h/v3.1/{PROJECT}/flavors/", {"x": "y" * 5000}),
    ],
)
def test_sdk_signed_requests_verify(method: str, url: str, body: Any) -> None:
    req, auth = signed_request(method, url, body)
    sig.verify(req, auth, SK, NOW)


def _replace(req: sig.SignedRequest, **changes: Any) -> sig.SignedRequest:
    return sig.SignedRequest(**{**req.__dict__, **changes})


def test_any_tampering_breaks_the_signature() -> None:
    req, auth = signed_request("POST", f"https://h/v3/{PROJECT}/instances?a=1", {"name": "one"})
    tampered = [
        _replace(req, method="PUT"),
        _replace(req, path=f"/v3/{PROJECT}/instances/other"),
        _replace(req, query=(("a", "2"),)),
        _replace(req, body=b'{"name": "two"}'),
        _replace(req, headers={**req.headers, "x-project-id": "f" * 32}),
    ]
    for bad in tampered:
        with pytest.raises(sig.SignatureError, match="verify aksk signature fail"):
            sig.verify(bad, auth, SK, NOW)
    flipped = auth.signature[:-1] + ("0" if auth.signature[-1] != "0" else "1")
    with pytest.raises(sig.SignatureError):
        sig.verify(req, sig.Authorization(auth.access_key, auth.signed_headers, flipped), SK, NOW)
    with pytest.raises(sig.SignatureError):
        sig.verify(req, auth, "SKWRONG", NOW)


def test_date_window_is_fifteen_minutes_both_ways() -> None:
    for skew, ok in [
        (timedelta(minutes=14), True),
        (-timedelta(minutes=14), True),
        (timedelta(minutes=16), False),
        (-timedelta(minutes=16), False),
        (timedelta(days=2), False),
    ]:
        req, auth = signed_request(when=NOW + skew)
        if ok:
            sig.verify(req, auth, SK, NOW)
        else:
            with pytest.raises(sig.SignatureError, match="window"):
                sig.verify(req, auth, SK, NOW)


def test_date_header_must_be_signed_and_present() -> None:
    req, auth = signed_request()
    unsigned_date = sig.Authorization(auth.access_key, ("content-type", "host"), auth.signature)
    with pytest.raises(sig.SignatureError, match="X-Sdk-Date must be a signed header"):
        sig.verify(req, unsigned_date, SK, NOW)
    headers = {k: v for k, v in req.headers.items() if k != "x-sdk-date"}
    with pytest.raises(sig.SignatureError):
        sig.verify(_replace(req, headers=headers), auth, SK, NOW)


@pytest.mark.parametrize(
    "value",
    [
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-sdk-date",
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=Host;x-sdk-date, Signature=00ff",
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=nothex",
        "Bearer abc",
    ],
)
def test_malformed_authorization_headers_are_refused(value: str) -> None:
    with pytest.raises(sig.SignatureError):
        sig.parse_authorization(value)
