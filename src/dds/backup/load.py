"""Load a verified dump into an instance: collections, documents (with the oplog folded
in), then indexes -- built once over the final data, which is faster and cannot trip a
unique index on an intermediate state.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bson
from bson import json_util
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

from dds.backup import layout

RAW = CodecOptions(document_class=RawBSONDocument)
BATCH_DOCS = 1000
BATCH_BYTES = 8 * 1024 * 1024
_INDEX_DROP_KEYS = ("v", "ns")
DUPLICATE_KEY = 11000


def clear_tenant_data(client: MongoClient[Any]) -> None:
    """Drop what a restore replaces: every tenant database; users and system data stay."""
    for db in set(client.list_database_names()) - layout.SKIP_DATABASES:
        if db == "admin":
            for name in client.admin.list_collection_names():
                if not layout.skip_collection(db, name):
                    client.admin.drop_collection(name)
        else:
            client.drop_database(db)


def _batches(path: Path, skip: dict[bytes, Any]) -> Iterator[list[RawBSONDocument]]:
    batch: list[RawBSONDocument] = []
    size = 0
    with path.open("rb") as f:
        for doc in bson.decode_file_iter(f, codec_options=RAW):
            if skip and _key(doc["_id"]) in skip:
                continue  # its final version comes from the oplog
            batch.append(doc)
            size += len(doc.raw)
            if len(batch) >= BATCH_DOCS or size >= BATCH_BYTES:
                yield batch
                batch, size = [], 0
    if batch:
        yield batch


def _collections(root: Path) -> Iterator[tuple[str, str, Path]]:
    for db_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for meta in sorted(db_dir.glob("*.metadata.json")):
            coll_file = meta.name[: -len(".metadata.json")]
            yield layout.decode(db_dir.name), layout.decode(coll_file), meta


def load(client: MongoClient[Any], root: Path) -> dict[str, int]:
    """Restore `root` (a mongodump directory) into the instance; returns counts.

    The oplog is folded in before anything is written: documents it touches get their
    final version from it (or are left out when deleted), the rest stream from the dump
    as they are. The result equals dump + replay, with inserts only -- fast, and memory
    grows with the oplog window, not with the data.
    """
    final, patches = fold_oplog(root / layout.OPLOG_FILE)
    documents = 0
    pending_indexes: list[tuple[str, str, list[dict[str, Any]]]] = []
    for db, coll, meta_path in _collections(root):
        meta = json_util.loads(meta_path.read_text())
        options = meta.get("options") or {}
        create: dict[str, Any] = {}
        if options.get("capped"):
            create = {k: options[k] for k in ("capped", "size", "max") if k in options}
        client[db].command("create", coll, **create)
        target = client[db].get_collection(coll, codec_options=RAW)
        touched = final.pop(f"{db}.{coll}", {})
        data = meta_path.with_name(meta_path.name[: -len(".metadata.json")] + ".bson")
        if data.exists():
            for batch in _batches(data, skip=touched):
                documents += _insert(target, batch)
        documents += _insert_final(target, touched)
        indexes = [
            {k: v for k, v in spec.items() if k not in _INDEX_DROP_KEYS}
            for spec in meta.get("indexes", [])
            if spec.get("name") != "_id_"
        ]
        if indexes:
            pending_indexes.append((db, coll, indexes))
    for ns, touched in final.items():  # collections created while the dump ran
        db, _, coll = ns.partition(".")
        documents += _insert_final(client[db].get_collection(coll, codec_options=RAW), touched)
    for ns, where, update in patches:
        db, _, coll = ns.partition(".")
        client[db][coll].update_one(where, update)
    for db, coll, indexes in pending_indexes:
        client[db].command("createIndexes", coll, indexes=indexes)
    return {"documents": documents, "oplog_patches": len(patches)}


def _key(doc_id: Any) -> bytes:
    """A document's identity as BSON bytes: type-exact, hashable."""
    return bson.encode({"_id": doc_id})


def fold_oplog(path: Path) -> tuple[dict[str, dict[bytes, RawBSONDocument | None]], list[Any]]:
    """Final state per namespace and _id after every oplog entry (None = deleted), and the
    rare entries that are not whole documents, to apply after loading."""
    final: dict[str, dict[bytes, RawBSONDocument | None]] = {}
    patches: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    if not path.exists():
        return final, patches
    with path.open("rb") as f:
        for entry in bson.decode_file_iter(f):
            ns, op, o = entry["ns"], entry["op"], entry["o"]
            docs = final.setdefault(ns, {})
            if op == "i":
                docs[_key(o["_id"])] = RawBSONDocument(bson.encode(o))
            elif op == "u":
                where = entry.get("o2") or {"_id": o.get("_id")}
                full = o.get("$set")
                if isinstance(full, dict) and full.get("_id") == where.get("_id"):
                    docs[_key(full["_id"])] = RawBSONDocument(bson.encode(full))  # FerretDB: whole document
                elif o.get("$v") == 2 and isinstance(o.get("diff"), dict):
                    patches.append((ns, where, diff_update(o["diff"])))  # MongoDB 5+ and our engine
                else:
                    patches.append((ns, where, {k: v for k, v in o.items() if k != "$v"}))
            elif op == "d":
                docs[_key(o["_id"])] = None
    return final, patches


def diff_update(diff: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """An oplog update entry's `$v: 2` diff as update operators: `u`/`i` set fields, `d` removes
    them, `s<field>` descends into a sub-document or an array (`a: true`; `u<index>` sets an
    element, `l` a new length: the array is then set whole from what the entry gives)."""
    sets: dict[str, Any] = {}
    unsets: dict[str, Any] = {}

    def walk(node: dict[str, Any], path: str) -> None:
        is_array = node.get("a") is True
        for key, value in node.items():
            if key == "a":
                continue
            if key == "l":
                raise ValueError(f"an oplog diff resizes the array {path!r}: not replayable as a patch")
            if key in ("u", "i") and isinstance(value, dict):
                sets.update({f"{path}{name}": v for name, v in value.items()})
            elif key == "d" and isinstance(value, dict):
                unsets.update({f"{path}{name}": "" for name in value})
            elif is_array and key[:1] == "u":
                sets[f"{path}{key[1:]}"] = value
            elif key[:1] == "s" and isinstance(value, dict):
                walk(value, f"{path}{key[1:]}.")
            else:
                raise ValueError(f"unknown oplog diff field {key!r} at {path!r}")

    walk(diff, prefix)
    return {**({"$set": sets} if sets else {}), **({"$unset": unsets} if unsets else {})}


def _insert_final(target: Collection[Any], touched: dict[bytes, RawBSONDocument | None]) -> int:
    docs = [d for d in touched.values() if d is not None]
    count = 0
    for i in range(0, len(docs), BATCH_DOCS):
        count += _insert(target, docs[i : i + BATCH_DOCS])
    return count


def _insert(target: Collection[Any], batch: list[RawBSONDocument]) -> int:
    """Insert a batch; a second copy of a document is skipped. The engine's cursors are not
    snapshots, so a document written during the dump can be read twice; the oplog replay
    that follows gives it its final value either way."""
    try:
        return len(target.insert_many(batch, ordered=False).inserted_ids)
    except BulkWriteError as exc:
        other = [e for e in exc.details.get("writeErrors", []) if e.get("code") != DUPLICATE_KEY]
        if other:
            raise
        return int(exc.details.get("nInserted", 0))
