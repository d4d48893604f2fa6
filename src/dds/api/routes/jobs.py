"""Task management: one job by id, and the v3.1 task list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from dds.api import views
from dds.api.deps import PartsDep, ProjectDep, query
from dds.services import jobs
from dds.wire import models as w

router = APIRouter(tags=["Task management"])


@router.get("/v3/{project_id}/jobs", response_model=w.ShowJobDetailResponse, response_model_exclude_unset=True)
def show_job_detail(project_id: ProjectDep, parts: PartsDep, id: str | None = None) -> w.ShowJobDetailResponse:
    return w.ShowJobDetailResponse(job=views.job_detail(jobs.get(parts, project_id, id)))


@router.get("/v3.1/{project_id}/jobs", response_model=w.ListTasksResponse, response_model_exclude_unset=True)
def list_tasks(
    project_id: ProjectDep, parts: PartsDep, query: Annotated[jobs.JobQuery, Depends(query(jobs.JobQuery))]
) -> w.ListTasksResponse:
    rows, total = jobs.listing(parts, project_id, query)
    return w.ListTasksResponse(jobs=[views.job_item(j) for j in rows], total_count=total)
