"""Write errors of the batch write commands (engine patch 0019), through pymongo, with MongoDB 5.0's
semantics: `update`, `delete` and `insert` never fail as a whole because one statement failed; each
failing statement is a `writeErrors` entry `{index, code, errmsg}` (with `keyPattern` and `keyValue`
for a duplicate key, 11000) and the reply still has the counts of the statements that succeeded
(`n`, and for update `nModified` and `upserted`). `ordered: true` (the default) stops at the first
failing statement, `ordered: false` goes on. Errors about the command itself stay command errors,
and findAndModify reports its errors as command errors."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import DeleteOne, InsertOne, ReplaceOne, UpdateMany, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, WriteError

BAD_VALUE = 2
FAILED_TO_PARSE = 9
TYPE_MISMATCH = 14
CONFLICTING_UPDATE_OPERATORS = 40
DOLLAR_PREFIXED_FIELD_NAME = 52
INVALID_ID = 53
IMMUTABLE_FIELD = 66
INVALID_NAMESPACE = 73
DOCUMENT_VALIDATION_FAILURE = 121
DUPLICATE_KEY = 11000
MISSING_FIELD = 40414


def fresh(db: Any, name: str, docs: list[dict[str, Any]], unique: str | None = None, **options: Any) -> Any:
    """Creates the collection `name` anew with the documents (and a unique index on a field)."""
    db.drop_collection(name)
    coll = db.create_collection(name, **options)
    if unique:
        coll.create_index(unique, unique=True)
    if docs:
        coll.insert_many(docs)
    return coll


def errors_of(details: dict[str, Any]) -> list[tuple[int, int]]:
    return [(we["index"], we["code"]) for we in details["writeErrors"]]


def docs_of(coll: Any) -> list[dict[str, Any]]:
    return list(coll.find({}, sort=[("_id", 1)]))


# MongoDB's db.collection.bulkWrite() "pizzas" collection.
PIZZAS = [
    {"_id": 0, "type": "pepperoni", "size": "small", "price": 4},
    {"_id": 1, "type": "cheese", "size": "medium", "price": 7},
    {"_id": 2, "type": "vegan", "size": "large", "price": 8},
]


def test_bulk_write_example_without_errors(db: Any) -> None:
    """bulkWrite()'s documented example: every count of the mixed operations."""
    pizzas = fresh(db, "pizzas", PIZZAS)
    res = pizzas.bulk_write(
        [
            InsertOne({"_id": 3, "type": "beef", "size": "medium", "price": 6}),
            InsertOne({"_id": 4, "type": "sausage", "size": "large", "price": 10}),
            UpdateOne({"type": "cheese"}, {"$set": {"price": 8}}),
            DeleteOne({"type": "pepperoni"}),
            ReplaceOne({"type": "vegan"}, {"type": "tofu", "size": "small", "price": 4}),
        ]
    )
    assert (res.inserted_count, res.matched_count, res.modified_count, res.deleted_count) == (2, 2, 2, 1)
    assert res.upserted_count == 0


def test_bulk_write_duplicate_insert_ordered(db: Any) -> None:
    """On the same collection, a duplicate _id stops an ordered bulk write there."""
    pizzas = fresh(db, "pizzas", PIZZAS)
    with pytest.raises(BulkWriteError) as e:
        pizzas.bulk_write(
            [
                InsertOne({"_id": 5, "type": "feta", "size": "small", "price": 4}),
                InsertOne({"_id": 4, "type": "sausage", "size": "large", "price": 10}),
                InsertOne({"_id": 4, "type": "olive", "size": "medium", "price": 7}),
                InsertOne({"_id": 6, "type": "onion", "size": "small", "price": 4}),
            ]
        )
    details = e.value.details
    assert details["nInserted"] == 2
    assert errors_of(details) == [(2, DUPLICATE_KEY)]
    we = details["writeErrors"][0]
    assert we["keyPattern"] == {"_id": 1}
    assert we["keyValue"] == {"_id": 4}
    assert we["errmsg"] == f"E11000 duplicate key error collection: {db.name}.pizzas index: _id_ dup key: {{ _id: 4 }}"
    assert [d["_id"] for d in docs_of(pizzas)] == [0, 1, 2, 4, 5]


