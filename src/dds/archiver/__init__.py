"""Continuous archiving for point-in-time recovery: a litestream sidecar per instance node.

`config` renders the sidecar's configuration and launch, `sidecar` supervises it,
`coverage` computes the covered restore ranges from the replica, `restore` restores
an instance as of a time into a staging directory.
"""

from dds.archiver.catalog import Catalog, Incarnation, databases, needs_restart
from dds.archiver.config import ArchiveConfig, DirReplica, S3Replica, SidecarPlan, launch, render, write_config
from dds.archiver.coverage import Coverage, read_coverage
from dds.archiver.errors import ArchiverError, OutsideRestoreRanges, RestoreFailed, SidecarFailed
from dds.archiver.restore import RestoredDatabase, restore
from dds.archiver.sidecar import Sidecar

__all__ = [
    "ArchiveConfig",
    "ArchiverError",
    "Catalog",
    "Coverage",
    "DirReplica",
    "Incarnation",
    "OutsideRestoreRanges",
    "RestoreFailed",
    "RestoredDatabase",
    "S3Replica",
    "Sidecar",
    "SidecarFailed",
    "SidecarPlan",
    "databases",
    "launch",
    "needs_restart",
    "read_coverage",
    "render",
    "restore",
    "write_config",
]
