"""MongoDB change streams (engine patch 0021) through pymongo: `watch()` on a collection, a
database and the whole deployment, read from the instance's oplog (`local.oplog.rs`, which the
service creates). Each event is checked field by field as MongoDB's change events page documents
it (operationType, fullDocument, documentKey, ns, updateDescription), with resume tokens
(resumeAfter, startAfter, startAtOperationTime, postBatchResumeToken), pipelines after
$changeStream, drop/rename invalidation, and MongoDB's error codes."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from bson.timestamp import Timestamp
from pymongo.errors import OperationFailure

AWAIT_MS = 300


def drain(stream: Any, limit: int = 20) -> list[dict[str, Any]]:
    """The events available now (try_next until one getMore returns none)."""
    out: list[dict[str, Any]] = []
    while len(out) < limit:
        change = stream.try_next()
        if change is None:
            break
        out.append(change)
    return out


def fresh(db: Any, name: str) -> Any:
    db.drop_collection(name)
    return db[name]


def without_meta(change: dict[str, Any]) -> dict[str, Any]:
    """The event without the fields that differ each run (_id, clusterTime, wallTime), checked apart."""
    assert set(change["_id"]) == {"_data"} and isinstance(change["_id"]["_data"], str)
    assert isinstance(change["clusterTime"], Timestamp)
    assert isinstance(change["wallTime"], dt.datetime)
    return {k: v for k, v in change.items() if k not in ("_id", "clusterTime", "wallTime")}


def errcode(fn: Any) -> int | None:
    try:
        res = fn()
        if hasattr(res, "try_next"):
            res.try_next()
            res.close()
    except OperationFailure as e:
        return e.code
    return None


def test_insert_event(db: Any) -> None:
    coll = fresh(db, "cs_insert")
    with coll.watch(max_await_time_ms=AWAIT_MS) as stream:
        assert stream.try_next() is None  # nothing yet: an empty batch, the cursor stays open
        assert stream.alive
        coll.insert_one({"_id": 1, "name": "Alice", "tags": ["a", "b"]})
        change = stream.try_next()
    assert without_meta(change) == {
        "operationType": "insert",
        "fullDocument": {"_id": 1, "name": "Alice", "tags": ["a", "b"]},
        "ns": {"db": db.name, "coll": "cs_insert"},
        "documentKey": {"_id": 1},
    }


def test_update_event_set_unset(db: Any) -> None:
    """The documentation's update event: $set of one field, $unset of another."""
    coll = fresh(db, "cs_update")
    coll.insert_one({"_id": 1, "userName": "alice123", "email": "alice@10gen.com", "phoneNumber": "555-555-5555"})
    with coll.watch(max_await_time_ms=AWAIT_MS) as stream:
        coll.update_one(
            {"userName": "alice123"}, {"$set": {"email": "alice@mongodb.com"}, "$unset": {"phoneNumber": ""}}
        )
        change = stream.try_next()
    assert without_meta(change) == {
        "operationType": "update",
        "ns": {"db": db.name, "coll": "cs_update"},
        "documentKey": {"_id": 1},
        "updateDescription": {
            "updatedFields": {"email": "alice@mongodb.com"},
            "removedFields": ["phoneNumber"],
            "truncatedArrays": [],
        },
    }


@pytest.mark.parametrize(
    ("update", "description"),
    [
        ({"$set": {"b.c": 3}}, {"updatedFields": {"b.c": 3}, "removedFields": [], "truncatedArrays": []}),
        ({"$inc": {"n": 2}}, {"updatedFields": {"n": 3}, "removedFields": [], "truncatedArrays": []}),
        ({"$set": {"new": "x"}}, {"updatedFields": {"new": "x"}, "removedFields": [], "truncatedArrays": []}),
        ({"$unset": {"b.d": ""}}, {"updatedFields": {}, "removedFields": ["b.d"], "truncatedArrays": []}),
        ({"$push": {"arr": 4}}, {"updatedFields": {"arr.3": 4}, "removedFields": [], "truncatedArrays": []}),
        (
            {"$pop": {"arr": 1}},
            {"updatedFields": {}, "removedFields": [], "truncatedArrays": [{"field": "arr", "newSize": 2}]},
        ),
        ({"$set": {"arr.0": 9}}, {"updatedFields": {"arr.0": 9}, "removedFields": [], "truncatedArrays": []}),
        (  # a value $set as a whole is reported whole, even an embedded document
            {"$set": {"b": {"c": 5}}},
            {"updatedFields": {"b": {"c": 5}}, "removedFields": [], "truncatedArrays": []},
        ),
        ({"$rename": {"n": "m"}}, {"updatedFields": {"m": 1}, "removedFields": ["n"], "truncatedArrays": []}),
        (
            {"$set": {"arr.$[]": 0}},
            {"updatedFields": {"arr.0": 0, "arr.1": 0, "arr.2": 0}, "removedFields": [], "truncatedArrays": []},
        ),
        (
            [{"$set": {"n": {"$add": ["$n", 10]}}}],  # a pipeline update is described the same way
            {"updatedFields": {"n": 11}, "removedFields": [], "truncatedArrays": []},
        ),
    ],
)
def test_update_description(db: Any, update: Any, description: dict[str, Any]) -> None:
    coll = fresh(db, "cs_update_desc")
    coll.insert_one({"_id": 1, "n": 1, "b": {"c": 1, "d": 2}, "arr": [1, 2, 3]})
    with coll.watch(max_await_time_ms=AWAIT_MS) as stream:
        coll.update_one({"_id": 1}, update)
        change = stream.try_next()
    assert change["operationType"] == "update"
    assert change["documentKey"] == {"_id": 1}
    assert change["updateDescription"] == description
    assert "fullDocument" not in change


