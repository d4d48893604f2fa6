"""Dump a running instance into the mongodump layout.

Consistency (replica sets): the oplog position is read before the dump starts and
again after it ends; the oplog entries in between go into `oplog.bson`. Replaying
them over the dumped collections (restore does; `mongorestore --oplogReplay` does)
brings every document to its state at the end position, however writes interleaved
with the dump -- the same guarantee `mongodump --oplog` gives. Single nodes have no
oplog: each collection is read as it is when the dump reaches it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bson import Timestamp, json_util
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient

from dds.backup import layout
from dds.errors import InternalError

RAW = CodecOptions(document_class=RawBSONDocument)
# FerretDB writes a change and then its oplog entry, not atomically: wait this long after
# the dump before reading the end position, so a change the dump saw has its entry in range.
OPLOG_SETTLE_SECONDS = 0.5
_REPLAYED_OPS = ("i", "u", "d")


@dataclass
class DumpResult:
    databases: dict[str, list[str]] = field(default_factory=dict)
    documents: int = 0
    consistency: str = "none"
    oplog_start: Timestamp | None = None
    oplog_end: Timestamp | None = None
    oplog_entries: int = 0
    point_in_time: datetime | None = None


def _last_ts(client: MongoClient) -> Timestamp | None:  # type: ignore[type-arg]
    last = client.local["oplog.rs"].find_one({}, sort=[("$natural", -1)], projection={"ts": 1})
    return last["ts"] if last else None


def _first_ts(client: MongoClient) -> Timestamp | None:  # type: ignore[type-arg]
    first = client.local["oplog.rs"].find_one({}, sort=[("$natural", 1)], projection={"ts": 1})
    return first["ts"] if first else None


def has_oplog(client: MongoClient) -> bool:  # type: ignore[type-arg]
    return "oplog.rs" in client.local.list_collection_names()


def _metadata(client: MongoClient, db: str, coll: str, options: dict[str, Any]) -> str:  # type: ignore[type-arg]
    indexes = list(client[db][coll].list_indexes())
    doc = {"options": options, "indexes": indexes, "uuid": "", "collectionName": coll, "type": "collection"}
    return json_util.dumps(doc, json_options=json_util.RELAXED_JSON_OPTIONS)


def _dump_collection(client: MongoClient, root: Path, db: str, info: dict[str, Any]) -> int:  # type: ignore[type-arg]
    name = info["name"]
    layout.metadata_path(root, db, name).write_text(_metadata(client, db, name, info.get("options", {})))
    count = 0
    coll = client[db].get_collection(name, codec_options=RAW)
    with layout.bson_path(root, db, name).open("wb") as out:
        for doc in coll.find(batch_size=2000):
            out.write(doc.raw)
            count += 1
    return count


def dump(client: MongoClient, root: Path, *, use_oplog: bool) -> DumpResult:  # type: ignore[type-arg]
    """Write every tenant database of the instance under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    result = DumpResult()
    if use_oplog:
        result.consistency = "oplog"
        result.oplog_start = _last_ts(client)
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
            result.documents += _dump_collection(client, root, db, info)
            names.append(info["name"])
        if names:
            result.databases[db] = names
    if use_oplog:
        _dump_oplog(client, root, result)
    else:
        result.point_in_time = datetime.now(UTC).replace(tzinfo=None)
    return result


def _dump_oplog(client: MongoClient, root: Path, result: DumpResult) -> None:  # type: ignore[type-arg]
    time.sleep(OPLOG_SETTLE_SECONDS)
    end = _last_ts(client)
    start = result.oplog_start
    if start is not None:
        first = _first_ts(client)
        if first is None or first > start:
            # Entries we need were overwritten: the capped oplog is too small for this dump.
            raise InternalError("The oplog rolled over during the backup; enlarge the volume and retry.")
    query: dict[str, Any] = {"op": {"$in": list(_REPLAYED_OPS)}}
    if end is not None:
        query["ts"] = {"$lte": end} if start is None else {"$gt": start, "$lte": end}
    count = 0
    with (root / layout.OPLOG_FILE).open("wb") as out:
        if end is not None:
            oplog = client.local.get_collection("oplog.rs", codec_options=RAW)
            for entry in oplog.find(query, sort=[("ts", 1)], batch_size=2000):
                ns = entry["ns"]
                if ns.split(".", 1)[0] in layout.SKIP_DATABASES:
                    continue
                out.write(entry.raw)
                count += 1
    result.oplog_end = end
    result.oplog_entries = count
    result.point_in_time = (
        datetime.fromtimestamp(end.time, UTC).replace(tzinfo=None) if end is not None
        else datetime.now(UTC).replace(tzinfo=None)
    )
