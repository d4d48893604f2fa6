"""Backup and restoration: manual backups, listing, download links, policy, restores."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header
from fastapi.responses import StreamingResponse

from dds.api import views
from dds.api.deps import PartsDep, ProjectDep, query
from dds.api.schemas import backups as schemas
from dds.services import backups, download_policy, restores
from dds.wire import models as w

router = APIRouter(tags=["Backup and restoration"])


@router.post("/v3/{project_id}/backups", response_model=w.CreateManualBackupResponse, response_model_exclude_unset=True)
def create_manual_backup(
    body: w.CreateManualBackupRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.CreateManualBackupResponse:
    b, job = backups.create_manual(parts, project_id, body.backup)
    return w.CreateManualBackupResponse(job_id=job.id, backup_id=b.id)


@router.get("/v3/{project_id}/backups", response_model=w.ListBackupsResponse, response_model_exclude_unset=True)
def list_backups(
    project_id: ProjectDep, parts: PartsDep, query: Annotated[backups.BackupQuery, Depends(query(backups.BackupQuery))]
) -> w.ListBackupsResponse:
    rows, total = backups.listing(parts, project_id, query)
    return w.ListBackupsResponse(backups=[views.backup(b) for b in rows], total_count=total)


@router.get(
    "/v3/{project_id}/backups/download-file",
    response_model=w.ShowBackupDownloadLinkResponse,
    response_model_exclude_unset=True,
)
def show_backup_download_link(
    project_id: ProjectDep, parts: PartsDep, instance_id: str | None = None, backup_id: str | None = None
) -> w.ShowBackupDownloadLinkResponse:
    return backups.download_files(parts, project_id, instance_id, backup_id)


@router.get(
    "/v3/{project_id}/backups/download-policy",
    response_model=schemas.ListBackupDownloadPolicyResponse,
    response_model_exclude_none=True,
)
def list_backup_download_policy(project_id: ProjectDep, parts: PartsDep) -> schemas.ListBackupDownloadPolicyResponse:
    policy = download_policy.show(parts, project_id)
    return schemas.ListBackupDownloadPolicyResponse(id=policy.id, action=policy.action)


@router.post("/v3/{project_id}/backups/download-policy", response_model=schemas.BackupDownloadPolicyChanged)
def save_backup_download_policy(
    body: schemas.SaveBackupDownloadPolicyRequestBody, project_id: ProjectDep, parts: PartsDep
) -> schemas.BackupDownloadPolicyChanged:
    download_policy.save(parts, project_id, body.action)
    return schemas.BackupDownloadPolicyChanged()


@router.put("/v3/{project_id}/backups/download-policy", response_model=schemas.BackupDownloadPolicyChanged)
def update_backup_download_policy(
    body: schemas.UpdateBackupDownloadPolicyRequestBody, project_id: ProjectDep, parts: PartsDep
) -> schemas.BackupDownloadPolicyChanged:
    download_policy.update(parts, project_id, body.id, body.action)
    return schemas.BackupDownloadPolicyChanged()


@router.put(
    "/v3/{project_id}/backups/{backup_id}",
    status_code=202,
    response_model=schemas.StopBackupResponse,
    response_model_exclude_unset=True,
)
def stop_backup(
    backup_id: str, body: schemas.StopBackupRequestBody, project_id: ProjectDep, parts: PartsDep
) -> schemas.StopBackupResponse:
    return schemas.StopBackupResponse(job_id=backups.stop(parts, project_id, backup_id, body.action).id)


@router.delete(
    "/v3/{project_id}/backups/{backup_id}",
    response_model=w.DeleteManualBackupResponse,
    response_model_exclude_unset=True,
)
def delete_manual_backup(backup_id: str, project_id: ProjectDep, parts: PartsDep) -> w.DeleteManualBackupResponse:
    return w.DeleteManualBackupResponse(job_id=backups.delete_manual(parts, project_id, backup_id).id)


@router.delete(
    "/v3/{project_id}/instances/backups", response_model=w.BatchDeleteBackupResponse, response_model_exclude_unset=True
)
def batch_delete_backup(
    body: w.BatchDeleteBackupRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.BatchDeleteBackupResponse:
    backups.batch_delete(parts, project_id, body.backup_ids)
    return w.BatchDeleteBackupResponse()


@router.get(
    "/v3/{project_id}/instances/{instance_id}/backups/policy",
    response_model=w.ShowBackupPolicyResponse,
    response_model_exclude_unset=True,
)
def show_backup_policy(instance_id: str, project_id: ProjectDep, parts: PartsDep) -> w.ShowBackupPolicyResponse:
    return w.ShowBackupPolicyResponse(backup_policy=backups.get_policy(parts, project_id, instance_id))


@router.put(
    "/v3/{project_id}/instances/{instance_id}/backups/policy",
    response_model=w.SetBackupPolicyResponse,
    response_model_exclude_unset=True,
)
def set_backup_policy(
    instance_id: str, body: w.SetBackupPolicyRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.SetBackupPolicyResponse:
    backups.set_policy(parts, project_id, instance_id, body.backup_policy)
    return w.SetBackupPolicyResponse()


@router.post(
    "/v3/{project_id}/instances/recovery", response_model=w.RestoreInstanceResponse, response_model_exclude_unset=True
)
def restore_instance(
    body: w.RestoreInstanceRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.RestoreInstanceResponse:
    return w.RestoreInstanceResponse(job_id=restores.restore_existing(parts, project_id, body.source, body.target).id)


@router.get("/backup-files/{project_id}/{backup_id}/{name}")
def download_backup_file(
    project_id: str,
    backup_id: str,
    name: str,
    parts: PartsDep,
    expires: str = "",
    signature: str = "",
    range_: str | None = Header(default=None, alias="Range"),
) -> StreamingResponse:
    """Serves a link signed by download-file (local store). The signature is the credential."""
    key, size = backups.open_download(parts, project_id, backup_id, name, expires, signature)
    span = backups.parse_range(range_, size)
    start, end = span or (0, size - 1)
    headers = {
        "Content-Length": str(end - start + 1),
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'attachment; filename="{name}"',
    }
    if span:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    chunks = parts.store.read(key, start, end) if size else iter(())
    media = "application/zstd" if name.endswith(".zst") else "application/gzip"
    return StreamingResponse(chunks, status_code=206 if span else 200, headers=headers, media_type=media)
