"""Database versions, specifications (flavors) and disk types."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dds.api import views
from dds.api.deps import PartsDep, ProjectDep
from dds.core.errors import InvalidEngine
from dds.domain import catalog
from dds.domain.rules import check_paging

router = APIRouter(tags=["Database specifications"])


def _engine(name: str | None) -> None:
    if name and name != catalog.DATASTORE:
        raise InvalidEngine(f"Invalid DB engine {name!r}.")


@router.get("/v3/{project_id}/datastores/{datastore_name}/versions")
def list_datastore_versions(datastore_name: str, _: ProjectDep) -> dict[str, Any]:
    _engine(datastore_name)
    return {"versions": list(catalog.VERSIONS)}


@router.get("/v3/{project_id}/flavors")
def list_flavors(
    _: ProjectDep, parts: PartsDep, region: str | None = None, engine_name: str | None = None
) -> dict[str, Any]:
    _engine(engine_name)
    az = parts.settings.availability_zone
    return {"flavors": [views.flavor(code, az) for code in catalog.FLAVORS]}


@router.get("/v3.1/{project_id}/flavors")
def list_flavor_infos(
    _: ProjectDep,
    parts: PartsDep,
    engine_name: str | None = None,
    engine_version: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> dict[str, Any]:
    _engine(engine_name)
    check_paging(offset, limit)
    if engine_version and engine_version not in catalog.VERSIONS:
        return {"flavors": [], "total_count": 0}
    codes = list(catalog.FLAVORS)
    az = parts.settings.availability_zone
    page = [views.flavor(c, az, list(catalog.VERSIONS)) for c in codes[offset : offset + limit]]
    return {"flavors": page, "total_count": len(codes)}


@router.get("/v3/{project_id}/storage-type")
def list_storage_type(_: ProjectDep, parts: PartsDep, engine_name: str | None = None) -> dict[str, Any]:
    _engine(engine_name)
    az = parts.settings.availability_zone
    return {
        "storage_type": [{"name": n, "az_status": {az: "normal"}} for n in catalog.STORAGE_TYPES],
        "dss_pool_info": [],
    }
