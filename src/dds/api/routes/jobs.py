"""Task management: one job by id, and the v3.1 task list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from dds.api import views
from dds.api.deps import PartsDep, ProjectDep
from dds.services import jobs

router = APIRouter(tags=["Task management"])


@router.get("/v3/{project_id}/jobs")
def show_job_detail(project_id: ProjectDep, parts: PartsDep, id: str | None = None) -> dict[str, Any]:
    return {"job": views.job_detail(jobs.get(parts, project_id, id))}


@router.get("/v3.1/{project_id}/jobs")
def list_tasks(project_id: ProjectDep, parts: PartsDep, query: Annotated[jobs.JobQuery, Depends()]) -> dict[str, Any]:
    rows, total = jobs.listing(parts, project_id, query)
    return {"jobs": [views.job_item(j) for j in rows], "total_count": total}
