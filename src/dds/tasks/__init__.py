"""Job kinds: what each named job does, step by step. Registered by the composition root."""

from __future__ import annotations

from dds.jobs.registry import JobKind, Registry
from dds.tasks import backup, connections, instance, parameters, recovery, replica_set, restore

ALL: tuple[JobKind, ...] = (
    *instance.KINDS,
    *backup.KINDS,
    *restore.KINDS,
    *connections.KINDS,
    *parameters.KINDS,
    *recovery.KINDS,
    *replica_set.KINDS,
)


def registry() -> Registry:
    """Every job kind the service runs."""
    return Registry(ALL)
