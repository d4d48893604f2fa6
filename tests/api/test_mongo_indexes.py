"""The index options of engine patch 0016, through pymongo: sparse indexes, partial indexes
(partialFilterExpression), TTL indexes (expireAfterSeconds, the TTL monitor, setParameter /
getParameter ttlMonitorSleepSecs, collMod of an index's expireAfterSeconds), the options listIndexes
gives back, and createIndexes' conflicts between an index and an existing one. Each test runs
MongoDB's documentation example where there is one and checks its documented answer, plus the
error codes MongoDB 5.0 gives for what it refuses. The patch works on both storage backends
(SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError, OperationFailure


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)  # BSON dates come back naive (UTC)


def fresh(db: Any, name: str, docs: list[dict[str, Any]] | None = None) -> Any:
    db.drop_collection(name)
    if docs:
        db[name].insert_many(docs)
    return db[name]


def indexes(coll: Any) -> dict[str, dict[str, Any]]:
    """listIndexes, by name, without the version field."""
    return {i["name"]: {k: v for k, v in i.items() if k != "v"} for i in coll.list_indexes()}


def error(fn: Any, *args: Any, **kwargs: Any) -> tuple[int | None, str]:
    with pytest.raises(OperationFailure) as e:
        fn(*args, **kwargs)
    return e.value.code, str((e.value.details or {}).get("errmsg", ""))


def inserted(coll: Any, doc: Any) -> bool:
    """True if the document was inserted, False if it was a duplicate key (11000)."""
    try:
        coll.insert_one(doc)
    except DuplicateKeyError:
        return False
    return True


# sparse indexes


def test_sparse_index_leaves_out_documents_without_the_field(db: Any) -> None:
    """Sparse Indexes: "Sparse Index On A Collection Cannot Return Complete Results" - the queries
    still return every matching document (the engine never answers through a sparse index a query
    that could match documents outside it)."""
    scores = fresh(
        db,
        "scores",
        [{"userid": "newbie"}, {"userid": "abby", "score": 82}, {"userid": "nina", "score": 90}],
    )
    assert scores.create_index([("score", ASCENDING)], sparse=True) == "score_1"
    assert indexes(scores)["score_1"] == {"key": {"score": 1}, "name": "score_1", "sparse": True}

    assert [d["userid"] for d in scores.find({"score": {"$lt": 90}}, {"_id": 0})] == ["abby"]
    assert [d["userid"] for d in scores.find().sort("score", DESCENDING)] == ["nina", "abby", "newbie"]
    assert [d["userid"] for d in scores.find({"score": None})] == ["newbie"]
    assert scores.count_documents({}) == 3


def test_sparse_unique_index_allows_many_documents_without_the_field(db: Any) -> None:
    """Sparse Indexes: "Sparse Index with Unique Constraint"."""
    scores = fresh(
        db,
        "scores",
        [{"userid": "newbie"}, {"userid": "abby", "score": 82}, {"userid": "nina", "score": 90}],
    )
    scores.create_index([("score", ASCENDING)], sparse=True, unique=True)
    assert indexes(scores)["score_1"] == {"key": {"score": 1}, "name": "score_1", "unique": True, "sparse": True}

    for doc in [{"userid": "newbie", "score": 43}, {"userid": "abby", "score": 34}, {"userid": "nina"}]:
        assert inserted(scores, doc), doc
    for doc in [{"userid": "newbie", "score": 82}, {"userid": "abby", "score": 90}]:
        assert not inserted(scores, doc), doc
    assert inserted(scores, {"userid": "x", "score": None})  # null is indexed ...
    assert not inserted(scores, {"userid": "y", "score": None})  # ... and unique


def test_unique_index_without_sparse_holds_a_missing_field_as_null(db: Any) -> None:
    """Unique Indexes: "Missing Document Field in a Unique Single-Field Index" - a second document
    without the field (or with null) is a duplicate; a unique index over several documents without
    it cannot be built (11000)."""
    coll = fresh(db, "unique_missing")
    coll.create_index("x", unique=True)
    assert inserted(coll, {"_id": 1})
    assert not inserted(coll, {"_id": 2})
    assert not inserted(coll, {"_id": 3, "x": None})

    coll = fresh(db, "unique_missing_build", [{"_id": 1}, {"_id": 2}])
    code, msg = error(coll.create_index, "x", unique=True)
    assert code == 11000
    assert "E11000 duplicate key error" in msg
    assert coll.create_index("x", unique=True, sparse=True) == "x_1"


def test_sparse_option_errors(db: Any) -> None:
    coll = fresh(db, "sparse_errors", [{"_id": 1}])
    code, _ = error(
        db.command, "createIndexes", "sparse_errors", indexes=[{"key": {"_id": 1}, "name": "_id_", "sparse": True}]
    )
    assert code == 197  # InvalidIndexSpecificationOption: not valid for an _id index
    code, _ = error(coll.create_index, "a", sparse="yes")
    assert code == 14  # TypeMismatch


# partial indexes


@pytest.fixture()
def restaurants(db: Any) -> Any:
    return fresh(
        db,
        "restaurants",
        [
            {"_id": 1, "cuisine": "Italian", "name": "Roma", "rating": 9},
            {"_id": 2, "cuisine": "Italian", "name": "Milano", "rating": 4},
            {"_id": 3, "cuisine": "Italian", "name": "Napoli"},
            {"_id": 4, "cuisine": "Thai", "name": "Bangkok", "rating": 7},
        ],
    )


def test_partial_index_queries_stay_complete(restaurants: Any) -> None:
    """Partial Indexes: the restaurants example. Queries the index cannot answer (documents outside
    it may match) return every matching document."""
    restaurants.create_index(
        [("cuisine", ASCENDING), ("name", ASCENDING)], partialFilterExpression={"rating": {"$gt": 5}}
    )
    assert indexes(restaurants)["cuisine_1_name_1"] == {
        "key": {"cuisine": 1, "name": 1},
        "name": "cuisine_1_name_1",
        "partialFilterExpression": {"rating": {"$gt": 5}},
    }

    def ids(f: dict[str, Any]) -> list[Any]:
        return sorted(d["_id"] for d in restaurants.find(f))

    assert ids({"cuisine": "Italian", "rating": {"$gte": 8}}) == [1]
    assert ids({"cuisine": "Italian", "rating": {"$lt": 8}}) == [2]
    assert ids({"cuisine": "Italian"}) == [1, 2, 3]
    assert [d["_id"] for d in restaurants.find({"cuisine": "Italian"}).sort("name", ASCENDING)] == [2, 3, 1]


def test_partial_unique_index_enforces_uniqueness_among_matching_documents(db: Any) -> None:
    """Partial Indexes: "Partial Index with Unique Constraint"."""
    users = fresh(
        db,
        "users",
        [
            {"username": "david", "age": 29},
            {"username": "amanda", "age": 35},
            {"username": "rajiv", "age": 57},
        ],
    )
    users.create_index("username", unique=True, partialFilterExpression={"age": {"$gte": 21}})
    assert indexes(users)["username_1"] == {
        "key": {"username": 1},
        "name": "username_1",
        "unique": True,
        "partialFilterExpression": {"age": {"$gte": 21}},
    }
    doc: Any
    for doc in [{"username": "david", "age": 27}, {"username": "amanda", "age": 25}, {"username": "rajiv", "age": 32}]:
        assert not inserted(users, doc), doc
    for doc in [{"username": "david", "age": 20}, {"username": "amanda"}, {"username": "rajiv", "age": None}]:
        assert inserted(users, doc), doc
    # MongoDB's matching: an array matches when one element does; "30" is a string, not a number
    assert not inserted(users, {"username": "david", "age": [3, 40]})
    assert inserted(users, {"username": "david", "age": "30"})


@pytest.mark.parametrize(
    ("filter_", "docs", "duplicate"),
    [
        ({"email": {"$exists": True}}, [{"other": 1}, {}], [{"email": None}, {"email": "a@x"}]),
        ({"kind": "member"}, [{"kind": "guest"}, {"kind": ["guest", "staff"]}], [{"kind": ["member"]}]),
        (
            {"when": {"$lt": dt.datetime(2030, 1, 1)}},
            [{"when": 0}, {"when": "2020"}],
            [{"when": dt.datetime(2020, 1, 1)}],
        ),
        ({"v": {"$type": "string"}}, [{"v": 5}, {"v": None}], [{"v": ["a", 1]}]),
        ({"v": {"$type": "number"}}, [{"v": "5"}, {"v": True}], [{"v": 5.5}]),
        ({"n.m": {"$gt": 1}}, [{"n": {"m": 0}}, {"n": [{"m": 1}]}], [{"n": [{"m": 0}, {"m": 2}]}]),
        ({"$and": [{"p": {"$gte": 2}}, {"p": {"$lte": 5}}]}, [{"p": 1}, {"p": 6}], [{"p": 3}]),
        ({"p": {"$gt": 1, "$lt": 6}, "q": True}, [{"p": 3, "q": False}, {"p": 3}], [{"p": 5, "q": True}]),
    ],
)
def test_partial_filter_expression_operators(
    db: Any, filter_: dict[str, Any], docs: list[dict[str, Any]], duplicate: list[dict[str, Any]]
) -> None:
    """Each operator MongoDB allows in a partialFilterExpression (equality, $exists: true, $gt, $gte,
    $lt, $lte, $type, $and): with a unique partial index on a constant field, the documents the filter
    does not match never conflict; one that matches conflicts with the first matching one."""
    coll = fresh(db, "partial_ops")
    coll.create_index("k", unique=True, partialFilterExpression=filter_)
    firsts: dict[str, dict[str, Any]] = {
        "email": {"email": "b@x"},
        "kind": {"kind": "member"},
        "when": {"when": dt.datetime(2001, 1, 1)},
        "v": {"v": "s"} if "string" in str(filter_) else {"v": 1},
        "n.m": {"n": {"m": 5}},
        "$and": {"p": 2},
        "p": {"p": 2, "q": True},
    }
    first = firsts[next(iter(filter_))]
    assert inserted(coll, {"k": 1, **first})
    for doc in docs:
        assert inserted(coll, {"k": 1, **doc}), doc
    for doc in duplicate:
        assert not inserted(coll, {"k": 1, **doc}), doc


@pytest.mark.parametrize(
    ("filter_", "code", "message"),
    [
        ({"a": {"$in": [1, 2]}}, 67, "unsupported expression in partial index: a $in [ 1 2 ]"),
        ({"$or": [{"a": 1}, {"b": 1}]}, 67, "unsupported expression in partial index: $or"),
        ({"a": {"$exists": False}}, 67, "unsupported expression in partial index: $not"),
        ({"a": {"$ne": 1}}, 67, "unsupported expression in partial index: $not"),
        ({"a": {"$not": {"$gt": 1}}}, 67, "unsupported expression in partial index: $not"),
        ({"$and": [{"$and": [{"a": 1}]}]}, 67, "$and only supported in partialFilterExpression at top level"),
        ({"a": {"$foo": 1}}, 2, "unknown operator: $foo"),
    ],
)
def test_partial_filter_expression_refused(db: Any, filter_: dict[str, Any], code: int, message: str) -> None:
    coll = fresh(db, "partial_refused", [{"_id": 1}])
    got_code, msg = error(coll.create_index, "a", partialFilterExpression=filter_)
    assert got_code == code
    assert msg.startswith(message)
    assert list(indexes(coll)) == ["_id_"]


def test_partial_filter_expression_option_errors(db: Any) -> None:
    coll = fresh(db, "partial_errors", [{"_id": 1}])
    code, msg = error(coll.create_index, "a", partialFilterExpression={"b": 1}, sparse=True)
    assert code == 67
    assert 'cannot mix "partialFilterExpression" and "sparse" options' in msg
    code, _ = error(
        db.command,
        "createIndexes",
        "partial_errors",
        indexes=[{"key": {"a": 1}, "name": "a_1", "partialFilterExpression": 1}],
    )
    assert code == 14


# TTL indexes


@pytest.fixture()
def fast_ttl_monitor(db: Any) -> Any:
    """ttlMonitorSleepSecs at 1 (setParameter on admin), restored after the test."""
    admin = db.client.admin
    was = admin.command("setParameter", 1, ttlMonitorSleepSecs=1)["was"]
    yield
    admin.command("setParameter", 1, ttlMonitorSleepSecs=was)


def wait_for(predicate: Any, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return bool(predicate())


def test_ttl_index_deletes_expired_documents(db: Any, fast_ttl_monitor: Any) -> None:
    """Expire Data from a Collection by Setting TTL: the eventlog example. A document expires when its
    date (the earliest one of an array) is older than expireAfterSeconds; other values never expire."""
    t = now()
    eventlog = fresh(
        db,
        "eventlog",
        [
            {"_id": "old", "lastModifiedDate": t - dt.timedelta(hours=2)},
            {"_id": "recent", "lastModifiedDate": t},
            {"_id": "array", "lastModifiedDate": [t, t - dt.timedelta(hours=3)]},
            {"_id": "string", "lastModifiedDate": "2000-01-01"},
            {"_id": "number", "lastModifiedDate": 0},
            {"_id": "missing"},
        ],
    )
    eventlog.create_index("lastModifiedDate", expireAfterSeconds=3600)
    assert indexes(eventlog)["lastModifiedDate_1"] == {
        "key": {"lastModifiedDate": 1},
        "name": "lastModifiedDate_1",
        "expireAfterSeconds": 3600,
    }
    assert wait_for(lambda: eventlog.count_documents({}) == 4)
    assert sorted(d["_id"] for d in eventlog.find()) == ["missing", "number", "recent", "string"]


def test_ttl_index_expires_at_a_specific_clock_time(db: Any, fast_ttl_monitor: Any) -> None:
    """Expire Documents at a Specific Clock Time: expireAfterSeconds 0 and the expiry date in the
    document; a partial TTL index expires only the documents it holds."""
    log_events = fresh(db, "log_events")
    log_events.create_index("expireAt", expireAfterSeconds=0)
    log_events.insert_many(
        [
            {"expireAt": dt.datetime(2013, 7, 22, 14), "logEvent": 2, "logMessage": "Success!"},
            {"expireAt": now() + dt.timedelta(hours=1), "logEvent": 3, "logMessage": "Later"},
        ]
    )
    assert wait_for(lambda: log_events.count_documents({}) == 1)
    assert [d["logEvent"] for d in log_events.find()] == [3]

    partial = fresh(db, "ttl_partial")
    partial.create_index("at", expireAfterSeconds=0, partialFilterExpression={"kind": "temp"})
    partial.insert_many(
        [{"_id": 1, "at": dt.datetime(2001, 1, 1), "kind": "temp"}, {"_id": 2, "at": dt.datetime(2001, 1, 1)}]
    )
    assert wait_for(lambda: partial.count_documents({}) == 1)
    time.sleep(1.5)
    assert [d["_id"] for d in partial.find()] == [2]


@pytest.mark.parametrize(
    ("spec", "code", "message"),
    [
        (
            {"key": {"a": 1}, "name": "a_1", "expireAfterSeconds": -1},
            67,
            "TTL index 'expireAfterSeconds' option cannot be less than 0",
        ),
        (
            {"key": {"a": 1}, "name": "a_1", "expireAfterSeconds": "1"},
            67,
            "TTL index 'expireAfterSeconds' option must be numeric",
        ),
        (
            {"key": {"a": 1, "b": 1}, "name": "a_1_b_1", "expireAfterSeconds": 1},
            67,
            "TTL indexes are single-field indexes, compound indexes do not support TTL",
        ),
        (
            {"key": {"_id": 1}, "name": "_id_", "expireAfterSeconds": 1},
            197,
            "The field 'expireAfterSeconds' is not valid for an _id index specification",
        ),
    ],
)
def test_ttl_index_refused(db: Any, spec: dict[str, Any], code: int, message: str) -> None:
    fresh(db, "ttl_refused", [{"_id": 1}])
    got_code, msg = error(db.command, "createIndexes", "ttl_refused", indexes=[spec])
    assert got_code == code
    assert message in msg


def test_ttl_monitor_sleep_secs_parameter(db: Any) -> None:
    """setParameter / getParameter ttlMonitorSleepSecs (default 60, as MongoDB; admin only)."""
    admin = db.client.admin
    start = admin.command("getParameter", 1, ttlMonitorSleepSecs=1)["ttlMonitorSleepSecs"]
    assert admin.command("setParameter", 1, ttlMonitorSleepSecs=7) == {"was": start, "ok": 1.0}
    assert admin.command("getParameter", 1, ttlMonitorSleepSecs=1) == {"ttlMonitorSleepSecs": 7, "ok": 1.0}
    details = admin.command("getParameter", {"showDetails": True}, ttlMonitorSleepSecs=1)["ttlMonitorSleepSecs"]
    assert details == {"value": 7, "settableAtRuntime": True, "settableAtStartup": True}
    assert admin.command("setParameter", 1, ttlMonitorSleepSecs=start)["was"] == 7

    assert error(db.command, "setParameter", 1, ttlMonitorSleepSecs=1)[0] == 13  # not admin
    assert error(admin.command, "setParameter", 1, noSuchParameter=1)[0] == 72
    assert error(admin.command, "setParameter", 1)[0] == 72
    assert error(admin.command, "setParameter", 1, ttlMonitorSleepSecs=0)[0] == 2
    assert error(admin.command, "setParameter", 1, ttlMonitorSleepSecs="x")[0] == 2


def test_collmod_changes_expire_after_seconds(db: Any) -> None:
    """Expire Data: "Change the expireAfterSeconds value for a TTL Index" with collMod, by key pattern
    or by name; MongoDB 5.0 answers the old and new values and refuses non-TTL indexes."""
    tickets = fresh(db, "tickets", [{"_id": 1}])
    tickets.create_index("lastModifiedDate", expireAfterSeconds=3600)
    tickets.create_index("other")
    reply = db.command("collMod", "tickets", index={"keyPattern": {"lastModifiedDate": 1}, "expireAfterSeconds": 100})
    assert reply == {"expireAfterSeconds_old": 3600, "expireAfterSeconds_new": 100, "ok": 1.0}
    assert indexes(tickets)["lastModifiedDate_1"]["expireAfterSeconds"] == 100
    reply = db.command("collMod", "tickets", index={"name": "lastModifiedDate_1", "expireAfterSeconds": 50})
    assert reply["expireAfterSeconds_new"] == 50
    assert indexes(tickets)["lastModifiedDate_1"]["expireAfterSeconds"] == 50

    assert error(db.command, "collMod", "tickets", index={"name": "other_1", "expireAfterSeconds": 5})[0] == 72
    assert error(db.command, "collMod", "tickets", index={"name": "nope", "expireAfterSeconds": 5})[0] == 27
    assert error(db.command, "collMod", "tickets", index={"keyPattern": {"nope": 1}, "expireAfterSeconds": 5})[0] == 27
    assert error(db.command, "collMod", "no_such_collection", index={"name": "x", "expireAfterSeconds": 5})[0] == 26
    assert error(db.command, "collMod", "tickets", index={"name": "lastModifiedDate_1"})[0] == 72


# listIndexes and createIndexes conflicts


def test_list_indexes_returns_every_option(db: Any) -> None:
    coll = fresh(db, "options")
    coll.create_index("a", unique=True, sparse=True)
    coll.create_index("b", unique=True, partialFilterExpression={"c": {"$exists": True}})
    coll.create_index("d", expireAfterSeconds=30, sparse=True)
    got = indexes(coll)
    assert got["_id_"] == {"key": {"_id": 1}, "name": "_id_"}
    assert got["a_1"] == {"key": {"a": 1}, "name": "a_1", "unique": True, "sparse": True}
    assert got["b_1"] == {
        "key": {"b": 1},
        "name": "b_1",
        "unique": True,
        "partialFilterExpression": {"c": {"$exists": True}},
    }
    assert got["d_1"] == {"key": {"d": 1}, "name": "d_1", "sparse": True, "expireAfterSeconds": 30}


def test_create_indexes_conflicts(db: Any) -> None:
    """MongoDB's rules: the key pattern and partialFilterExpression identify an index; unique,
    sparse and expireAfterSeconds are other options."""
    coll = fresh(db, "conflicts")
    coll.create_index("a", name="a_1", sparse=True)

    # identical: nothing to do
    reply = db.command("createIndexes", "conflicts", indexes=[{"key": {"a": 1}, "name": "a_1", "sparse": True}])
    assert reply["note"] == "all indexes already exist"

    # same name and key, other options: IndexOptionsConflict
    code, msg = error(coll.create_index, "a", name="a_1", unique=True)
    assert code == 85
    assert msg.startswith("An equivalent index already exists with the same name but different options.")
    assert error(coll.create_index, "a", name="a_1", sparse=True, expireAfterSeconds=5)[0] == 85

    # same name, other key or partialFilterExpression: IndexKeySpecsConflict
    assert error(coll.create_index, "b", name="a_1")[0] == 86
    assert error(coll.create_index, "a", name="a_1", partialFilterExpression={"x": 1})[0] == 86

    # other name, same key and partialFilterExpression: IndexOptionsConflict
    code, msg = error(coll.create_index, "a", name="other", sparse=True)
    assert (code, msg) == (85, "Index already exists with a different name: a_1")
    code, msg = error(coll.create_index, "a", name="other", unique=True)
    assert code == 85
    assert msg.startswith("An equivalent index already exists with a different name and options.")

    # other name, same key, another partialFilterExpression: a second index
    assert coll.create_index("a", name="a_partial", partialFilterExpression={"x": {"$gt": 1}}) == "a_partial"
    assert sorted(indexes(coll)) == ["_id_", "a_1", "a_partial"]


def test_drop_index_by_a_key_pattern_shared_by_partial_indexes(db: Any) -> None:
    """Two indexes with one key pattern (different partialFilterExpressions): dropping by key pattern
    is ambiguous (AmbiguousIndexKeyPattern, 301), by name it works; queries stay complete."""
    coll = fresh(db, "shared_key", [{"_id": 1, "a": 1, "x": 5}, {"_id": 2, "a": 1}])
    coll.create_index("a", name="a_x", partialFilterExpression={"x": {"$gt": 1}})
    coll.create_index("a", name="a_y", partialFilterExpression={"y": {"$exists": True}})
    assert sorted(d["_id"] for d in coll.find({"a": 1})) == [1, 2]
    code, msg = error(db.command, "dropIndexes", "shared_key", index={"a": 1})
    assert code == 301
    assert msg.startswith("2 indexes found for key: { a: 1 }, identify by name instead.")
    coll.drop_index("a_x")
    db.command("dropIndexes", "shared_key", index={"a": 1})
    assert list(indexes(coll)) == ["_id_"]
