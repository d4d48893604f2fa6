"""Tag management: an instance's tags, the project's tags, instances by tags."""

from __future__ import annotations

from fastapi import APIRouter, Response

from dds.api.deps import PartsDep, ProjectDep
from dds.services import tags
from dds.wire import models as w

router = APIRouter(tags=["Tag management"])


@router.post("/v3/{project_id}/instances/{instance_id}/tags/action", status_code=204, response_class=Response)
def batch_tag_action(
    instance_id: str, body: w.BatchOperateInstanceTagRequestBody, project_id: ProjectDep, parts: PartsDep
) -> Response:
    """204 without a body, as the cloud's tag APIs answer (the Go SDK's tag calls expect exactly that)."""
    tags.batch(parts, project_id, instance_id, body)
    return Response(status_code=204)


@router.get(
    "/v3/{project_id}/instances/{instance_id}/tags",
    response_model=w.ListInstanceTagsResponse,
    response_model_exclude_unset=True,
)
def list_instance_tags(instance_id: str, project_id: ProjectDep, parts: PartsDep) -> w.ListInstanceTagsResponse:
    return tags.instance_tags(parts, project_id, instance_id)


@router.get("/v3/{project_id}/tags", response_model=w.ListProjectTagsResponse, response_model_exclude_unset=True)
def list_project_tags(project_id: ProjectDep, parts: PartsDep) -> w.ListProjectTagsResponse:
    return tags.project_tags(parts, project_id)


@router.post(
    "/v3/{project_id}/instances/action",
    response_model=w.ListInstancesByTagsResponse,
    response_model_exclude_unset=True,
)
def list_instances_by_tags(
    body: w.ListInstancesByTagsRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.ListInstancesByTagsResponse:
    return tags.by_tags(parts, project_id, body)
