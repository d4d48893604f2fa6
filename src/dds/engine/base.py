"""The small interface every engine adapter implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class NodeSpec:
    """Everything needed to start one engine process for one node."""

    node_dir: Path
    listen_host: str
    listen_port: int
    debug_port: int
    repl_set_name: str | None
    read_only: bool = False
    vcpus: int = 1
    ram_bytes: int = 1024**3
    setup_user: str | None = None
    setup_password: str | None = field(default=None, repr=False)
    cache_kib: int | None = None  # SQLite page cache per connection (storage.cacheSizeMB); None: SQLite's
    postgresql_url: str | None = None  # the member's PostgreSQL server; None: SQLite files in data_dir

    @property
    def data_dir(self) -> Path:
        """Engine files only: backups and PITR copy this directory as it is."""
        return self.node_dir / "data"

    @property
    def state_dir(self) -> Path:
        return self.node_dir / "state"

    @property
    def log_path(self) -> Path:
        return self.node_dir / "engine.log"


@dataclass(frozen=True)
class Launch:
    """A process to start: argv without secrets, secrets in env; `user`: run as this OS user
    (PostgreSQL refuses to run as root)."""

    argv: list[str]
    env: dict[str, str]
    user: str | None = None


class Engine(Protocol):
    name: str

    def version(self) -> str: ...

    def launch(self, spec: NodeSpec) -> Launch: ...

    def is_ready(self, spec: NodeSpec) -> bool: ...
