"""Database versions, specifications (flavors) and disk types."""

from __future__ import annotations

from fastapi import APIRouter

from dds.api import views
from dds.api.deps import PartsDep, ProjectDep
from dds.core.errors import InvalidEngine
from dds.domain import catalog
from dds.domain.rules import check_paging
from dds.wire import models as w

router = APIRouter(tags=["Database specifications"])


def _engine(name: str | None) -> None:
    if name and name != catalog.DATASTORE:
        raise InvalidEngine(f"Invalid DB engine {name!r}.")


@router.get("/v3/{project_id}/datastores/{datastore_name}/versions", response_model=w.ListDatastoreVersionsResponse)
def list_datastore_versions(datastore_name: str, _: ProjectDep) -> w.ListDatastoreVersionsResponse:
    _engine(datastore_name)
    return w.ListDatastoreVersionsResponse(versions=list(catalog.VERSIONS))


@router.get("/v3/{project_id}/flavors", response_model=w.ListFlavorsResponse, response_model_exclude_unset=True)
def list_flavors(
    _: ProjectDep, parts: PartsDep, region: str | None = None, engine_name: str | None = None
) -> w.ListFlavorsResponse:
    _engine(engine_name)
    az = parts.settings.availability_zone
    return w.ListFlavorsResponse.model_validate({"flavors": [views.flavor(code, az) for code in catalog.FLAVORS]})


@router.get("/v3.1/{project_id}/flavors", response_model=w.ListFlavorInfosResponse, response_model_exclude_unset=True)
def list_flavor_infos(
    _: ProjectDep,
    parts: PartsDep,
    engine_name: str | None = None,
    engine_version: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> w.ListFlavorInfosResponse:
    _engine(engine_name)
    check_paging(offset, limit)
    if engine_version and engine_version not in catalog.VERSIONS:
        return w.ListFlavorInfosResponse(flavors=[], total_count=0)
    codes = list(catalog.FLAVORS)
    az = parts.settings.availability_zone
    page = [views.flavor(c, az, list(catalog.VERSIONS)) for c in codes[offset : offset + limit]]
    return w.ListFlavorInfosResponse.model_validate({"flavors": page, "total_count": len(codes)})


@router.get("/v3/{project_id}/storage-type", response_model=w.ListStorageTypeResponse)
def list_storage_type(_: ProjectDep, parts: PartsDep, engine_name: str | None = None) -> w.ListStorageTypeResponse:
    _engine(engine_name)
    az = parts.settings.availability_zone
    storage = [w.Storage(name=n, az_status={az: "normal"}) for n in catalog.STORAGE_TYPES]
    return w.ListStorageTypeResponse(storage_type=storage, dss_pool_info=[])
