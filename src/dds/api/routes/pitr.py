"""Point-in-time recovery: restorable ranges, what existed at a time, collection-level restores.

Restores of a whole instance as of a time go through the backup routes (`POST /instances` with
`restore_point.type = "timestamp"`, `POST /instances/recovery` with `source.type = "timestamp"`).
"""

from __future__ import annotations

from fastapi import APIRouter

from dds.api.deps import PartsDep, ProjectDep
from dds.services import pitr, restores
from dds.wire import models as w

router = APIRouter(tags=["Backup and restoration"])


@router.get(
    "/v3/{project_id}/instances/{instance_id}/restore-time",
    response_model=w.ListRestoreTimesResponse,
    response_model_exclude_unset=True,
)
def list_restore_times(
    instance_id: str, project_id: ProjectDep, parts: PartsDep, date: str | None = None
) -> w.ListRestoreTimesResponse:
    ranges = pitr.restore_times(parts, project_id, instance_id, date)
    return w.ListRestoreTimesResponse(
        restore_time=[w.ListRestoreTimesResponseBodyRestoreTime(start_time=a, end_time=b) for a, b in ranges]
    )


@router.get(
    "/v3/{project_id}/instances/{instance_id}/restore-database",
    response_model=w.ListRestoreDatabasesResponse,
    response_model_exclude_unset=True,
)
def list_restore_databases(
    instance_id: str,
    project_id: ProjectDep,
    parts: PartsDep,
    restore_time: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> w.ListRestoreDatabasesResponse:
    names, total = pitr.databases_at(parts, project_id, instance_id, restore_time, offset, limit)
    return w.ListRestoreDatabasesResponse(databases=names, total_count=total)


@router.get(
    "/v3/{project_id}/instances/{instance_id}/restore-collection",
    response_model=w.ListRestoreCollectionsResponse,
    response_model_exclude_unset=True,
)
def list_restore_collections(
    instance_id: str,
    project_id: ProjectDep,
    parts: PartsDep,
    db_name: str | None = None,
    restore_time: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> w.ListRestoreCollectionsResponse:
    names, total = pitr.collections_at(parts, project_id, instance_id, db_name, restore_time, offset, limit)
    return w.ListRestoreCollectionsResponse(collections=names, total_count=total)


@router.post(
    "/v3/{project_id}/instances/{instance_id}/restore/collections",
    response_model=w.RestoreInstanceFromCollectionResponse,
    response_model_exclude_unset=True,
)
def restore_instance_from_collection(
    instance_id: str, body: w.RestoreInstanceFromCollectionRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.RestoreInstanceFromCollectionResponse:
    job = restores.restore_collections(parts, project_id, instance_id, body)
    return w.RestoreInstanceFromCollectionResponse(job_id=job.id)