def test_bulk_update_ordered_stops_at_duplicate_key(db: Any) -> None:
    coll = fresh(db, "bulkord", [{"_id": 1, "a": 1}, {"_id": 2, "a": 2}, {"_id": 3, "a": 3}], unique="a")
    with pytest.raises(BulkWriteError) as e:
        coll.bulk_write(
            [
                UpdateOne({"_id": 1}, {"$set": {"b": 1}}),
                UpdateOne({"_id": 2}, {"$set": {"a": 1}}),  # a: 1 is taken
                UpdateOne({"_id": 3}, {"$set": {"b": 3}}),
            ]
        )
    details = e.value.details
    assert (details["nMatched"], details["nModified"], details["nUpserted"]) == (1, 1, 0)
    assert errors_of(details) == [(1, DUPLICATE_KEY)]
    we = details["writeErrors"][0]
    assert we["keyPattern"] == {"a": 1}
    assert we["keyValue"] == {"a": 1}
    assert we["errmsg"] == f"E11000 duplicate key error collection: {db.name}.bulkord index: a_1 dup key: {{ a: 1 }}"
    # the first statement stands, the third did not run
    assert docs_of(coll) == [{"_id": 1, "a": 1, "b": 1}, {"_id": 2, "a": 2}, {"_id": 3, "a": 3}]


def test_bulk_update_unordered_goes_on(db: Any) -> None:
    coll = fresh(db, "bulkunord", [{"_id": 1, "a": 1}, {"_id": 2, "a": 2}, {"_id": 3, "s": "x"}], unique="a")
    with pytest.raises(BulkWriteError) as e:
        coll.bulk_write(
            [
                UpdateOne({"_id": 1}, {"$set": {"b": 1}}),
                UpdateOne({"_id": 3}, {"$inc": {"s": 1}}),  # TypeMismatch
                UpdateOne({"_id": 3}, {"$set": {"_id": 30}}),  # ImmutableField
                UpdateOne({"_id": 2}, {"$set": {"a": 1}}),  # duplicate key
                UpdateOne({"_id": 4}, {"$set": {"a": 4}}, upsert=True),
                UpdateMany({"_id": {"$in": [1, 2]}}, {"$set": {"c": 1}}),
            ],
            ordered=False,
        )
    details = e.value.details
    assert (details["nMatched"], details["nModified"], details["nUpserted"]) == (3, 3, 1)
    assert errors_of(details) == [(1, TYPE_MISMATCH), (2, IMMUTABLE_FIELD), (3, DUPLICATE_KEY)]
    assert details["upserted"] == [{"index": 4, "_id": 4}]
    msgs = [we["errmsg"] for we in details["writeErrors"]]
    assert msgs[0] == (
        "Cannot apply $inc to a value of non-numeric type. {_id: 3} has the field 's' of non-numeric type string"
    )
    assert msgs[1] == "Performing an update on the path '_id' would modify the immutable field '_id'"
    assert docs_of(coll) == [
        {"_id": 1, "a": 1, "b": 1, "c": 1},
        {"_id": 2, "a": 2, "c": 1},
        {"_id": 3, "s": "x"},
        {"_id": 4, "a": 4},
    ]


def test_update_command_reply_counts_and_write_errors(db: Any) -> None:
    """The raw reply: ok 1, n, nModified, upserted at the statement's index, writeErrors."""
    fresh(db, "updcmd", [{"_id": 1, "a": 1}, {"_id": 2, "a": 2}], unique="a")
    res = db.command(
        "update",
        "updcmd",
        ordered=False,
        updates=[
            {"q": {"_id": 1}, "u": {"$set": {"b": 1}}},
            {"q": {"_id": 9}, "u": {"$set": {"a": 2}}, "upsert": True},  # upsert with a duplicate key
            {"q": {"_id": 8}, "u": {"$set": {"a": 8}}, "upsert": True},
        ],
    )
    assert res["ok"] == 1.0
    assert (res["n"], res["nModified"]) == (2, 1)
    assert res["upserted"] == [{"index": 2, "_id": 8}]
    assert errors_of(res) == [(1, DUPLICATE_KEY)]
    assert res["writeErrors"][0]["keyValue"] == {"a": 2}


