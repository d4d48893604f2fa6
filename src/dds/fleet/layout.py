"""Where an instance's files live: `instances/<instance>/<node>/` with the engine files in `data/`."""

from __future__ import annotations

import shutil
from pathlib import Path

from dds.core.settings import Settings
from dds.db.models import Node


def instance_dir(settings: Settings, instance_id: str) -> Path:
    return settings.instances_dir / instance_id


def node_dir(settings: Settings, node: Node) -> Path:
    return instance_dir(settings, node.instance_id) / node.id


def data_dir(settings: Settings, node: Node) -> Path:
    """Engine files only: backups and archiving copy this directory as it is."""
    return node_dir(settings, node) / "data"


def roles_file(settings: Settings, instance_id: str) -> Path:
    """The instance's role grants and custom roles, shared by its gateways and the service."""
    return instance_dir(settings, instance_id) / "authz.json"


def staging(settings: Settings, name: str) -> Path:
    """Scratch space of one job (dumps, verified restores); never served."""
    return settings.backup_staging_dir / name


def remove_instance_files(settings: Settings, instance_id: str) -> None:
    shutil.rmtree(instance_dir(settings, instance_id), ignore_errors=True)


def data_bytes(settings: Settings, nodes: list[Node]) -> int:
    """Real bytes on disk of the nodes' engine files (SQLite, WAL and shm)."""
    total = 0
    for node in nodes:
        data = data_dir(settings, node)
        if data.exists():
            for f in data.iterdir():
                try:
                    total += f.stat().st_size
                except FileNotFoundError:
                    pass
    return total


def log_tail(path: Path, lines: int = 3) -> str:
    """The last lines of a process's log, for an error message saying why it did not start."""
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""
