"""States as enums, with the legal transitions in one place."""

from __future__ import annotations

from enum import StrEnum


class InstanceStatus(StrEnum):
    CREATING = "creating"  # create job running
    NORMAL = "normal"  # every node serves reads and writes
    ABNORMAL = "abnormal"  # a node died; the supervisor is restarting it
    CREATE_FAILED = "createfail"  # create job failed; only delete is allowed
    DATA_DISK_FULL = "data_disk_full"  # over its volume: engine runs read-only
    REBOOTING = "rebooting"  # restart job running
    RESIZING = "resizing"  # enlarge-volume / resize / modify-port running
    DELETING = "deleting"  # delete job running
    BACKING_UP = "backing_up"  # manual or automated backup running
    RESTORING = "restoring"  # a backup is being restored into this instance


class NodeStatus(StrEnum):
    CREATING = "creating"
    NORMAL = "normal"
    ABNORMAL = "abnormal"
    STOPPED = "stopped"


class JobStatus(StrEnum):
    RUNNING = "Running"  # queued or being worked on
    COMPLETED = "Completed"  # every step done
    FAILED = "Failed"  # a step failed for good; fail_reason says why


class BackupStatus(StrEnum):
    BUILDING = "BUILDING"  # the backup job is dumping or uploading
    COMPLETED = "COMPLETED"  # archive stored and checksummed; restorable
    FAILED = "FAILED"  # the job failed for good; no usable archive
    DISABLED = "DISABLED"  # being deleted


class BackupType(StrEnum):
    AUTO = "Auto"  # taken by the scheduler, pruned after keep_days, deleted with the instance
    MANUAL = "Manual"  # taken on request, kept until deleted (also after the instance is deleted)


TERMINAL_BACKUP = frozenset({BackupStatus.COMPLETED, BackupStatus.FAILED})

TERMINAL_JOB = frozenset({JobStatus.COMPLETED, JobStatus.FAILED})

# Which instance states allow which action. Anything else answers 409 (DDS: "status does not allow").
_SERVING = frozenset({InstanceStatus.NORMAL, InstanceStatus.ABNORMAL, InstanceStatus.DATA_DISK_FULL})
ALLOWED: dict[str, frozenset[InstanceStatus]] = {
    "restart": _SERVING,
    "rename": frozenset(InstanceStatus) - {InstanceStatus.DELETING},
    "remark": frozenset(InstanceStatus) - {InstanceStatus.DELETING},
    "modify_port": frozenset({InstanceStatus.NORMAL, InstanceStatus.DATA_DISK_FULL}),
    "reset_password": _SERVING,
    "enlarge_volume": _SERVING,
    "resize": frozenset({InstanceStatus.NORMAL, InstanceStatus.DATA_DISK_FULL}),
    "delete": frozenset(InstanceStatus) - {InstanceStatus.DELETING},
    "backup": frozenset({InstanceStatus.NORMAL, InstanceStatus.DATA_DISK_FULL}),
    "restore_target": frozenset({InstanceStatus.NORMAL, InstanceStatus.DATA_DISK_FULL}),
    "backup_policy": frozenset(InstanceStatus) - {InstanceStatus.DELETING, InstanceStatus.CREATING},
}

# Backup states a backup may be in for each action on it.
BACKUP_ALLOWED: dict[str, frozenset[BackupStatus]] = {
    "delete": frozenset({BackupStatus.COMPLETED, BackupStatus.FAILED}),
    "restore": frozenset({BackupStatus.COMPLETED}),
    "download": frozenset({BackupStatus.COMPLETED}),
}
