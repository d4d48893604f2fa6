"""mongodump's directory layout: `<db>/<collection>.bson` + `<db>/<collection>.metadata.json`,
and `oplog.bson` at the top (what `mongodump --oplog` writes and `mongorestore --oplogReplay` reads)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, unquote

OPLOG_FILE = "oplog.bson"
SKIP_DATABASES = frozenset({"local", "config"})  # engine-internal: oplog, sessions


def skip_collection(db: str, name: str) -> bool:
    """System collections (users, views metadata) belong to the instance, not to its data."""
    return name.startswith("system.")


def encode(name: str) -> str:
    """A database or collection name as a safe file name (mongodump percent-escapes too)."""
    return quote(name, safe="")


def decode(file_name: str) -> str:
    return unquote(file_name)


def bson_path(root: Path, db: str, coll: str) -> Path:
    return root / encode(db) / f"{encode(coll)}.bson"


def metadata_path(root: Path, db: str, coll: str) -> Path:
    return root / encode(db) / f"{encode(coll)}.metadata.json"
