"""Log information: slow query, error and audit logs, and their signed download links."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse

from dds.api.deps import PartsDep, ProjectDep, query
from dds.services import logs
from dds.wire import models as w

router = APIRouter(tags=["Log information"])
LogQueryDep = Annotated[logs.LogQuery, Depends(query(logs.LogQuery))]


@router.get(
    "/v3/{project_id}/instances/{instance_id}/slowlog",
    response_model=w.ListSlowLogsResponse,
    response_model_exclude_unset=True,
)
def list_slow_logs(instance_id: str, project_id: ProjectDep, parts: PartsDep, q: LogQueryDep) -> w.ListSlowLogsResponse:
    return logs.slow_logs(parts, project_id, instance_id, q)


@router.post(
    "/v3/{project_id}/instances/{instance_id}/slowlog-download",
    response_model=w.DownloadSlowlogResponse,
    response_model_exclude_unset=True,
)
def download_slowlog(
    instance_id: str, project_id: ProjectDep, parts: PartsDep, body: w.DownloadSlowlogRequestBody | None = None
) -> w.DownloadSlowlogResponse:
    return logs.download_slow(parts, project_id, instance_id, body)


@router.get(
    "/v3/{project_id}/instances/{instance_id}/errorlog",
    response_model=w.ListErrorLogsResponse,
    response_model_exclude_unset=True,
)
def list_error_logs(
    instance_id: str, project_id: ProjectDep, parts: PartsDep, q: LogQueryDep
) -> w.ListErrorLogsResponse:
    return logs.error_logs(parts, project_id, instance_id, q)


@router.post(
    "/v3/{project_id}/instances/{instance_id}/errorlog-download",
    response_model=w.DownloadErrorlogResponse,
    response_model_exclude_unset=True,
)
def download_errorlog(
    instance_id: str, project_id: ProjectDep, parts: PartsDep, body: w.DownloadErrorlogRequestBody | None = None
) -> w.DownloadErrorlogResponse:
    return logs.download_error(parts, project_id, instance_id, body)


@router.get(
    "/v3/{project_id}/instances/{instance_id}/auditlog-policy",
    response_model=w.ShowAuditlogPolicyResponse,
    response_model_exclude_unset=True,
)
def show_auditlog_policy(instance_id: str, project_id: ProjectDep, parts: PartsDep) -> w.ShowAuditlogPolicyResponse:
    return logs.show_audit_policy(parts, project_id, instance_id)


@router.post(
    "/v3/{project_id}/instances/{instance_id}/auditlog-policy",
    response_model=w.SetAuditlogPolicyResponse,
    response_model_exclude_unset=True,
)
def set_auditlog_policy(
    instance_id: str, body: w.SetAuditlogPolicyRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.SetAuditlogPolicyResponse:
    logs.set_audit_policy(parts, project_id, instance_id, body)
    return w.SetAuditlogPolicyResponse()


@router.get(
    "/v3/{project_id}/instances/{instance_id}/auditlog",
    response_model=w.ListAuditlogsResponse,
    response_model_exclude_unset=True,
)
def list_auditlogs(
    instance_id: str,
    project_id: ProjectDep,
    parts: PartsDep,
    q: Annotated[logs.AuditQuery, Depends(query(logs.AuditQuery))],
) -> w.ListAuditlogsResponse:
    return logs.list_audit_logs(parts, project_id, instance_id, q)


@router.delete(
    "/v3/{project_id}/instances/{instance_id}/auditlog",
    response_model=w.DeleteAuditLogResponse,
    response_model_exclude_unset=True,
)
def delete_audit_log(
    instance_id: str, body: w.DeleteAuditLogRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.DeleteAuditLogResponse:
    logs.delete_audit_logs(parts, project_id, instance_id, body.file_names)
    return w.DeleteAuditLogResponse()


@router.post(
    "/v3/{project_id}/instances/{instance_id}/auditlog-links",
    response_model=w.ListAuditlogLinksResponse,
    response_model_exclude_unset=True,
)
def list_auditlog_links(
    instance_id: str, body: w.ProduceAuditlogLinksRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.ListAuditlogLinksResponse:
    return logs.audit_links(parts, project_id, instance_id, body.ids)


@router.get("/log-files/{project_id}/{instance_id}/{node_id}/{name}")
def download_log_file(
    project_id: str, instance_id: str, node_id: str, name: str, parts: PartsDep, expires: str = "", signature: str = ""
) -> FileResponse:
    """Serves a link signed by the download operations above. The signature is the credential."""
    path = logs.open_file(parts, project_id, instance_id, node_id, name, expires, signature)
    return FileResponse(path, media_type="application/x-ndjson", filename=f"{node_id}-{name}")
