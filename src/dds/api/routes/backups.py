"""Backup and restoration: manual backups, listing, download links, policy, restores."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse

from dds.api import views
from dds.api.deps import PartsDep, ProjectDep
from dds.api.schemas.backups import (
    BatchDeleteBackupBody,
    CreateManualBackupBody,
    RestoreInstanceBody,
    SetBackupPolicyBody,
)
from dds.services import backups, restores

router = APIRouter(tags=["Backup and restoration"])


@router.post("/v3/{project_id}/backups")
def create_manual_backup(body: CreateManualBackupBody, project_id: ProjectDep, parts: PartsDep) -> dict[str, Any]:
    b, job = backups.create_manual(parts, project_id, body.backup)
    return {"job_id": job.id, "backup_id": b.id}


@router.get("/v3/{project_id}/backups")
def list_backups(
    project_id: ProjectDep,
    parts: PartsDep,
    instance_id: str | None = None,
    backup_id: str | None = None,
    backup_type: str | None = None,
    begin_time: str | None = None,
    end_time: str | None = None,
    mode: str | None = None,
    backup_status: str | None = None,
    backup_name: str | None = None,
    instance_name: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> dict[str, Any]:
    query = backups.BackupQuery(
        instance_id=instance_id,
        backup_id=backup_id,
        backup_type=backup_type,
        begin_time=begin_time,
        end_time=end_time,
        mode=mode,
        backup_status=backup_status,
        backup_name=backup_name,
        instance_name=instance_name,
        offset=offset,
        limit=limit,
    )
    rows, total = backups.listing(parts, project_id, query)
    return {"backups": [views.backup(b) for b in rows], "total_count": total}


@router.get("/v3/{project_id}/backups/download-file")
def show_backup_download_link(
    project_id: ProjectDep, parts: PartsDep, instance_id: str | None = None, backup_id: str | None = None
) -> dict[str, Any]:
    return backups.download_files(parts, project_id, instance_id, backup_id)


@router.delete("/v3/{project_id}/backups/{backup_id}")
def delete_manual_backup(backup_id: str, project_id: ProjectDep, parts: PartsDep) -> dict[str, Any]:
    return {"job_id": backups.delete_manual(parts, project_id, backup_id).id}


@router.delete("/v3/{project_id}/instances/backups")
def batch_delete_backup(body: BatchDeleteBackupBody, project_id: ProjectDep, parts: PartsDep) -> dict[str, Any]:
    backups.batch_delete(parts, project_id, body.backup_ids)
    return {}


@router.get("/v3/{project_id}/instances/{instance_id}/backups/policy")
def show_backup_policy(instance_id: str, project_id: ProjectDep, parts: PartsDep) -> dict[str, Any]:
    return {"backup_policy": backups.get_policy(parts, project_id, instance_id)}


@router.put("/v3/{project_id}/instances/{instance_id}/backups/policy")
def set_backup_policy(
    instance_id: str, body: SetBackupPolicyBody, project_id: ProjectDep, parts: PartsDep
) -> dict[str, Any]:
    backups.set_policy(parts, project_id, instance_id, body.backup_policy)
    return {}


@router.post("/v3/{project_id}/instances/recovery")
def restore_instance(body: RestoreInstanceBody, project_id: ProjectDep, parts: PartsDep) -> dict[str, Any]:
    return {"job_id": restores.restore_existing(parts, project_id, body.source, body.target).id}


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
    b, size = backups.open_download(parts, project_id, backup_id, name, expires, signature)
    span = backups.parse_range(range_, size)
    start, end = span or (0, size - 1)
    headers = {
        "Content-Length": str(end - start + 1),
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'attachment; filename="{b.file_name}"',
    }
    if span:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    chunks = parts.store.read(b.object_key, start, end) if size else iter(())
    return StreamingResponse(chunks, status_code=206 if span else 200, headers=headers, media_type="application/gzip")
