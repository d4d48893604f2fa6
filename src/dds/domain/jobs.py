"""Job kinds by name, as DDS shows them in its task list.

Services enqueue work by these names and never import the code that runs it; the
composition root registers one task for each name.
"""

from __future__ import annotations

from enum import StrEnum


class JobName(StrEnum):
    CREATE = "CreateMongoDB"
    DELETE = "DeleteMongoDB"
    RESTART = "RestartInstance"
    MODIFY_PORT = "ModifyPort"
    RESIZE = "ResizeInstance"
    ENLARGE = "EnlargeInstanceVolume"
    BACKUP = "MongodbSnapshotBackup"
    DELETE_BACKUP = "DeleteManualBackup"
    RESTORE_NEW = "MongodbRestoreData2NewInstance"
    RESTORE_CURRENT = "MongodbRestoreData2CurrentInstance"
    RESTORE_COLLECTIONS = "MongodbRestoreTable"  # database/collection level, as of a time
    STOP_BACKUP = "MongodbStopBackup"
    EXPORT_BACKUP = "MongodbBackupExport"  # the mongodump-layout copy of a completed backup
    SWITCH_SSL = "SwitchSsl"
    APPLY_PARAMETERS = "ApplyConfiguration"  # instance parameters changed, directly or by a template
    RECOVER_DATA = "MongodbRecoverLostData"  # a node whose data was lost or damaged, rebuilt from backups
    SWITCHOVER = "SwitchoverReplicaSet"  # the primary moves to a caught-up secondary
    PROMOTE = "SwitchInstancePrimary"  # a chosen secondary becomes the primary
    ENLARGE_MEMBERS = "ExpandReplicasetNode"  # two or four more members
    SHRINK_MEMBERS = "ShrinkInstanceNodes"  # fewer members (never below three)
    ADD_READ_REPLICAS = "AddReadonlyNode"  # read replicas: standbys never promoted
    DELETE_READ_REPLICAS = "DeleteReadonlyNode"


RESTORE_JOBS = frozenset({JobName.RESTORE_NEW, JobName.RESTORE_CURRENT, JobName.RESTORE_COLLECTIONS})

# Jobs that change their instance: while one runs, the instance takes no second one (as on DDS),
# so a delete can never overtake a restart and skip the recycle bin. The others only read the
# instance's files or work on a backup.
CHANGING_JOBS = frozenset(JobName) - {JobName.EXPORT_BACKUP, JobName.DELETE_BACKUP, JobName.STOP_BACKUP}