def test_replace_and_delete_events(db: Any) -> None:
    coll = fresh(db, "cs_replace")
    coll.insert_one({"_id": 1, "a": 1})
    with coll.watch(max_await_time_ms=AWAIT_MS) as stream:
        coll.replace_one({"_id": 1}, {"b": 2})
        coll.find_one_and_replace({"_id": 1}, {"c": 3})
        coll.delete_one({"_id": 1})
        changes = drain(stream)
    ns = {"db": db.name, "coll": "cs_replace"}
    assert [without_meta(c) for c in changes] == [
        {"operationType": "replace", "fullDocument": {"_id": 1, "b": 2}, "ns": ns, "documentKey": {"_id": 1}},
        {"operationType": "replace", "fullDocument": {"_id": 1, "c": 3}, "ns": ns, "documentKey": {"_id": 1}},
        {"operationType": "delete", "ns": ns, "documentKey": {"_id": 1}},
    ]


def test_upsert_and_find_and_modify(db: Any) -> None:
    coll = fresh(db, "cs_fam")
    with coll.watch(max_await_time_ms=AWAIT_MS) as stream:
        coll.update_one({"_id": 7}, {"$set": {"a": 1}}, upsert=True)
        coll.find_one_and_update({"_id": 7}, {"$set": {"a": 2}})
        coll.find_one_and_delete({"_id": 7})
        changes = drain(stream)
    assert [c["operationType"] for c in changes] == ["insert", "update", "delete"]
    assert changes[0]["fullDocument"] == {"_id": 7, "a": 1}
    assert changes[1]["updateDescription"]["updatedFields"] == {"a": 2}


def test_full_document_update_lookup(db: Any) -> None:
    coll = fresh(db, "cs_lookup")
    coll.insert_one({"_id": 1, "n": 1, "x": "keep"})
    with coll.watch(full_document="updateLookup", max_await_time_ms=AWAIT_MS) as stream:
        coll.update_one({"_id": 1}, {"$inc": {"n": 1}})
        change = stream.try_next()
        coll.update_one({"_id": 1}, {"$inc": {"n": 1}})
        coll.delete_one({"_id": 1})
        later = drain(stream)
    assert change["fullDocument"] == {"_id": 1, "n": 2, "x": "keep"}
    assert change["updateDescription"]["updatedFields"] == {"n": 2}
    # looked up when read: the document is deleted by then
    assert later[0]["operationType"] == "update" and later[0]["fullDocument"] is None
    assert later[1]["operationType"] == "delete" and "fullDocument" not in later[1]


def test_full_document_without_post_images(db: Any) -> None:
    coll = fresh(db, "cs_images")
    coll.insert_one({"_id": 1, "n": 1})
    with coll.watch(
        full_document="whenAvailable", full_document_before_change="whenAvailable", max_await_time_ms=AWAIT_MS
    ) as stream:
        coll.update_one({"_id": 1}, {"$inc": {"n": 1}})
        change = stream.try_next()
    assert change["fullDocument"] is None
    assert change["fullDocumentBeforeChange"] is None
    with coll.watch(full_document="required", max_await_time_ms=AWAIT_MS) as stream:
        coll.update_one({"_id": 1}, {"$inc": {"n": 1}})
        with pytest.raises(OperationFailure) as e:
            stream.try_next()
    assert e.value.code == 280


