"""Identity helpers for tests: tenants with real credentials, and requests signed by the SDK's own signer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from dds.iam import directory
from dds.services import iam


@dataclass(frozen=True)
class Tenant:
    """A project with an AK/SK pair and a password user, created in the service's own store."""

    url: str
    project_id: str
    project_name: str
    access_key: str
    secret_key: str
    user: str
    password: str

    def token(self) -> str:
        r = httpx.post(f"{self.url}/v3/auth/tokens", json=password_auth(self.user, self.password, self.project_name))
        assert r.status_code == 201, r.text
        return r.headers["X-Subject-Token"]

    def token_client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-Auth-Token": self.token()}, timeout=60)

    def path(self, rest: str) -> str:
        return f"/v3/{self.project_id}{rest}"


def add_tenant(service: Any, name: str, password: str = "Tenant#Pass_1") -> Tenant:
    """A project `<region>_<name>` (project names carry the region, as on the cloud) with an AK/SK
    pair and a password user `<name>-user`."""
    rt = service.parts
    project_name = f"{rt.settings.region}_{name}"
    with rt.db.session() as s:
        project = directory.ensure_project(s, project_name, rt.clock.now(), rt.settings.region)
        cred = directory.create_access_key(s, iam.authenticator(rt).box, project, rt.clock.now())
        directory.set_user(s, project, f"{name}-user", password, rt.clock.now())
    return Tenant(
        service.url, cred.project_id, project_name, cred.access_key, cred.secret_key, f"{name}-user", password
    )


def password_auth(user: str, password: str, project: str | None = None, domain: str = "Default") -> dict[str, Any]:
    body: dict[str, Any] = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": user, "password": password, "domain": {"name": domain}}},
            }
        }
    }
    if project:
        body["auth"]["scope"] = {"project": {"name": project}}
    return body


def sdk_sign(
    method: str, url: str, ak: str, sk: str, project_id: str | None, *, body: Any = None, date: datetime | None = None
) -> tuple[str, dict[str, str], bytes]:
    """Sign like `huaweicloudsdkdds` does (BasicCredentials + Signer); returns (url, headers, body)."""
    parts = urlsplit(url)
    query = [tuple(p.split("=", 1)) for p in parts.query.split("&") if p]
    headers = {"Content-Type": "application/json"}
    if date is not None:
        headers["X-Sdk-Date"] = date.strftime("%Y%m%dT%H%M%SZ")
    if project_id:
        headers["X-Project-Id"] = project_id
    raw = json.dumps(body).encode() if body is not None else b""
    req = SdkRequest(
        method=method,
        schema=parts.scheme,
        host=parts.netloc,
        resource_path=parts.path,
        query_params=query,
        header_params=headers,
        body=raw,
    )
    Signer(BasicCredentials(ak, sk, project_id)).sign(req)
    full = f"{parts.scheme}://{parts.netloc}{req.uri}"
    return full, dict(req.header_params), raw


def signed(
    tenant: Tenant, method: str, rest: str, *, body: Any = None, sk: str | None = None, date: datetime | None = None
) -> httpx.Response:
    url, headers, raw = sdk_sign(
        method,
        f"{tenant.url}{tenant.path(rest)}",
        tenant.access_key,
        sk or tenant.secret_key,
        tenant.project_id,
        body=body,
        date=date,
    )
    return httpx.request(method, url, headers=headers, content=raw or None, timeout=60)


def start_own(tmp_path_factory: Any, name: str, **overrides: Any) -> tuple[Any, Any]:
    """A service of a test module's own (its clock may be moved without disturbing others)."""
    from tests import conftest

    return conftest.run_service(conftest.test_settings(tmp_path_factory.mktemp(name), **overrides))


def delete_instance(tenant: Tenant, instance_id: str, timeout: float = 90) -> None:
    """Clean-up through the tenant's own token (the dev token belongs to the demo project)."""
    import time

    with tenant.token_client() as c:
        r = c.delete(tenant.path(f"/instances/{instance_id}"))
        if r.status_code == 404:
            return
        assert r.status_code == 202, r.text
        deadline = time.monotonic() + timeout
        while c.get(tenant.path("/jobs"), params={"id": r.json()["job_id"]}).json()["job"]["status"] == "Running":
            assert time.monotonic() < deadline, "delete job still running"
            time.sleep(0.1)