def test_update_many_duplicate_key_is_a_write_error(db: Any) -> None:
    coll = fresh(db, "updmanydup", [{"_id": 1, "a": 1}, {"_id": 2, "a": 2}], unique="a")
    with pytest.raises(WriteError) as e:
        coll.update_many({}, {"$set": {"a": 7}})
    assert isinstance(e.value, DuplicateKeyError)
    assert e.value.code == DUPLICATE_KEY
    assert e.value.details["keyPattern"] == {"a": 1}
    assert e.value.details["keyValue"] == {"a": 7}

    # as MongoDB does, the failing statement is not counted (what it changed before stays changed)
    res = db.command("update", "updmanydup", updates=[{"q": {}, "u": {"$set": {"a": 5}}, "multi": True}])
    assert (res["n"], res["nModified"]) == (0, 0)
    assert errors_of(res) == [(0, DUPLICATE_KEY)]


def test_bulk_write_invalid_update_operator(db: Any) -> None:
    """A statement with an unknown modifier or a non-numeric $inc is a writeErrors entry: the bulk
    write's counts are those of the other statements (this used to be a reply without nModified)."""
    coll = fresh(db, "bulkbadop", [{"_id": 1, "n": 0}, {"_id": 2, "n": 0}])
    with pytest.raises(BulkWriteError) as e:
        coll.bulk_write(
            [
                UpdateOne({"_id": 1}, {"$inc": {"n": 1}}),
                UpdateOne({"_id": 1}, {"$foo": {"n": 1}}),
                UpdateOne({"_id": 2}, {"$inc": {"n": "one"}}),
                UpdateOne({"_id": 2}, {"$inc": {"n": 2}}),
            ],
            ordered=False,
        )
    details = e.value.details
    assert (details["nMatched"], details["nModified"], details["nUpserted"]) == (2, 2, 0)
    assert errors_of(details) == [(1, FAILED_TO_PARSE), (2, TYPE_MISMATCH)]
    assert docs_of(coll) == [{"_id": 1, "n": 1}, {"_id": 2, "n": 2}]

    with pytest.raises(WriteError) as e2:
        coll.update_one({"_id": 1}, {"$foo": {"n": 1}})
    assert e2.value.code == FAILED_TO_PARSE


def test_update_one_upsert_duplicate_key(db: Any) -> None:
    coll = fresh(db, "upsertdup", [{"_id": 1, "a": 1}], unique="a")
    with pytest.raises(DuplicateKeyError) as e:
        coll.update_one({"_id": 2}, {"$set": {"a": 1}}, upsert=True)
    assert e.value.code == DUPLICATE_KEY
    assert docs_of(coll) == [{"_id": 1, "a": 1}]


def test_replace_one_changing_id(db: Any) -> None:
    coll = fresh(db, "replid", [{"_id": 1, "a": 1}])
    with pytest.raises(WriteError) as e:
        coll.replace_one({"_id": 1}, {"_id": 2, "a": 2})
    assert e.value.code == IMMUTABLE_FIELD


@pytest.mark.parametrize(
    ("statement", "code", "errmsg"),
    [
        (
            {"q": {}, "u": {"$set": {"x": 1}, "$inc": {"x": 1}}},
            CONFLICTING_UPDATE_OPERATORS,
            "Updating the path 'x' would create a conflict at 'x'",
        ),
        (
            {"q": {}, "u": {"$foo": {"x": 1}}},
            FAILED_TO_PARSE,
            "Unknown modifier: $foo. Expected a valid update modifier or pipeline-style update specified as an array",
        ),
        (
            {"q": {}, "u": {"x": 1}, "multi": True},
            FAILED_TO_PARSE,
            "multi update is not supported for replacement-style update",
        ),
        (
            {"q": {}, "u": [{"$set": {"x": 1}}], "arrayFilters": [{"e": 1}]},
            FAILED_TO_PARSE,
            "arrayFilters may not be specified for pipeline-style updates",
        ),
        (
            {"q": {"$foo": 1}, "u": {"$set": {"x": 1}}},
            BAD_VALUE,
            "unknown top level operator: $foo. If you have a field name that starts with a '$' symbol, "
            "consider using $getField or $setField.",
        ),
        # a parse error: reported even when no document matches
        (
            {"q": {"_id": 99}, "u": {"$inc": {"n": "x"}}},
            TYPE_MISMATCH,
            'Cannot increment with non-numeric argument: {n: "x"}',
        ),
        (
            {"q": {"_id": 99}, "u": {"$mul": {"n": None}}},
            TYPE_MISMATCH,
            "Cannot multiply with non-numeric argument: {n: null}",
        ),
        ({"q": {"_id": 1}, "u": {"y": 2, "$set": {"x": 1}}}, DOLLAR_PREFIXED_FIELD_NAME, None),
    ],
)
def test_update_statement_errors_are_write_errors(
    db: Any, statement: dict[str, Any], code: int, errmsg: str | None
) -> None:
    """Errors of one statement (parsing or applying it) are writeErrors at its index: an ordered update
    stops there, an unordered one runs the next statements."""
    coll = fresh(db, "stmterr", [{"_id": 1, "n": 0, "s": 1}])
    good = {"q": {"_id": 1}, "u": {"$inc": {"n": 1}}}

    res = db.command("update", "stmterr", updates=[good, statement, good])
    assert (res["n"], res["nModified"]) == (1, 1)
    assert errors_of(res) == [(1, code)]
    if errmsg is not None:
        assert res["writeErrors"][0]["errmsg"] == errmsg
    assert coll.find_one({"_id": 1})["n"] == 1

    res = db.command("update", "stmterr", ordered=False, updates=[good, statement, good])
    assert (res["n"], res["nModified"]) == (2, 2)
    assert errors_of(res) == [(1, code)]
    assert coll.find_one({"_id": 1})["n"] == 3


