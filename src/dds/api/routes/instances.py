"""DB instance management."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from dds.api import views
from dds.api.deps import PartsDep, ProjectDep
from dds.api.schemas.instances import (
    CreateInstanceBody,
    EnlargeVolumeBody,
    ModifyNameBody,
    ModifyPortBody,
    RemarkBody,
    ResetPasswordBody,
    ResizeBody,
    RestartBody,
)
from dds.services import instances, restores

router = APIRouter(tags=["DB instance management"])


def _request(body: CreateInstanceBody) -> instances.CreateRequest:
    extra = {k: v for k, v in body.model_dump().items() if k not in {"password", "restore_point"}}
    return instances.CreateRequest(
        name=body.name,
        password=body.password,
        mode=body.mode,
        datastore=body.datastore or {},
        flavor=body.flavor or [],
        port=body.port,
        region=body.region,
        availability_zone=body.availability_zone,
        vpc_id=body.vpc_id,
        subnet_id=body.subnet_id,
        security_group_id=body.security_group_id,
        ssl_option=None if body.ssl_option is None else str(body.ssl_option),
        backup_strategy=body.backup_strategy,
        tags=body.tags or [],
        extra=extra,
    )


@router.post("/v3/{project_id}/instances", status_code=202)
def create_instance(body: CreateInstanceBody, project_id: ProjectDep, parts: PartsDep) -> dict[str, Any]:
    req = _request(body)
    if body.restore_point:
        inst, job = restores.restore_to_new(parts, project_id, req, body.restore_point)
    else:
        inst, job = instances.create(parts, project_id, req)
    return views.created_instance(inst, job, req.flavor)


@router.get("/v3/{project_id}/instances")
def list_instances(
    project_id: ProjectDep, parts: PartsDep, query: Annotated[instances.InstanceQuery, Depends()]
) -> dict[str, Any]:
    rows, total = instances.listing(parts, project_id, query)
    unit = parts.settings.volume_unit_bytes
    return {"instances": [views.instance(i, instances.used_bytes(parts, i), unit) for i in rows], "total_count": total}


@router.delete("/v3/{project_id}/instances/{instance_id}", status_code=202)
def delete_instance(instance_id: str, project_id: ProjectDep, parts: PartsDep) -> dict[str, Any]:
    return {"job_id": instances.delete(parts, project_id, instance_id).id}


@router.post("/v3/{project_id}/instances/{instance_id}/restart", status_code=202)
def restart_instance(
    instance_id: str, project_id: ProjectDep, parts: PartsDep, body: RestartBody | None = None
) -> dict[str, Any]:
    job = instances.restart(parts, project_id, instance_id, body.target_id if body else None)
    return {"job_id": job.id}


@router.put("/v3/{project_id}/instances/{instance_id}/modify-name")
def update_instance_name(
    instance_id: str, body: ModifyNameBody, project_id: ProjectDep, parts: PartsDep
) -> dict[str, Any]:
    instances.rename(parts, project_id, instance_id, body.new_instance_name)
    return {}


@router.post("/v3/{project_id}/instances/{instance_id}/modify-port")
def update_instance_port(
    instance_id: str, body: ModifyPortBody, project_id: ProjectDep, parts: PartsDep
) -> dict[str, Any]:
    job, port = instances.modify_port(parts, project_id, instance_id, body.port)
    return {"job_id": job.id, "port": port}


@router.put("/v3/{project_id}/instances/{instance_id}/remark")
def update_instance_remark(
    instance_id: str, body: RemarkBody, project_id: ProjectDep, parts: PartsDep
) -> dict[str, Any]:
    instances.set_remark(parts, project_id, instance_id, body.remark)
    return {}


@router.put("/v3/{project_id}/instances/{instance_id}/reset-password")
def reset_password(
    instance_id: str, body: ResetPasswordBody, project_id: ProjectDep, parts: PartsDep
) -> dict[str, Any]:
    instances.reset_password(parts, project_id, instance_id, body.user_name, body.user_pwd, body.db_name)
    return {}


@router.post("/v3/{project_id}/instances/{instance_id}/enlarge-volume", status_code=202)
def resize_instance_volume(
    instance_id: str, body: EnlargeVolumeBody, project_id: ProjectDep, parts: PartsDep
) -> dict[str, Any]:
    job = instances.enlarge_volume(parts, project_id, instance_id, body.volume.size)
    return {"job_id": job.id, "order_id": ""}


@router.post("/v3/{project_id}/instances/{instance_id}/resize", status_code=202)
def resize_instance(instance_id: str, body: ResizeBody, project_id: ProjectDep, parts: PartsDep) -> dict[str, Any]:
    job = instances.resize(parts, project_id, instance_id, body.resize.target_spec_code)
    return {"job_id": job.id, "order_id": ""}


@router.get("/v3/{project_id}/instances/{instance_id}/disk-usage")
def show_disk_usage(instance_id: str, project_id: ProjectDep, parts: PartsDep, response: Response) -> dict[str, Any]:
    inst, used = instances.disk_usage(parts, project_id, instance_id)
    unit = parts.settings.volume_unit_bytes
    group_type = "single" if inst.mode == "Single" else "replica"
    return {
        "volumes": [
            {
                "entity_id": inst.id,
                "entity_name": inst.name,
                "group_type": group_type,
                "size": str(inst.volume_gb),
                "used": views.gb(used / unit),
                "used_bytes": used,
            }
        ]
    }
