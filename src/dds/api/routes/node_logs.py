"""Log information and connection management read from the nodes' gateways: slow and error
logs, connection statistics, sessions (operations in flight)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from dds.api.deps import PartsDep, ProjectDep, query
from dds.services import node_logs
from dds.wire import models as w

router = APIRouter(tags=["Log information"])
LogQueryDep = Depends(query(node_logs.LogQuery))


@router.get(
    "/v3/{project_id}/instances/{instance_id}/slowlog",
    response_model=w.ListSlowLogsResponse,
    response_model_exclude_unset=True,
)
def list_slow_logs(
    instance_id: str, project_id: ProjectDep, parts: PartsDep, q: Annotated[node_logs.LogQuery, LogQueryDep]
) -> w.ListSlowLogsResponse:
    rows, total = node_logs.slow_logs(parts, project_id, instance_id, q)
    return w.ListSlowLogsResponse.model_validate({"slow_log_list": rows, "total_record": total})


@router.get(
    "/v3/{project_id}/instances/{instance_id}/errorlog",
    response_model=w.ListErrorLogsResponse,
    response_model_exclude_unset=True,
)
def list_error_logs(
    instance_id: str, project_id: ProjectDep, parts: PartsDep, q: Annotated[node_logs.LogQuery, LogQueryDep]
) -> w.ListErrorLogsResponse:
    rows, total = node_logs.error_logs(parts, project_id, instance_id, q)
    return w.ListErrorLogsResponse.model_validate({"error_log_list": rows, "total_record": total})


@router.get(
    "/v3/{project_id}/instances/{instance_id}/conn-statistics",
    response_model=w.ShowConnectionStatisticsResponse,
    response_model_exclude_unset=True,
    tags=["Connection management"],
)
def show_connection_statistics(
    instance_id: str, project_id: ProjectDep, parts: PartsDep, node_id: str | None = None
) -> w.ShowConnectionStatisticsResponse:
    stats = node_logs.connection_statistics(parts, project_id, instance_id, node_id)
    return w.ShowConnectionStatisticsResponse.model_validate(stats)


@router.get(
    "/v3/{project_id}/nodes/{node_id}/sessions",
    response_model=w.ListSessionsResponse,
    response_model_exclude_unset=True,
    tags=["Connection management"],
)
def list_sessions(
    node_id: str,
    project_id: ProjectDep,
    parts: PartsDep,
    offset: int = 0,
    limit: int = 10,
    cost_time: int | None = None,
    namespace: str | None = None,
) -> w.ListSessionsResponse:
    rows, total = node_logs.sessions(parts, project_id, node_id, offset, limit, cost_time, namespace)
    return w.ListSessionsResponse.model_validate({"sessions": rows, "total_count": total})


@router.post(
    "/v3/{project_id}/nodes/{node_id}/session",
    response_model=w.DeleteSessionResponse,
    tags=["Connection management"],
)
def delete_session(
    node_id: str, body: w.DeleteSessionRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.DeleteSessionResponse:
    node_logs.kill_sessions(parts, project_id, node_id, body.sessions)
    return w.DeleteSessionResponse()
