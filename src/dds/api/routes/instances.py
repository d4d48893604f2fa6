"""DB instance management."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from dds.api import views
from dds.api.cache import ReadCache
from dds.api.deps import CacheDep, PartsDep, ProjectDep, query
from dds.api.schemas.instances import CreateInstanceBody
from dds.parts import Parts
from dds.services import instances, maintenance, recycle, restores
from dds.wire import models as w

router = APIRouter(tags=["DB instance management"])
InstanceQueryDep = Depends(query(instances.InstanceQuery))


@router.post(
    "/v3/{project_id}/instances",
    status_code=202,
    response_model=w.CreateInstanceResponse,
    response_model_exclude_unset=True,
)
def create_instance(body: CreateInstanceBody, project_id: ProjectDep, parts: PartsDep) -> w.CreateInstanceResponse:
    if body.restore_point:
        inst, job = restores.restore_to_new(parts, project_id, body, body.restore_point)
    else:
        inst, job = instances.create(parts, project_id, body)
    return views.created_instance(inst, job, body.flavor or [])


@router.get("/v3/{project_id}/instances", response_model=w.ListInstancesResponse)
async def list_instances(
    project_id: ProjectDep,
    parts: PartsDep,
    cache: CacheDep,
    wanted: Annotated[instances.InstanceQuery, InstanceQueryDep],
) -> Response:
    """Rendered once per metadata change (at most a second old): see `api.cache`; a caller with
    cached credentials is answered before routing (`api.fastpath`)."""
    return Response(await cached_listing(parts, cache, project_id, wanted), media_type="application/json")


async def cached_listing(parts: Parts, cache: ReadCache, project_id: str, wanted: instances.InstanceQuery) -> bytes:
    def render() -> bytes:
        rows, total = instances.listing(parts, project_id, wanted)
        unit = parts.settings.volume_unit_bytes
        items = [views.instance(i, instances.used_bytes(parts, i), unit) for i in rows]
        return w.ListInstancesResponse(instances=items, total_count=total).model_dump_json(exclude_unset=True).encode()

    key = ("instances", project_id, tuple(vars(wanted).items()))
    return await cache.get(key, lambda: parts.db.generation, render)


@router.delete(
    "/v3/{project_id}/instances/{instance_id}",
    status_code=202,
    response_model=w.DeleteInstanceResponse,
    response_model_exclude_unset=True,
)
def delete_instance(instance_id: str, project_id: ProjectDep, parts: PartsDep) -> w.DeleteInstanceResponse:
    return w.DeleteInstanceResponse(job_id=recycle.delete(parts, project_id, instance_id).id)


@router.post(
    "/v3/{project_id}/instances/{instance_id}/restart", status_code=202, response_model=w.RestartInstanceResponse
)
def restart_instance(
    instance_id: str, project_id: ProjectDep, parts: PartsDep, body: w.RestartInstanceRequestBody | None = None
) -> w.RestartInstanceResponse:
    job = instances.restart(parts, project_id, instance_id, body.target_id if body else None)
    return w.RestartInstanceResponse(job_id=job.id)


@router.put(
    "/v3/{project_id}/instances/{instance_id}/modify-name",
    response_model=w.UpdateInstanceNameResponse,
    response_model_exclude_unset=True,
)
def update_instance_name(
    instance_id: str, body: w.UpdateNameRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.UpdateInstanceNameResponse:
    instances.rename(parts, project_id, instance_id, body.new_instance_name)
    return w.UpdateInstanceNameResponse()


@router.post(
    "/v3/{project_id}/instances/{instance_id}/modify-port",
    response_model=w.UpdateInstancePortResponse,
    response_model_exclude_unset=True,
)
def update_instance_port(
    instance_id: str, body: w.UpdatePortRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.UpdateInstancePortResponse:
    job, port = instances.modify_port(parts, project_id, instance_id, body.port)
    return w.UpdateInstancePortResponse(job_id=job.id, port=port)


@router.put(
    "/v3/{project_id}/instances/{instance_id}/remark",
    response_model=w.UpdateInstanceRemarkResponse,
    response_model_exclude_unset=True,
)
def update_instance_remark(
    instance_id: str, body: w.UpdateInstanceRemarkRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.UpdateInstanceRemarkResponse:
    instances.set_remark(parts, project_id, instance_id, body.remark)
    return w.UpdateInstanceRemarkResponse()


@router.put(
    "/v3/{project_id}/instances/{instance_id}/reset-password",
    response_model=w.ResetPasswordResponse,
    response_model_exclude_unset=True,
)
def reset_password(
    instance_id: str, body: w.ResetPasswordRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.ResetPasswordResponse:
    instances.reset_password(parts, project_id, instance_id, body.user_name, body.user_pwd, body.db_name)
    return w.ResetPasswordResponse()


@router.post(
    "/v3/{project_id}/instances/{instance_id}/enlarge-volume",
    status_code=202,
    response_model=w.ResizeInstanceVolumeResponse,
)
def resize_instance_volume(
    instance_id: str, body: w.ResizeInstanceVolumeRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.ResizeInstanceVolumeResponse:
    size = body.volume.size if body.volume else None
    job = instances.enlarge_volume(parts, project_id, instance_id, size)
    return w.ResizeInstanceVolumeResponse(job_id=job.id, order_id="")


@router.post(
    "/v3/{project_id}/instances/{instance_id}/resize", status_code=202, response_model=w.ResizeInstanceResponse
)
def resize_instance(
    instance_id: str, body: w.ResizeInstanceRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.ResizeInstanceResponse:
    spec_code = body.resize.target_spec_code if body.resize else None
    extra = body.model_extra or {}
    if extra.get("is_delay") in (True, "true") or extra.get("delay") in (True, "true"):
        # Delayed to the maintenance window: the id is the scheduled task's (GET /scheduled-jobs).
        return w.ResizeInstanceResponse(job_id=maintenance.schedule_resize(parts, project_id, instance_id, spec_code))
    job = instances.resize(parts, project_id, instance_id, spec_code)
    return w.ResizeInstanceResponse(job_id=job.id, order_id="")


@router.get(
    "/v3/{project_id}/instances/{instance_id}/disk-usage",
    response_model=w.ShowDiskUsageResponse,
    response_model_exclude_unset=True,
)
def show_disk_usage(instance_id: str, project_id: ProjectDep, parts: PartsDep) -> w.ShowDiskUsageResponse:
    inst, used = instances.disk_usage(parts, project_id, instance_id)
    return views.disk_usage(inst, used, parts.settings.volume_unit_bytes)
