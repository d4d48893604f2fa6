"""API versions (no authentication, as on the cloud)."""

from __future__ import annotations

from fastapi import APIRouter

from dds.core.errors import NotFound
from dds.wire import models as w

router = APIRouter(tags=["API versions"])

_VERSIONS = [
    {"id": "v3", "links": [], "status": "CURRENT", "version": "", "min_version": "", "updated": "2017-02-07T17:34:02Z"},
    {
        "id": "v3.1",
        "links": [],
        "status": "CURRENT",
        "version": "",
        "min_version": "",
        "updated": "2021-07-12T00:00:00Z",
    },
]


@router.get("/", response_model=w.ListApiVersionResponse)
def list_api_version() -> w.ListApiVersionResponse:
    return w.ListApiVersionResponse.model_validate({"versions": _VERSIONS})


@router.get("/{version}", response_model=w.ShowApiVersionResponse)
def show_api_version(version: str) -> w.ShowApiVersionResponse:
    for v in _VERSIONS:
        if v["id"] == version:
            return w.ShowApiVersionResponse.model_validate({"version": v})
    raise NotFound(f"The API version {version} does not exist.")