def test_resume_after_and_tokens(db: Any) -> None:
    coll = fresh(db, "cs_resume")
    with coll.watch(max_await_time_ms=AWAIT_MS) as stream:
        coll.insert_many([{"_id": i} for i in range(1, 5)])
        changes = drain(stream)
        assert stream.resume_token == changes[-1]["_id"]
    tokens = [c["_id"]["_data"] for c in changes]
    assert tokens == sorted(tokens) and len(set(tokens)) == 4  # tokens sort in the oplog's order
    with coll.watch(resume_after=changes[1]["_id"], max_await_time_ms=AWAIT_MS) as stream:
        assert [c["documentKey"]["_id"] for c in drain(stream)] == [3, 4]
    with coll.watch(start_after=changes[0]["_id"], max_await_time_ms=AWAIT_MS) as stream:
        assert [c["documentKey"]["_id"] for c in drain(stream)] == [2, 3, 4]
    # a stream's token, resumed after more writes, gives those writes
    with coll.watch(max_await_time_ms=AWAIT_MS) as stream:
        stream.try_next()
        token = stream.resume_token
    coll.insert_one({"_id": 5})
    with coll.watch(resume_after=token, max_await_time_ms=AWAIT_MS) as stream:
        assert [c["documentKey"]["_id"] for c in drain(stream)] == [5]


def test_small_batches(db: Any) -> None:
    coll = fresh(db, "cs_batches")
    with coll.watch(max_await_time_ms=AWAIT_MS) as stream:
        stream.try_next()
        token = stream.resume_token
    coll.insert_many([{"_id": i} for i in range(7)])
    with coll.watch(resume_after=token, batch_size=2, max_await_time_ms=AWAIT_MS) as stream:
        assert [c["documentKey"]["_id"] for c in drain(stream)] == list(range(7))
    reply = db.command(
        "aggregate", "cs_batches", pipeline=[{"$changeStream": {"resumeAfter": token}}], cursor={"batchSize": 3}
    )
    first = reply["cursor"]["firstBatch"]
    assert [c["documentKey"]["_id"] for c in first] == [0, 1, 2]
    assert reply["cursor"]["postBatchResumeToken"] == first[-1]["_id"]
    db.command("killCursors", "cs_batches", cursors=[reply["cursor"]["id"]])


def test_start_at_operation_time(db: Any) -> None:
    coll = fresh(db, "cs_start_at")
    with coll.watch(max_await_time_ms=AWAIT_MS) as stream:
        coll.insert_many([{"_id": 1}, {"_id": 2}, {"_id": 3}])
        changes = drain(stream)
    with coll.watch(start_at_operation_time=changes[1]["clusterTime"], max_await_time_ms=AWAIT_MS) as stream:
        assert [c["documentKey"]["_id"] for c in drain(stream)] == [2, 3]  # from that time on, inclusive


def test_post_batch_resume_token_and_await(db: Any) -> None:
    coll = fresh(db, "cs_pbrt")
    reply = db.command("aggregate", "cs_pbrt", pipeline=[{"$changeStream": {}}], cursor={})
    cursor = reply["cursor"]
    assert cursor["firstBatch"] == [] and cursor["id"] != 0 and cursor["ns"] == f"{db.name}.cs_pbrt"
    assert set(cursor["postBatchResumeToken"]) == {"_data"}
    start = time.monotonic()
    more = db.command("getMore", cursor["id"], collection="cs_pbrt", maxTimeMS=400)["cursor"]
    assert time.monotonic() - start >= 0.35  # awaited maxTimeMS
    assert more["nextBatch"] == [] and more["id"] == cursor["id"]
    coll.insert_one({"_id": 1})
    more = db.command("getMore", cursor["id"], collection="cs_pbrt", maxTimeMS=400)["cursor"]
    assert [c["operationType"] for c in more["nextBatch"]] == ["insert"]
    assert more["postBatchResumeToken"] == more["nextBatch"][0]["_id"]
    db.command("killCursors", "cs_pbrt", cursors=[cursor["id"]])


def test_get_more_wakes_on_write(db: Any) -> None:
    """A getMore waiting for events answers as soon as one is written."""
    import threading

    coll = fresh(db, "cs_wake")
    with coll.watch(max_await_time_ms=5000) as stream:
        threading.Timer(0.3, lambda: coll.insert_one({"_id": 1})).start()
        start = time.monotonic()
        change = stream.try_next()
        assert change is not None and change["documentKey"] == {"_id": 1}
        assert time.monotonic() - start < 3


