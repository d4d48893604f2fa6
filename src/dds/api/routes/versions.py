"""API versions (no authentication, as on the cloud).

Each version carries a `self` link: the DDS document itself is unchanged for DDS clients, and
keystoneauth's version discovery can then use the service root or `/v3` as `auth_url`
(identity answers at `/v3/auth/tokens` and `/v3.1/auth/tokens`).

The one exception is the Go SDK (gophertelekomcloud/gophercloud, under Terraform): with the service
root as `auth_url` it reads `GET /` as Keystone's version list (`{"versions": {"values": [...]}}`)
and cannot parse the DDS list, so clients announcing themselves as `golangsdk`/`gophercloud` in
`User-Agent` get the identity document there. Every other client gets the DDS document.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from dds.api.deps import PartsDep
from dds.api.routes.identity import identity_versions
from dds.core.errors import NotFound
from dds.wire import models as w

router = APIRouter(tags=["API versions"])

_VERSIONS = (("v3", "2017-02-07T17:34:02Z"), ("v3.1", "2021-07-12T00:00:00Z"))


def _version(base: str, version: str, updated: str) -> dict[str, Any]:
    return {
        "id": version,
        "links": [{"href": f"{base}/{version}/", "rel": "self"}],
        "status": "CURRENT",
        "version": "",
        "min_version": "",
        "updated": updated,
    }


_KEYSTONE_DISCOVERING_CLIENTS = ("golangsdk", "gophercloud")


@router.get("/", response_model=w.ListApiVersionResponse)
async def list_api_version(request: Request, parts: PartsDep) -> w.ListApiVersionResponse | JSONResponse:
    agent = request.headers.get("user-agent", "").lower()
    if any(client in agent for client in _KEYSTONE_DISCOVERING_CLIENTS):
        return JSONResponse(identity_versions(request))
    base = parts.settings.api_url
    return w.ListApiVersionResponse.model_validate({"versions": [_version(base, *v) for v in _VERSIONS]})


@router.get("/{version}", response_model=w.ShowApiVersionResponse)
async def show_api_version(version: str, parts: PartsDep) -> w.ShowApiVersionResponse:
    for name, updated in _VERSIONS:
        if name == version:
            return w.ShowApiVersionResponse.model_validate({"version": _version(parts.settings.api_url, name, updated)})
    if re.fullmatch(r"v\d+(\.\d+)?", version):
        raise NotFound(f"The API version {version} does not exist.")
    raise NotFound("The requested URL was not found.")
