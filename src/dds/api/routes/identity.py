"""Keystone v3 identity, embedded: tokens and version discovery.

Served at `/v3/auth/tokens` (the IAM path) and under `/identity` (`auth_url`
`http://host:port/identity/v3`), because `GET /v3` already answers the DDS API
version document and keystoneauth's discovery needs a Keystone one.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Request, Response

from dds.api.deps import PartsDep
from dds.api.schemas.identity import AuthBody
from dds.core.errors import AuthenticationFailed
from dds.services import iam

router = APIRouter(tags=["Identity (Keystone v3)"])

_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


def _endpoint(url: str, region: str, kind: str) -> dict[str, Any]:
    return {"id": f"{kind}-public", "interface": "public", "region": region, "region_id": region, "url": url}


def catalog(parts: PartsDep) -> list[dict[str, Any]]:
    """Identity and DDS both point at this service. otcextensions looks DDS up as `ddsv3`
    and appends the project id itself, so the DDS URL ends at `/v3`."""
    base, region = parts.settings.api_url, parts.settings.region
    return [
        {
            "id": "identity",
            "type": "identity",
            "name": "iam",
            "endpoints": [_endpoint(f"{base}/identity/v3", region, "identity")],
        },
        {"id": "ddsv3", "type": "ddsv3", "name": "dds", "endpoints": [_endpoint(f"{base}/v3", region, "ddsv3")]},
        {"id": "dds", "type": "dds", "name": "dds", "endpoints": [_endpoint(f"{base}/v3", region, "dds")]},
    ]


def _token_body(parts: PartsDep, issued: iam.IssuedToken, with_catalog: bool) -> dict[str, Any]:
    domain = {"id": parts.settings.identity_domain.lower(), "name": parts.settings.identity_domain}
    body: dict[str, Any] = {
        "methods": issued.methods,
        "expires_at": issued.info.expires.strftime(_STAMP),
        "issued_at": issued.info.issued.strftime(_STAMP),
        "user": {"id": issued.user.id, "name": issued.user.name, "domain": domain, "password_expires_at": ""},
        "project": {"id": issued.project.id, "name": issued.project.name, "domain": domain},
        "roles": [{"id": "member", "name": "member"}],
    }
    if with_catalog:
        body["catalog"] = catalog(parts)
    return {"token": body}


@router.post("/v3/auth/tokens", status_code=201)
@router.post("/identity/v3/auth/tokens", status_code=201, include_in_schema=False)
def create_token(body: AuthBody, parts: PartsDep, response: Response, nocatalog: str | None = None) -> dict[str, Any]:
    issued = iam.issue_token(parts, body.auth)
    response.headers["X-Subject-Token"] = issued.token
    return _token_body(parts, issued, with_catalog=nocatalog not in ("true", "1", ""))


def _pair(x_auth_token: str | None, x_subject_token: str | None) -> tuple[str, str]:
    if not x_auth_token:
        raise AuthenticationFailed()
    return x_auth_token, x_subject_token or x_auth_token


@router.get("/v3/auth/tokens")
@router.get("/identity/v3/auth/tokens", include_in_schema=False)
def validate_token(
    parts: PartsDep,
    response: Response,
    x_auth_token: str | None = Header(None),
    x_subject_token: str | None = Header(None),
    nocatalog: str | None = None,
) -> dict[str, Any]:
    caller, subject = _pair(x_auth_token, x_subject_token)
    issued = iam.describe_token(parts, caller, subject)
    response.headers["X-Subject-Token"] = subject
    return _token_body(parts, issued, with_catalog=nocatalog not in ("true", "1", ""))


@router.delete("/v3/auth/tokens", status_code=204)
@router.delete("/identity/v3/auth/tokens", status_code=204, include_in_schema=False)
def revoke_token(
    parts: PartsDep, x_auth_token: str | None = Header(None), x_subject_token: str | None = Header(None)
) -> Response:
    iam.revoke_token(parts, *_pair(x_auth_token, x_subject_token))
    return Response(status_code=204)


def _v3(request: Request) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    return {
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": f"{base}/identity/v3/"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    }


@router.get("/identity")
@router.get("/identity/", include_in_schema=False)
def identity_versions(request: Request) -> dict[str, Any]:
    return {"versions": {"values": [_v3(request)]}}


@router.get("/identity/v3")
@router.get("/identity/v3/", include_in_schema=False)
def identity_version(request: Request) -> dict[str, Any]:
    return {"version": _v3(request)}