@pytest.mark.parametrize(
    ("pipeline", "expected"),
    [
        ([{"$match": {"operationType": "insert"}}], [("insert", 1), ("insert", 2)]),
        ([{"$match": {"operationType": {"$in": ["update", "delete"]}}}], [("update", 1), ("delete", 1)]),
        ([{"$match": {"fullDocument.n": {"$gt": 1}}}], [("insert", 2)]),
        (
            [{"$project": {"operationType": 1, "documentKey": 1}}],
            [("insert", 1), ("update", 1), ("delete", 1), ("insert", 2)],
        ),
    ],
)
def test_pipeline_after_change_stream(db: Any, pipeline: list[Any], expected: list[Any]) -> None:
    coll = fresh(db, "cs_pipeline")
    with coll.watch(pipeline, max_await_time_ms=AWAIT_MS) as stream:
        coll.insert_one({"_id": 1, "n": 1})
        coll.update_one({"_id": 1}, {"$set": {"n": 0}})
        coll.delete_one({"_id": 1})
        coll.insert_one({"_id": 2, "n": 2})
        changes = drain(stream)
    assert [(c["operationType"], c["documentKey"]["_id"]) for c in changes] == expected
    if "$project" in pipeline[0]:
        assert set(changes[0]) == {"_id", "operationType", "documentKey"}


def test_pipeline_add_fields_and_replace_root(db: Any) -> None:
    coll = fresh(db, "cs_pipeline2")
    pipeline = [
        {"$addFields": {"newField": "this is an added field!"}},
        {"$replaceRoot": {"newRoot": {"_id": "$_id", "op": "$operationType", "extra": "$newField"}}},
    ]
    with coll.watch(pipeline, max_await_time_ms=AWAIT_MS) as stream:
        coll.insert_one({"_id": 1})
        change = stream.try_next()
    assert change["op"] == "insert" and change["extra"] == "this is an added field!"
    assert set(change) == {"_id", "op", "extra"}


def test_database_watch(db: Any) -> None:
    a, b = fresh(db, "cs_db_a"), fresh(db, "cs_db_b")
    with db.watch(max_await_time_ms=AWAIT_MS) as stream:
        a.insert_one({"_id": 1})
        b.insert_one({"_id": 2})
        a.delete_one({"_id": 1})
        changes = drain(stream)
    assert [(c["operationType"], c["ns"]) for c in changes] == [
        ("insert", {"db": db.name, "coll": "cs_db_a"}),
        ("insert", {"db": db.name, "coll": "cs_db_b"}),
        ("delete", {"db": db.name, "coll": "cs_db_a"}),
    ]


def test_cluster_watch(db: Any) -> None:
    coll = fresh(db, "cs_cluster")
    with db.client.watch([{"$match": {"ns.db": db.name}}], max_await_time_ms=AWAIT_MS) as stream:
        coll.insert_one({"_id": 1})
        coll.update_one({"_id": 1}, {"$set": {"a": 1}})
        changes = drain(stream)
    assert [(c["operationType"], c["ns"]) for c in changes] == [
        ("insert", {"db": db.name, "coll": "cs_cluster"}),
        ("update", {"db": db.name, "coll": "cs_cluster"}),
    ]


def test_drop_invalidates(db: Any) -> None:
    coll = fresh(db, "cs_drop")
    coll.insert_one({"_id": 1})
    with coll.watch(max_await_time_ms=AWAIT_MS) as stream, db.watch(max_await_time_ms=AWAIT_MS) as db_stream:
        coll.drop()
        changes = drain(stream)
        assert not stream.alive  # the cursor is closed after invalidate
        db_changes = drain(db_stream)
        assert db_stream.alive
    assert [without_meta(c) for c in changes] == [
        {"operationType": "drop", "ns": {"db": db.name, "coll": "cs_drop"}},
        {"operationType": "invalidate"},
    ]
    assert [c["operationType"] for c in db_changes] == ["drop"]
    invalidate = changes[1]["_id"]
    # startAfter an invalidate starts a new stream; resumeAfter refuses it (260)
    coll.insert_one({"_id": 2})
    with coll.watch(start_after=invalidate, max_await_time_ms=AWAIT_MS) as stream:
        assert [(c["operationType"], c["documentKey"]) for c in drain(stream)] == [("insert", {"_id": 2})]
    assert errcode(lambda: coll.watch(resume_after=invalidate)) == 260


