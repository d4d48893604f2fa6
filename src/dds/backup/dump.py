"""Dump an engine into the mongodump layout.

The client given is a temporary engine on a frozen copy of the instance (see
`backup.snapshot`), so what is read is one point in time whatever the tenant writes
meanwhile; this module only walks databases and collections and writes files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bson import json_util
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient

from dds.backup import layout

RAW = CodecOptions(document_class=RawBSONDocument)


@dataclass
class DumpResult:
    databases: dict[str, list[str]] = field(default_factory=dict)
    documents: int = 0
    consistency: str = "snapshot"
    point_in_time: datetime | None = None


def _metadata(client: MongoClient[Any], db: str, coll: str, options: dict[str, Any]) -> str:
    indexes = list(client[db][coll].list_indexes())
    doc = {"options": options, "indexes": indexes, "uuid": "", "collectionName": coll, "type": "collection"}
    return json_util.dumps(doc, json_options=json_util.RELAXED_JSON_OPTIONS)


def _dump_collection(client: MongoClient[Any], root: Path, db: str, info: dict[str, Any]) -> int:
    name = info["name"]
    layout.metadata_path(root, db, name).write_text(_metadata(client, db, name, info.get("options", {})))
    count = 0
    coll = client[db].get_collection(name, codec_options=RAW)
    with layout.bson_path(root, db, name).open("wb") as out:
        for doc in coll.find(batch_size=2000):
            out.write(doc.raw)
            count += 1
    return count


def dump(client: MongoClient[Any], root: Path) -> DumpResult:
    """Write every tenant database of the engine under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    result = DumpResult()
    for db in sorted(set(client.list_database_names()) - layout.SKIP_DATABASES):
        infos = sorted(
            (i for i in client[db].list_collections() if i.get("type", "collection") == "collection"),
            key=lambda i: i["name"],
        )
        names = []
        for info in infos:
            if layout.skip_collection(db, info["name"]):
                continue
            (root / layout.encode(db)).mkdir(exist_ok=True)
            result.documents += _dump_collection(client, root, db, dict(info))
            names.append(info["name"])
        if names:
            result.databases[db] = names
    return result
