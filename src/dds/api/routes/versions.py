"""API versions (no authentication, as on the cloud)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dds.core.errors import NotFound

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


@router.get("/")
def list_api_versions() -> dict[str, Any]:
    return {"versions": _VERSIONS}


@router.get("/{version}")
def show_api_version(version: str) -> dict[str, Any]:
    for v in _VERSIONS:
        if v["id"] == version:
            return {"version": v}
    raise NotFound(f"The API version {version} does not exist.")
