"""Wire views: metadata rows rendered with the DDS field names and formats."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from dds.core.clock import iso, iso_z
from dds.db.backups import Backup
from dds.db.models import Instance, Job
from dds.domain.catalog import FLAVORS, MODE_FLAVOR_TYPE
from dds.domain.states import InstanceStatus, JobStatus
from dds.fleet import members
from dds.wire import models as w

# Operations in progress are not DDS statuses: they show as `actions` on a normal instance.
_WIRE_STATUS: dict[str, tuple[str, list[str]]] = {
    InstanceStatus.CREATING: ("creating", ["CREATE"]),
    InstanceStatus.REBOOTING: ("normal", ["REBOOT"]),
    InstanceStatus.RESIZING: ("normal", ["RESIZE_VOLUME"]),
    # No action while it is deleted: the Terraform provider waits for a deleted instance to be gone
    # with `normal` (among others) as a pending state, and reads `normal` with actions as updating.
    InstanceStatus.DELETING: ("normal", []),
    InstanceStatus.RESTORING: ("normal", ["RESTORING"]),
    InstanceStatus.BACKING_UP: ("normal", ["BACKUP"]),
    InstanceStatus.SWITCHING: ("normal", ["SWITCHOVER"]),
}


def wire_status(inst: Instance) -> tuple[str, list[str]]:
    """A node whose data was lost is never shown `normal`, not even while it is being recovered."""
    if inst.extra.get("data_faults"):
        return "abnormal", ["DATA_LOST", *(["RESTORING"] if inst.status == InstanceStatus.RESTORING else [])]
    return _WIRE_STATUS.get(inst.status, (str(inst.status), []))


def gb(value: float) -> str:
    return f"{value:.2f}"


def instance(inst: Instance, used_bytes: int, unit: int) -> w.QueryInstanceResponse:
    status, actions = wire_status(inst)
    group_type = MODE_FLAVOR_TYPE.get(inst.mode, "replica")
    return w.QueryInstanceResponse.model_validate(
        {
            "id": inst.id,
            "name": inst.name,
            "remark": inst.remark,
            "status": status,
            "port": str(inst.port),
            "mode": inst.mode,
            "region": inst.region,
            "datastore": {
                "type": inst.datastore_type,
                "version": inst.datastore_version,
                "patch_available": False,
                "whole_version": f"{inst.datastore_version} (FerretDB {inst.engine_version or 'pending'})",
            },
            "engine": "wiredTiger",
            "created": iso(inst.created),
            "updated": iso(inst.updated),
            "db_user_name": "rwuser",
            "ssl": 1 if inst.ssl_option == "1" else 0,
            "vpc_id": inst.vpc_id,
            "subnet_id": inst.subnet_id,
            "security_group_id": inst.security_group_id,
            "backup_strategy": {"start_time": inst.backup_start_time, "keep_days": inst.backup_keep_days},
            "pay_mode": "0",
            "maintenance_window": inst.extra.get("maintenance_window") or "02:00-06:00",
            "groups": [
                {
                    "type": group_type,
                    "id": inst.id,
                    "name": inst.name,
                    "status": status,
                    "volume": {"size": str(inst.volume_gb), "used": gb(used_bytes / unit)},
                    "nodes": [
                        {
                            "id": n.id,
                            "name": n.name,
                            "status": n.status,
                            "role": n.role,
                            "private_ip": n.host,
                            "public_ip": "",
                            "spec_code": (members.replica_settings(inst, n) or {}).get("spec_code", inst.spec_code),
                            "availability_zone": inst.availability_zone,
                        }
                        for n in inst.nodes
                    ],
                }
            ],
            "disk_encryption_id": inst.extra.get("disk_encryption_id") or "",
            "enterprise_project_id": inst.extra.get("enterprise_project_id") or "0",
            "time_zone": "",
            "actions": actions,
            "tags": inst.tags,
            "dss_pool_id": inst.extra.get("dss_pool_id") or "",
        }
    )


def created_instance(inst: Instance, job: Job, req_flavor: Sequence[BaseModel]) -> w.CreateInstanceResponse:
    """The create response echoes the request, with the id, job and status added."""
    flavors = [f.model_dump(exclude_none=True) for f in req_flavor]
    return w.CreateInstanceResponse.model_validate(
        {
            "id": inst.id,
            "name": inst.name,
            "datastore": {
                "type": inst.datastore_type,
                "version": inst.datastore_version,
                "storage_engine": "wiredTiger",
            },
            "created": inst.created.strftime("%Y-%m-%d %H:%M:%S"),
            "status": "creating",
            "region": inst.region,
            "availability_zone": inst.availability_zone,
            "vpc_id": inst.vpc_id,
            "subnet_id": inst.subnet_id,
            "security_group_id": inst.security_group_id,
            "port": inst.port,
            "disk_encryption_id": inst.extra.get("disk_encryption_id") or "",
            "mode": inst.mode,
            "configurations": inst.extra.get("configurations") or [],
            "flavor": [
                {
                    "type": f.get("type"),
                    "num": str(f.get("num", "1")),
                    "storage": f.get("storage") or inst.storage_type,
                    "size": str(f.get("size", inst.volume_gb)),
                    "spec_code": f.get("spec_code"),
                }
                for f in flavors
            ],
            "backup_strategy": {"start_time": inst.backup_start_time, "keep_days": str(inst.backup_keep_days)},
            "ssl_option": inst.ssl_option,
            "job_id": job.id,
            "enterprise_project_id": inst.extra.get("enterprise_project_id") or "0",
            "tags": inst.tags,
            "dss_pool_id": inst.extra.get("dss_pool_id") or "",
            "order_id": "",
        }
    )


def _progress(job: Job) -> str:
    return f"{job.progress}%" if job.status == JobStatus.RUNNING else ""


def job_detail(job: Job) -> w.JobDetail:
    return w.JobDetail.model_validate(
        {
            "id": job.id,
            "name": job.name,
            "status": job.status,
            "created": iso_z(job.created),
            "ended": iso_z(job.ended),
            "progress": _progress(job),
            "instance": {"id": job.instance_id, "name": job.instance_name},
            "fail_reason": job.fail_reason or None,
        }
    )


def job_item(job: Job) -> w.JobInfo:
    return w.JobInfo.model_validate(
        {
            "id": job.id,
            "name": job.name,
            "instance_id": job.instance_id,
            "instance_name": job.instance_name,
            "status": job.status,
            "progress": _progress(job),
            "fail_reason": job.fail_reason or "",
            "created_at": iso_z(job.created),
            "ended_at": iso_z(job.ended),
        }
    )


def flavor(code: str, az: str, versions: list[str] | None = None) -> dict[str, Any]:
    f = FLAVORS[code]
    out: dict[str, Any] = {
        "engine_name": "DDS-Community",
        "type": f.type,
        "vcpus": str(f.vcpus),
        "ram": str(f.ram_gb),
        "spec_code": f.spec_code,
        "az_status": {az: "normal"},
    }
    if versions is not None:
        out["engine_versions"] = versions
    return out


def backup(b: Backup) -> w.BackupForList:
    """A row of GET /backups: times `yyyy-mm-dd hh:mm:ss` UTC, size in KB."""
    return w.BackupForList.model_validate(
        {
            "id": b.id,
            "name": b.name,
            "instance_id": b.instance_id,
            "instance_name": b.instance_name,
            "datastore": {"type": b.datastore_type, "version": b.datastore_version},
            "type": b.type,
            "begin_time": b.begin_time.strftime("%Y-%m-%d %H:%M:%S"),
            "end_time": b.end_time.strftime("%Y-%m-%d %H:%M:%S") if b.end_time else "",
            "status": b.status,
            "size": (b.size_bytes + 1023) // 1024,
            "description": b.description,
            "instance_mode": b.instance_mode,
            "backup_method": "Logical",
            "deletable": b.type == "Manual" and b.status in ("COMPLETED", "FAILED"),
        }
    )


def disk_usage(inst: Instance, used: int, unit: int) -> w.ShowDiskUsageResponse:
    volume = {
        "entity_id": inst.id,
        "entity_name": inst.name,
        "group_type": "single" if inst.mode == "Single" else "replica",
        "size": str(inst.volume_gb),
        "used": gb(used / unit),
        "used_bytes": used,
    }
    return w.ShowDiskUsageResponse.model_validate({"volumes": [volume]})