def test_update_validation_failure_is_a_write_error(db: Any) -> None:
    coll = fresh(db, "updvalid", [{"_id": 1, "n": 1}, {"_id": 2, "n": 2}], validator={"n": {"$lt": 10}})
    with pytest.raises(BulkWriteError) as e:
        coll.bulk_write(
            [UpdateOne({"_id": 1}, {"$set": {"n": 50}}), UpdateOne({"_id": 2}, {"$set": {"n": 5}})],
            ordered=False,
        )
    details = e.value.details
    assert (details["nMatched"], details["nModified"]) == (1, 1)
    assert errors_of(details) == [(0, DOCUMENT_VALIDATION_FAILURE)]
    assert details["writeErrors"][0]["errInfo"]["failingDocumentId"] == 1


def test_insert_many_unordered_with_duplicates(db: Any) -> None:
    coll = fresh(db, "insdup", [{"_id": 1}, {"_id": 2}])
    with pytest.raises(BulkWriteError) as e:
        coll.insert_many([{"_id": 1}, {"_id": 10}, {"_id": 2}, {"_id": 11}], ordered=False)
    details = e.value.details
    assert details["nInserted"] == 2
    assert errors_of(details) == [(0, DUPLICATE_KEY), (2, DUPLICATE_KEY)]
    assert [we["keyValue"] for we in details["writeErrors"]] == [{"_id": 1}, {"_id": 2}]
    assert [d["_id"] for d in docs_of(coll)] == [1, 2, 10, 11]


def test_insert_many_ordered_stops_at_the_duplicate(db: Any) -> None:
    coll = fresh(db, "insdupord", [{"_id": 1}])
    with pytest.raises(BulkWriteError) as e:
        coll.insert_many([{"_id": 10}, {"_id": 1}, {"_id": 11}, {"_id": 1}])
    details = e.value.details
    assert details["nInserted"] == 1
    assert errors_of(details) == [(1, DUPLICATE_KEY)]
    assert [d["_id"] for d in docs_of(coll)] == [1, 10]


def test_insert_many_unique_index_duplicates(db: Any) -> None:
    coll = fresh(db, "insuniq", [{"_id": 1, "email": "a@x"}], unique="email")
    with pytest.raises(BulkWriteError) as e:
        coll.insert_many(
            [
                {"_id": 2, "email": "b@x"},
                {"_id": 3, "email": "a@x"},
                {"_id": 4, "email": "b@x"},
                {"_id": 5, "email": "c@x"},
            ],
            ordered=False,
        )
    details = e.value.details
    assert details["nInserted"] == 2
    assert errors_of(details) == [(1, DUPLICATE_KEY), (2, DUPLICATE_KEY)]
    assert [we["keyValue"] for we in details["writeErrors"]] == [{"email": "a@x"}, {"email": "b@x"}]
    assert details["writeErrors"][0]["keyPattern"] == {"email": 1}
    assert [d["_id"] for d in docs_of(coll)] == [1, 2, 5]


