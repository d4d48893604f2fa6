"""States as enums, with the legal transitions in one place.

Every status change goes through `transition()`, so a row can only move along an edge
listed here; anything else is a bug and fails loudly instead of leaving a resource in a
state no operation expects.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Protocol

from dds.core.errors import IllegalTransition


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
    SWITCHING = "switchover"  # a replica set's primary is being moved to another member


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
    FAILED = "FAILED"  # the job failed for good or was stopped on request; no usable archive
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
    "parameters": frozenset({InstanceStatus.NORMAL, InstanceStatus.DATA_DISK_FULL}),
    "enlarge_volume": _SERVING,
    "resize": frozenset({InstanceStatus.NORMAL, InstanceStatus.DATA_DISK_FULL}),
    "delete": frozenset(InstanceStatus) - {InstanceStatus.DELETING},
    "backup": frozenset({InstanceStatus.NORMAL, InstanceStatus.DATA_DISK_FULL}),
    "restore_target": frozenset({InstanceStatus.NORMAL, InstanceStatus.DATA_DISK_FULL}),
    "backup_policy": frozenset(InstanceStatus) - {InstanceStatus.DELETING, InstanceStatus.CREATING},
    "switchover": frozenset({InstanceStatus.NORMAL}),  # DDS: not on frozen or abnormal instances
}

# Backup states a backup may be in for each action on it.
BACKUP_ALLOWED: dict[str, frozenset[BackupStatus]] = {
    "delete": frozenset({BackupStatus.COMPLETED, BackupStatus.FAILED}),
    "restore": frozenset({BackupStatus.COMPLETED}),
    "download": frozenset({BackupStatus.COMPLETED}),
    "stop": frozenset({BackupStatus.BUILDING}),
}


def settled(read_only: bool) -> InstanceStatus:
    """The status an instance returns to once no job is working on it."""
    return InstanceStatus.DATA_DISK_FULL if read_only else InstanceStatus.NORMAL


_I = InstanceStatus
_BUSY = frozenset({_I.REBOOTING, _I.RESIZING, _I.BACKING_UP, _I.RESTORING, _I.SWITCHING})
_AFTER_BUSY = frozenset({_I.NORMAL, _I.DATA_DISK_FULL, _I.ABNORMAL, _I.DELETING})

INSTANCE_TRANSITIONS: dict[InstanceStatus, frozenset[InstanceStatus]] = {
    _I.CREATING: frozenset({_I.NORMAL, _I.DATA_DISK_FULL, _I.CREATE_FAILED, _I.DELETING}),
    _I.NORMAL: frozenset({_I.ABNORMAL, _I.DATA_DISK_FULL, _I.DELETING}) | _BUSY,
    _I.DATA_DISK_FULL: frozenset({_I.NORMAL, _I.ABNORMAL, _I.DELETING}) | _BUSY,
    # RESTORING: a node whose data was lost is rebuilt from the backups (tasks/recovery.py).
    _I.ABNORMAL: frozenset({_I.NORMAL, _I.DATA_DISK_FULL, _I.REBOOTING, _I.RESIZING, _I.RESTORING, _I.DELETING}),
    _I.CREATE_FAILED: frozenset({_I.DELETING}),
    **{busy: _AFTER_BUSY for busy in _BUSY},
    # The row goes away with the delete job; a failed delete leaves the instance deletable again.
    _I.DELETING: frozenset({_I.NORMAL, _I.DATA_DISK_FULL, _I.ABNORMAL}),
}

_B = BackupStatus
BACKUP_TRANSITIONS: dict[BackupStatus, frozenset[BackupStatus]] = {
    _B.BUILDING: frozenset({_B.COMPLETED, _B.FAILED, _B.DISABLED}),
    _B.COMPLETED: frozenset({_B.DISABLED}),  # deletion
    _B.FAILED: frozenset({_B.DISABLED}),
    _B.DISABLED: frozenset({_B.FAILED}),  # a delete that failed: the object may be gone
}

JOB_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.RUNNING: TERMINAL_JOB,
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
}

# Nodes follow their engine process: any state can follow any other.
NODE_TRANSITIONS: dict[NodeStatus, frozenset[NodeStatus]] = {s: frozenset(NodeStatus) for s in NodeStatus}

_TABLES: dict[type[StrEnum], dict[Any, frozenset[Any]]] = {
    InstanceStatus: INSTANCE_TRANSITIONS,
    BackupStatus: BACKUP_TRANSITIONS,
    JobStatus: JOB_TRANSITIONS,
    NodeStatus: NODE_TRANSITIONS,
}


class Stateful(Protocol):
    """A row with a status column (instance, node, backup, job)."""

    status: Any


def can_transition(current: StrEnum, new: StrEnum) -> bool:
    """True when `new` may follow `current` (staying in the same state always may)."""
    table = _TABLES[type(new)]
    return current == new or new in table[type(new)(current)]


def transition(row: Stateful, new: StrEnum) -> None:
    """The one way a status changes."""
    current = row.status
    if current is not None and not can_transition(current, new):
        raise IllegalTransition(f"{type(row).__name__} cannot go from {current} to {new}.")
    row.status = new
