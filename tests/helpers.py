"""Small helpers shared by tests: engine connections and process inspection."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from pymongo import MongoClient


def connect(instance: dict[str, Any], password: str, user: str = "rwuser", timeout_ms: int = 5000) -> MongoClient:  # type: ignore[type-arg]
    """Connect the way a tenant would: only host/port from the instance details."""
    node = instance["groups"][0]["nodes"][0]
    host, port = node["private_ip"], int(instance["port"])
    return MongoClient(
        f"mongodb://{user}:{quote_plus(password)}@{host}:{port}/?authSource=admin&directConnection=true",
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
    )


def engine_pids(under: Path) -> set[int]:
    """Pids of live (non-zombie) ferretdb processes whose command line mentions `under`."""
    found = set()
    marker = str(under.resolve())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if "ferretdb" in cmd and marker in cmd and state != "Z":
            found.add(int(entry))
    return found


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True