def test_rename_invalidates(db: Any) -> None:
    fresh(db, "cs_renamed")
    coll = fresh(db, "cs_rename")
    coll.insert_one({"_id": 1})
    with coll.watch(max_await_time_ms=AWAIT_MS) as stream:
        coll.rename("cs_renamed")
        changes = drain(stream)
        assert not stream.alive
    assert [without_meta(c) for c in changes] == [
        {
            "operationType": "rename",
            "ns": {"db": db.name, "coll": "cs_rename"},
            "to": {"db": db.name, "coll": "cs_renamed"},
        },
        {"operationType": "invalidate"},
    ]


def test_drop_database(db: Any) -> None:
    other = db.client[db.name + "_cs"]
    try:
        other.c.insert_one({"_id": 1})
        with other.watch(max_await_time_ms=AWAIT_MS) as stream:
            db.client.drop_database(other.name)
            changes = drain(stream)
            assert not stream.alive
    except OperationFailure as e:
        if e.code == 13:
            pytest.skip("no access to a second database")
        raise
    assert [without_meta(c) for c in changes] == [
        {"operationType": "drop", "ns": {"db": other.name, "coll": "c"}},
        {"operationType": "dropDatabase", "ns": {"db": other.name}},
        {"operationType": "invalidate"},
    ]


@pytest.mark.parametrize(
    ("pipeline", "code"),
    [
        ([{"$match": {"x": 1}}, {"$changeStream": {}}], 40602),  # not the first stage
        ([{"$changeStream": {}}, {"$changeStream": {}}], 40602),
        ([{"$changeStream": {}}, {"$group": {"_id": None}}], 20),  # not allowed after $changeStream
        ([{"$changeStream": {}}, {"$sort": {"_id": 1}}], 20),
        ([{"$changeStream": {"unknownOption": 1}}], 40415),
        ([{"$changeStream": 1}], 50808),
        ([{"$changeStream": {"fullDocument": "nope"}}], 2),
        ([{"$changeStream": {"startAtOperationTime": 1}}], 14),
        ([{"$changeStream": {"resumeAfter": {"_data": "zz"}}}], 260),
        ([{"$changeStream": {"resumeAfter": {"_data": "82000000010000000100010000"[:24]}}}], 286),
        (
            [
                {
                    "$changeStream": {
                        "resumeAfter": {"_data": "8200000001000000010001" + "00"},
                        "startAfter": {"_data": "8200000001000000010001" + "00"},
                    }
                }
            ],
            50865,
        ),
        (
            [
                {
                    "$changeStream": {
                        "resumeAfter": {"_data": "8200000001000000010001" + "00"},
                        "startAtOperationTime": Timestamp(1, 1),
                    }
                }
            ],
            40674,
        ),
        ([{"$changeStream": {"allChangesForCluster": True}}], 72),  # only on admin
    ],
)
def test_errors(db: Any, pipeline: list[Any], code: int) -> None:
    fresh(db, "cs_errors").insert_one({"_id": 1})
    assert errcode(lambda: db.command("aggregate", "cs_errors", pipeline=pipeline, cursor={})) == code


def test_internal_namespaces_refused(db: Any) -> None:
    # the admin database only with allChangesForCluster, never a system collection (InvalidNamespace)
    admin = db.client.admin
    assert errcode(lambda: admin.command("aggregate", 1, pipeline=[{"$changeStream": {}}], cursor={})) == 73
    pipeline = [{"$changeStream": {}}]
    assert errcode(lambda: db.command("aggregate", "system.views", pipeline=pipeline, cursor={})) == 73
    # the database and cluster streams answer with the collection-less namespace
    reply = db.command("aggregate", 1, pipeline=pipeline, cursor={})
    assert reply["cursor"]["ns"] == f"{db.name}.$cmd.aggregate"
    db.command("killCursors", "$cmd.aggregate", cursors=[reply["cursor"]["id"]])
    reply = admin.command("aggregate", 1, pipeline=[{"$changeStream": {"allChangesForCluster": True}}], cursor={})
    assert reply["cursor"]["ns"] == "admin.$cmd.aggregate"
    admin.command("killCursors", "$cmd.aggregate", cursors=[reply["cursor"]["id"]])


def test_modified_id_is_refused(db: Any) -> None:
    coll = fresh(db, "cs_modified_id")
    with coll.watch([{"$project": {"_id": 0}}], max_await_time_ms=AWAIT_MS) as stream:
        coll.insert_one({"_id": 1})
        with pytest.raises(OperationFailure) as e:
            stream.try_next()
    assert e.value.code == 280


def test_aggregate_one_without_change_stream_unchanged(db: Any) -> None:
    # {aggregate: 1} without $changeStream first answers as before the patch
    assert errcode(lambda: db.command("aggregate", 1, pipeline=[{"$match": {}}], cursor={})) is not None