def test_insert_many_unordered_invalid_id(db: Any) -> None:
    coll = fresh(db, "insbadid", [])
    with pytest.raises(BulkWriteError) as e:
        coll.insert_many([{"_id": 1}, {"_id": [1]}, {"_id": 3}], ordered=False)
    details = e.value.details
    assert details["nInserted"] == 2
    assert errors_of(details) == [(1, INVALID_ID)]
    assert details["writeErrors"][0]["errmsg"] == "The '_id' value cannot be of type array"


def test_insert_one_duplicate(db: Any) -> None:
    coll = fresh(db, "insone", [{"_id": 1}])
    with pytest.raises(DuplicateKeyError) as e:
        coll.insert_one({"_id": 1})
    assert e.value.code == DUPLICATE_KEY
    assert e.value.details["keyValue"] == {"_id": 1}


@pytest.mark.parametrize(("ordered", "n", "remaining"), [(True, 1, [3]), (False, 2, [])])
def test_delete_statement_errors(db: Any, ordered: bool, n: int, remaining: list[int]) -> None:
    coll = fresh(db, "delerr", [{"_id": 1}, {"_id": 3}])
    res = db.command(
        "delete",
        "delerr",
        ordered=ordered,
        deletes=[{"q": {"_id": 1}, "limit": 1}, {"q": {"$foo": 1}, "limit": 1}, {"q": {"_id": 3}, "limit": 1}],
    )
    assert res["ok"] == 1.0
    assert res["n"] == n
    assert errors_of(res) == [(1, BAD_VALUE)]
    assert [d["_id"] for d in docs_of(coll)] == remaining


def test_bulk_delete_errors(db: Any) -> None:
    coll = fresh(db, "bulkdel", [{"_id": 1}, {"_id": 2}])
    with pytest.raises(BulkWriteError) as e:
        coll.bulk_write([DeleteOne({"_id": 1}), DeleteOne({"$bar": 1}), DeleteOne({"_id": 2})], ordered=False)
    details = e.value.details
    assert details["nRemoved"] == 2
    assert errors_of(details) == [(1, BAD_VALUE)]


@pytest.mark.parametrize(
    ("command", "code", "errmsg"),
    [
        ({"update": "cmderr"}, MISSING_FIELD, "BSON field 'update.updates' is missing but a required field"),
        (
            {"update": "cmderr", "updates": [{"q": {}}]},
            MISSING_FIELD,
            "BSON field 'update.updates.u' is missing but a required field",
        ),
        (
            {"update": "cmderr", "updates": [{"u": {"$set": {"a": 1}}}]},
            MISSING_FIELD,
            "BSON field 'update.updates.q' is missing but a required field",
        ),
        (
            {"update": "cmderr", "updates": [{"q": {}, "u": 1}]},
            FAILED_TO_PARSE,
            "Update argument must be either an object or an array",
        ),
        ({"update": "", "updates": [{"q": {}, "u": {"$set": {"a": 1}}}]}, INVALID_NAMESPACE, None),
        (
            {"delete": "cmderr", "deletes": [{"q": {}}]},
            MISSING_FIELD,
            "BSON field 'delete.deletes.limit' is missing but a required field",
        ),
    ],
)
def test_errors_of_the_command_stay_command_errors(
    db: Any, command: dict[str, Any], code: int, errmsg: str | None
) -> None:
    with pytest.raises(OperationFailure) as e:
        db.command(command)
    assert e.value.code == code
    if errmsg is not None:
        assert e.value.details["errmsg"] == errmsg
    assert "writeErrors" not in e.value.details


def test_find_and_modify_errors_stay_command_errors(db: Any) -> None:
    coll = fresh(db, "famerr", [{"_id": 1, "a": 1, "s": "x"}, {"_id": 2, "a": 2}], unique="a")

    with pytest.raises(DuplicateKeyError) as e:
        coll.find_one_and_update({"_id": 2}, {"$set": {"a": 1}})
    assert e.value.code == DUPLICATE_KEY
    assert e.value.details["ok"] == 0.0
    assert e.value.details["errmsg"] == (
        f"E11000 duplicate key error collection: {db.name}.famerr index: a_1 dup key: {{ a: 1 }}"
    )

    with pytest.raises(OperationFailure) as e2:
        coll.find_one_and_update({"_id": 1}, {"$inc": {"s": 1}})
    assert e2.value.code == TYPE_MISMATCH
    assert "writeErrors" not in e2.value.details
