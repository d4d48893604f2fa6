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


def catalog(parts: PartsDep, project_id: str | None) -> list[dict[str, Any]]:
    """Identity and DDS both point at this service. As on the cloud, the DDS endpoints carry the
    project id (`.../v3/<project_id>`): the Go SDK (Terraform) uses a catalog URL as it is, and
    otcextensions appends the project id only when the URL does not end with it already. A
    domain-scoped token's catalog has identity only."""
    base, region = parts.settings.api_url, parts.settings.region
    entries = [
        {
            "id": "identity",
            "type": "identity",
            "name": "iam",
            "endpoints": [_endpoint(f"{base}/identity/v3", region, "identity")],
        }
    ]
    if project_id:
        dds = f"{base}/v3/{project_id}"
        entries += [
            {"id": "ddsv3", "type": "ddsv3", "name": "dds", "endpoints": [_endpoint(dds, region, "ddsv3")]},
            {"id": "dds", "type": "dds", "name": "dds", "endpoints": [_endpoint(dds, region, "dds")]},
        ]
    return entries


def _domain(parts: PartsDep) -> dict[str, str]:
    return {"id": parts.settings.identity_domain.lower(), "name": parts.settings.identity_domain}


def _token_body(parts: PartsDep, issued: iam.IssuedToken, with_catalog: bool) -> dict[str, Any]:
    domain = _domain(parts)
    body: dict[str, Any] = {
        "methods": issued.methods,
        "expires_at": issued.info.expires.strftime(_STAMP),
        "issued_at": issued.info.issued.strftime(_STAMP),
        "user": {"id": issued.user.id, "name": issued.user.name, "domain": domain, "password_expires_at": ""},
        "roles": [{"id": "member", "name": "member"}],
    }
    if issued.project is None:
        body["domain"] = domain
    else:
        body["project"] = {"id": issued.project.id, "name": issued.project.name, "domain": domain}
    if with_catalog:
        body["catalog"] = catalog(parts, issued.project.id if issued.project else None)
    return {"token": body}


@router.post("/v3/auth/tokens", status_code=201)
@router.post("/v3.1/auth/tokens", status_code=201, include_in_schema=False)
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
@router.get("/v3.1/auth/tokens", include_in_schema=False)
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
@router.delete("/v3.1/auth/tokens", status_code=204, include_in_schema=False)
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


def _project(parts: PartsDep, p: Any) -> dict[str, Any]:
    base = parts.settings.api_url
    return {
        "id": p.id,
        "name": p.name,
        "domain_id": _domain(parts)["id"],
        "description": "",
        "enabled": True,
        "is_domain": False,
        "parent_id": _domain(parts)["id"],
        "links": {"self": f"{base}/v3/projects/{p.id}"},
    }


@router.get("/v3/projects")
@router.get("/v3/auth/projects", include_in_schema=False)
@router.get("/identity/v3/projects", include_in_schema=False)
@router.get("/identity/v3/auth/projects", include_in_schema=False)
def list_projects(request: Request, parts: PartsDep, name: str | None = None) -> dict[str, Any]:
    """IAM: the projects the credentials act for, so SDKs can find their project id."""
    found = iam.visible_projects(parts, request, name)
    return {"projects": [_project(parts, p) for p in found], "links": {"self": str(request.url), "next": None}}


@router.get("/v3/auth/domains")
@router.get("/identity/v3/auth/domains", include_in_schema=False)
def list_domains(request: Request, parts: PartsDep) -> dict[str, Any]:
    """IAM: the one domain (global-service SDK credentials look its id up here)."""
    iam.visible_projects(parts, request)  # any valid credentials
    domain = {**_domain(parts), "enabled": True, "description": "", "links": {"self": str(request.url)}}
    return {"domains": [domain], "links": {"self": str(request.url), "next": None}}
