"""Tokens and AK/SK over real HTTP: what authenticates, what answers 401, and that a refused request changes nothing."""

from __future__ import annotations

import hashlib
import logging
import stat
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from dds.db.identity import AccessKey, Token
from dds.db.models import Instance, Job
from tests.conftest import PASSWORD, Service
from tests.iam_helpers import Tenant, add_tenant, password_auth, sdk_sign, signed, start_own

CREATE = {
    "name": "authcheck",
    "datastore": {"type": "DDS-Community", "version": "4.0", "storage_engine": "wiredTiger"},
    "region": "local-1",
    "availability_zone": "local-1a",
    "vpc_id": "v",
    "subnet_id": "s",
    "security_group_id": "g",
    "password": PASSWORD,
    "mode": "Single",
    "flavor": [
        {
            "type": "single",
            "num": 1,
            "storage": "ULTRAHIGH",
            "size": "10",
            "spec_code": "dds.mongodb.s2.medium.4.single",
        }
    ],
}


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A service of our own: these tests move its clock."""
    svc, stop = start_own(tmp_path_factory, "dds-auth")
    yield svc
    stop()


@pytest.fixture(scope="module")
def alpha(own: Service) -> Tenant:
    return add_tenant(own, "alpha")


def counts(svc: Service) -> tuple[int, int, int]:
    with svc.parts.db.session() as s:
        return (
            s.scalar(select(func.count()).select_from(Instance)) or 0,
            s.scalar(select(func.count()).select_from(Job)) or 0,
            s.scalar(select(func.count()).select_from(Token)) or 0,
        )


def assert_401(r: httpx.Response, code: str) -> None:
    assert r.status_code == 401, r.text
    body = r.json()
    assert body["error_code"] == code and body["error_msg"], body


def test_password_token_round_trip(own: Service, alpha: Tenant) -> None:
    r = httpx.post(f"{own.url}/v3/auth/tokens", json=password_auth(alpha.user, alpha.password, alpha.project_name))
    assert r.status_code == 201, r.text
    token = r.headers["X-Subject-Token"]
    body = r.json()["token"]
    assert body["project"]["id"] == alpha.project_id and len(alpha.project_id) == 32
    int(alpha.project_id, 16)
    issued = datetime.strptime(body["issued_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    expires = datetime.strptime(body["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert expires - issued == timedelta(hours=24)
    services = {c["type"]: c["endpoints"][0]["url"] for c in body["catalog"]}
    assert services["ddsv3"] == services["dds"] == f"{own.url}/v3/{alpha.project_id}"  # as on the cloud
    assert services["identity"] == f"{own.url}/identity/v3"

    with httpx.Client(base_url=own.url, headers={"X-Auth-Token": token}) as c:
        assert c.get(alpha.path("/instances")).json() == {"instances": [], "total_count": 0}
        check = c.get("/v3/auth/tokens", headers={"X-Subject-Token": token})
        assert check.status_code == 200 and check.json()["token"]["project"]["name"] == alpha.project_name
        assert (
            c.post("/v3/auth/tokens?nocatalog=true", json=password_auth(alpha.user, alpha.password))
            .json()["token"]
            .get("catalog")
            is None
        )
        assert c.delete("/v3/auth/tokens", headers={"X-Subject-Token": token}).status_code == 204
        assert_401(c.get(alpha.path("/instances")), "DBS.280056")


def test_tokens_are_stored_only_as_digests(own: Service, alpha: Tenant) -> None:
    token = alpha.token()
    with own.parts.db.session() as s:
        rows = s.scalars(select(Token)).all()
        assert hashlib.sha256(token.encode()).hexdigest() in {t.digest for t in rows}
        assert all(token not in (t.digest, t.user_id) for t in rows)


@pytest.mark.parametrize(
    "body",
    [
        password_auth("alpha-user", "Wrong#Pass_1", "local-1_alpha"),
        password_auth("nobody", "Tenant#Pass_1", "local-1_alpha"),
        password_auth("alpha-user", "Tenant#Pass_1", "local-1_alpha", domain="Elsewhere"),
        password_auth("alpha-user", "Tenant#Pass_1", "local-1"),  # a project the user is not in
        {"auth": {"identity": {"methods": ["token"], "token": {"id": "x"}}}},
    ],
)
def test_bad_credentials_get_no_token(own: Service, alpha: Tenant, body: dict) -> None:  # type: ignore[type-arg]
    before = counts(own)
    r = httpx.post(f"{own.url}/v3/auth/tokens", json=body)
    assert_401(r, "APIGW.0301")
    assert r.json()["error"]["code"] == 401  # Keystone's shape too, for keystoneauth
    assert "X-Subject-Token" not in r.headers
    assert counts(own) == before


def test_malformed_token_request_is_400(own: Service) -> None:
    r = httpx.post(f"{own.url}/v3/auth/tokens", json={"auth": {"scope": {}}})
    assert r.status_code == 400 and r.json()["error_code"] == "DBS.200001"


def test_missing_or_unknown_credentials_are_401(own: Service, alpha: Tenant) -> None:
    before = counts(own)
    r = httpx.post(f"{own.url}{alpha.path('/instances')}", json=CREATE)
    assert_401(r, "APIGW.0301")
    assert r.json()["error_msg"] == "Incorrect IAM authentication information: x-auth-token not found"
    assert_401(
        httpx.post(f"{own.url}{alpha.path('/instances')}", json=CREATE, headers={"X-Auth-Token": "not-a-token"}),
        "DBS.280056",
    )
    assert_401(httpx.get(f"{own.url}{alpha.path('/instances')}", headers={"Authorization": "Basic YTpi"}), "APIGW.0301")
    assert counts(own) == before


def test_aksk_signed_requests_authenticate(own: Service, alpha: Tenant) -> None:
    r = signed(alpha, "GET", "/instances?offset=0&limit=10")
    assert r.status_code == 200, r.text
    assert r.json() == {"instances": [], "total_count": 0}


def test_bad_signatures_are_401_and_change_nothing(own: Service, alpha: Tenant) -> None:
    before = counts(own)
    url = f"{own.url}{alpha.path('/instances')}"

    # Tampered: signed for one body, sent with another.
    full, headers, raw = sdk_sign(
        "POST", url, alpha.access_key, alpha.secret_key, alpha.project_id, body={**CREATE, "name": "innocent"}
    )
    r = httpx.post(full, headers=headers, content=raw.replace(b"innocent", b"attacker"))
    assert_401(r, "APIGW.0301")
    assert "verify aksk signature fail" in r.json()["error_msg"]

    # Tampered signature itself.
    _, headers, raw = sdk_sign("POST", url, alpha.access_key, alpha.secret_key, alpha.project_id, body=CREATE)
    headers["Authorization"] = headers["Authorization"][:-4] + "0000"
    assert_401(httpx.post(full, headers=headers, content=raw), "APIGW.0301")

    # Wrong secret, unknown access key.
    assert_401(signed(alpha, "POST", "/instances", body=CREATE, sk="S" * 40), "APIGW.0301")
    _, headers, raw = sdk_sign("POST", url, "NOSUCHACCESSKEY00000", alpha.secret_key, alpha.project_id, body=CREATE)
    r = httpx.post(url, headers=headers, content=raw)
    assert_401(r, "APIGW.0301")
    assert "ak not exist" in r.json()["error_msg"]

    # A correctly signed request, but 20 minutes old (a replay) or from the future.
    now = own.clock.now()
    for when in (now - timedelta(minutes=20), now + timedelta(minutes=20)):
        r = signed(alpha, "POST", "/instances", body=CREATE, date=when)
        assert_401(r, "APIGW.0301")
        assert "window" in r.json()["error_msg"]
    # ...while inside the window the same request would have been accepted (the test can fail).
    assert signed(alpha, "GET", "/instances", date=now - timedelta(minutes=10)).status_code == 200
    assert counts(own) == before


def test_access_key_grants_only_its_project(own: Service, alpha: Tenant) -> None:
    beta = add_tenant(own, "beta-x")
    url = f"{own.url}{alpha.path('/instances')}"
    full, headers, raw = sdk_sign("GET", url, beta.access_key, beta.secret_key, alpha.project_id)
    assert httpx.get(full, headers=headers).status_code == 403
    full, headers, raw = sdk_sign("GET", url, beta.access_key, beta.secret_key, beta.project_id)
    assert httpx.get(full, headers=headers).status_code == 403


def test_secrets_are_encrypted_at_rest_and_never_logged(
    own: Service, alpha: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    key_file = own.parts.settings.key_file
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with own.parts.db.session() as s:
        row = s.get(AccessKey, alpha.access_key)
        assert row is not None and alpha.secret_key.encode() not in row.secret_encrypted
    caplog.set_level(logging.DEBUG)
    signed(alpha, "GET", "/instances", sk="S" * 40)
    signed(alpha, "GET", "/instances")
    alpha.token()
    assert alpha.secret_key not in caplog.text and alpha.password not in caplog.text


def test_expired_token_is_401_and_changes_nothing(own: Service, alpha: Tenant) -> None:
    token = alpha.token()
    with httpx.Client(base_url=own.url, headers={"X-Auth-Token": token}) as c:
        assert c.get(alpha.path("/instances")).status_code == 200
        before = counts(own)
        own.clock.advance(timedelta(hours=24, seconds=1))
        try:
            r = c.post(alpha.path("/instances"), json=CREATE)
            assert_401(r, "DBS.280056")
            assert "expired" in r.json()["error_msg"]
            assert counts(own)[:2] == before[:2]
            fresh = alpha.token()  # a new token, issued on the moved clock, works
            assert httpx.get(f"{own.url}{alpha.path('/instances')}", headers={"X-Auth-Token": fresh}).status_code == 200
        finally:
            own.clock.advance(-timedelta(hours=24, seconds=1))


def test_dev_token_can_be_disabled(make_service) -> None:  # type: ignore[no-untyped-def]
    svc = make_service(dev_token="")
    r = httpx.get(f"{svc.url}{svc.path('/instances')}", headers={"X-Auth-Token": "dds-dev-token"})
    assert_401(r, "DBS.280056")
    r = httpx.get(f"{svc.url}{svc.path('/instances')}", headers={"X-Auth-Token": ""})
    assert_401(r, "APIGW.0301")
