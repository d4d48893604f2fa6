"""Where a node's processes run. One small interface; the local one is the default.

A node runs several processes, each under a role: the engine today, and beside it the
instance gateway and the continuous archiver. Each (node directory, role) pair is one
supervised process with its own pid record, so a restarted service finds every one of
them, even those a killed predecessor never got to record in the metadata.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Protocol

from dds.engine.base import Launch


class Role(StrEnum):
    ENGINE = "engine"  # the database process (FerretDB)
    GATEWAY = "gateway"  # the wire-protocol layer in front of the engine
    ARCHIVER = "archiver"  # continuous archiving of the engine's files (Litestream)
    STORAGE = "storage"  # a member's PostgreSQL server under its pg_auto_failover keeper
    MONITOR = "monitor"  # the instance's pg_auto_failover monitor (in `instances/<id>/monitor`)


class Provisioner(Protocol):
    def start(self, node_dir: Path, role: Role, launch: Launch, log_path: Path) -> int:
        """Start the role's process (stopping an older one first); returns its pid."""

    def running_pid(self, node_dir: Path, role: Role) -> int | None:
        """The pid of the role's process if it is alive, else None."""

    def stop(self, node_dir: Path, role: Role | None = None, timeout: float = 10.0) -> None:
        """Stop one role's process, or every process of the node when `role` is None."""

    def signal(self, node_dir: Path, role: Role, signum: int) -> bool:
        """Send a signal to the role's process group; False when it is not running."""

    def adopt(self, node_dir: Path, role: Role) -> None:
        """Take over a live process a crashed predecessor started (it is stopped like our own at
        shutdown); a paused one is resumed (a crash may hit between SIGSTOP and SIGCONT)."""

    def stop_all(self) -> None:
        """Stop every process this provisioner started or adopted (service shutdown)."""

    def orphans(self, root: Path) -> list[tuple[Path, Role]]:
        """Live processes recorded under `root` (node directories two levels down)."""

    def sweep(self, root: Path) -> int:
        """Kill every live process that names a directory under `root` (start-up only, after
        `orphans` were stopped: what is left was never recorded); returns how many."""
