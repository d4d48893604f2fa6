"""MongoDB features the engine patches add, through a real instance (its gateway) with pymongo:
the `$group` accumulators and the stages of patch 0007 (MongoDB's documentation examples and
their documented answers), and what patch 0003 changes that a client can see (explain names the
index; a range with a sort and a limit is answered in order); and what later patches (0023-0029) and
the gateway's write concern errors change, each through MongoDB's documented example where one
exists, the embedded-documents query and the write concerns on both storages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.errors import OperationFailure, WriteConcernError, WriteError
from pymongo.write_concern import WriteConcern

from tests.conftest import PASSWORD, Service
from tests.helpers import connect


@pytest.fixture(scope="module")
def db(service: Service) -> Iterator[Any]:
    with service.ready_instance("features-1") as inst, connect(inst, PASSWORD) as client:
        yield client.features


@pytest.fixture(scope="module")
def sales(db: Any) -> Collection[dict[str, Any]]:
    """The `sales` collection of MongoDB's `$group` accumulator pages."""
    db.sales.insert_many(
        [
            {"_id": 1, "item": "abc", "price": 10, "quantity": 2, "date": datetime(2014, 1, 1, 8)},
            {"_id": 2, "item": "jkl", "price": 20, "quantity": 1, "date": datetime(2014, 2, 3, 9)},
            {"_id": 3, "item": "xyz", "price": 5, "quantity": 5, "date": datetime(2014, 2, 3, 9, 5)},
            {"_id": 4, "item": "abc", "price": 10, "quantity": 10, "date": datetime(2014, 2, 15, 8)},
            {"_id": 5, "item": "xyz", "price": 5, "quantity": 10, "date": datetime(2014, 2, 15, 9, 12)},
        ]
    )
    return db.sales  # type: ignore[no-any-return]


D = datetime


@pytest.mark.parametrize(
    ("accumulator", "expected"),
    [
        ({"$avg": "$quantity"}, {"abc": 6.0, "jkl": 1.0, "xyz": 7.5}),
        ({"$min": "$quantity"}, {"abc": 2, "jkl": 1, "xyz": 5}),
        ({"$max": "$quantity"}, {"abc": 10, "jkl": 1, "xyz": 10}),
        ({"$push": "$quantity"}, {"abc": [2, 10], "jkl": [1], "xyz": [5, 10]}),
        ({"$addToSet": "$price"}, {"abc": [10], "jkl": [20], "xyz": [5]}),
        (
            {"$first": "$date"},
            {"abc": datetime(2014, 1, 1, 8), "jkl": datetime(2014, 2, 3, 9), "xyz": datetime(2014, 2, 3, 9, 5)},
        ),
        (
            {"$last": "$date"},
            {"abc": datetime(2014, 2, 15, 8), "jkl": datetime(2014, 2, 3, 9), "xyz": datetime(2014, 2, 15, 9, 12)},
        ),
    ],
)
def test_group_accumulators_answer_as_the_documentation(
    sales: Collection[dict[str, Any]], accumulator: dict[str, str], expected: dict[str, Any]
) -> None:
    pipeline = [{"$sort": {"item": 1, "date": 1}}, {"$group": {"_id": "$item", "v": accumulator}}]
    assert {d["_id"]: d["v"] for d in sales.aggregate(pipeline)} == expected


def test_every_accumulator_of_a_group_sees_every_document(sales: Collection[dict[str, Any]]) -> None:
    """FerretDB v1.24.2 fed only the first accumulator of a $group (the second $sum gave 0)."""
    (doc,) = sales.aggregate(
        [
            {
                "$group": {
                    "_id": None,
                    "n": {"$sum": 1},
                    "m": {"$sum": 1},
                    "avgPrice": {"$avg": "$price"},
                    "items": {"$addToSet": "$item"},
                    "first": {"$first": "$_id"},
                    "last": {"$last": "$_id"},
                }
            }
        ]
    )
    assert doc == {"_id": None, "n": 5, "m": 5, "avgPrice": 10.0, "items": ["abc", "jkl", "xyz"], "first": 1, "last": 5}


def test_avg_ignores_what_is_not_a_number(db: Any) -> None:
    db.bad.insert_many([{"_id": 1, "q": 6}, {"_id": 2, "q": ""}, {"_id": 3}, {"_id": 4, "q": 5.0}])
    (doc,) = db.bad.aggregate(
        [{"$group": {"_id": None, "a": {"$avg": "$q"}, "lo": {"$min": "$q"}, "hi": {"$max": "$q"}}}]
    )
    assert doc == {"_id": None, "a": 5.5, "lo": 5.0, "hi": ""}  # strings sort after numbers
    (doc,) = db.bad.aggregate([{"$group": {"_id": None, "a": {"$avg": "$nothing"}}}])
    assert doc == {"_id": None, "a": None}


def test_replace_root_and_replace_with(db: Any) -> None:
    db.people.insert_many(
        [
            {"_id": 1, "name": "Arlene", "age": 34, "pets": {"dogs": 2, "cats": 1}},
            {"_id": 2, "name": "Sam", "age": 41, "pets": {"cats": 1, "fish": 3}},
        ]
    )
    got = list(db.people.aggregate([{"$sort": {"_id": 1}}, {"$replaceRoot": {"newRoot": "$pets"}}]))
    assert got == [{"dogs": 2, "cats": 1}, {"cats": 1, "fish": 3}]
    assert list(db.people.aggregate([{"$sort": {"_id": 1}}, {"$replaceWith": "$pets"}])) == got
    with pytest.raises(OperationFailure) as err:
        list(db.people.aggregate([{"$replaceRoot": {"newRoot": "$name"}}]))
    assert err.value.code == 40228


def test_sort_by_count(db: Any) -> None:
    db.exhibits.insert_many(
        [
            {"_id": 1, "tags": ["painting", "satire", "Expressionism", "caricature"]},
            {"_id": 2, "tags": ["woodcut", "Expressionism"]},
            {"_id": 3, "tags": ["painting", "abstract"]},
            {"_id": 4, "tags": ["sculpture", "abstract"]},
            {"_id": 5, "tags": ["painting", "Surrealism"]},
            {"_id": 6, "tags": ["woodblock", "painting"]},
        ]
    )
    got = list(db.exhibits.aggregate([{"$unwind": "$tags"}, {"$sortByCount": "$tags"}]))
    assert got[0] == {"_id": "painting", "count": 4}
    assert [d["count"] for d in got] == sorted((d["count"] for d in got), reverse=True)
    assert {d["_id"]: d["count"] for d in got}["abstract"] == 2


def test_explain_names_the_index_and_sorted_ranges_come_in_order(db: Any) -> None:
    coll = db.ranged
    coll.create_index("g")
    values = [(i * 37) % 101 for i in range(300)]
    coll.insert_many([{"_id": i, "g": v} for i, v in enumerate(values)] + [{"_id": "arr", "g": [150, 3]}])
    plan = coll.find({"g": {"$gt": 50}}).sort("g", 1).explain()
    assert plan["queryPlanner"]["indexName"] == "g_1", plan
    got = [d["g"] for d in coll.find({"g": {"$gt": 50}}).sort("g", 1).limit(10)]
    # the array matches (150 > 50) and sorts by its least element ascending, by its greatest descending
    assert got == [[150, 3], *sorted(v for v in values if v > 50)[:9]]
    assert coll.find_one({"g": {"$gt": 50}}, sort=[("g", -1)])["_id"] == "arr"
    assert coll.count_documents({"g": {"$gte": 90}}) == sum(v >= 90 for v in values) + 1


def test_positional_updates_as_the_documentation(db: Any) -> None:
    """`$`, `$[]` and `$[<identifier>]` with arrayFilters (patch 0009), MongoDB's examples."""
    students = db.students
    students.insert_many(
        [{"_id": 1, "grades": [85, 80, 80]}, {"_id": 2, "grades": [88, 90, 92]}, {"_id": 3, "grades": [85, 100, 90]}]
    )
    students.update_one({"_id": 1, "grades": 80}, {"$set": {"grades.$": 82}})
    assert students.find_one({"_id": 1})["grades"] == [85, 82, 80]
    students.update_many({}, {"$inc": {"grades.$[]": 10}})
    assert students.find_one({"_id": 2})["grades"] == [98, 100, 102]
    students.update_many({}, {"$set": {"grades.$[element]": 100}}, array_filters=[{"element": {"$gte": 100}}])
    assert [d["grades"] for d in students.find().sort("_id", 1)] == [[95, 92, 90], [98, 100, 100], [95, 100, 100]]
    doc = students.find_one_and_update(
        {"_id": 3}, {"$set": {"grades.$[g]": 0}}, array_filters=[{"g": {"$lt": 100}}], return_document=True
    )
    assert doc["grades"] == [0, 100, 100]
    with pytest.raises(OperationFailure) as err:
        students.update_one({"_id": 1}, {"$set": {"grades.$[x]": 1}}, array_filters=[{"y": 1}])
    assert err.value.code in (2, 9)
    with pytest.raises(OperationFailure) as err:
        students.update_one({"_id": 1}, {"$set": {"grades.$": 1}})
    assert err.value.code == 2


def test_pull_with_a_condition(db: Any) -> None:
    db.profiles.insert_one({"_id": 1, "votes": [3, 5, 6, 7, 7, 8]})
    db.profiles.update_one({"_id": 1}, {"$pull": {"votes": {"$gte": 6}}})
    assert db.profiles.find_one({"_id": 1})["votes"] == [3, 5]


def test_find_one_and_modify_with_a_projection(db: Any) -> None:
    """findAndModify's `fields` (patch 0011): drivers send it for every find_one_and_* projection."""
    coll = db.fam
    coll.insert_many([{"_id": 1, "x": 1, "y": 2}, {"_id": 2, "x": 5, "y": 6}])
    after = coll.find_one_and_update(
        {"_id": 1}, {"$inc": {"x": 1}}, projection={"x": 1, "_id": 0}, return_document=True
    )
    assert after == {"x": 2}
    assert coll.find_one_and_update({"_id": 1}, {"$inc": {"x": 1}}, projection={"y": 0}) == {"_id": 1, "x": 2}
    assert coll.find_one_and_delete({"_id": 2}, projection={"y": 1}) == {"_id": 2, "y": 6}
    with pytest.raises(OperationFailure) as err:
        coll.find_one_and_update({"_id": 1}, {"$set": {"q": 1}}, projection={"x": 1, "y": 0})
    assert err.value.code == 31254
    assert coll.find_one({"_id": 1}) == {"_id": 1, "x": 3, "y": 2}


def test_pipeline_updates(db: Any) -> None:
    """An aggregation pipeline as the update (patch 0012), as MongoDB's "Updates with Aggregation
    Pipeline" page uses it."""
    coll = db.piped
    coll.insert_many([{"_id": 1, "tests": [95, 92, 90]}, {"_id": 2, "tests": [94, 88, 90]}])
    coll.update_many(
        {},
        [
            {"$set": {"average": {"$trunc": [{"$avg": "$tests"}, 0]}, "modified": "$$NOW"}},
            {
                "$set": {
                    "grade": {
                        "$switch": {"branches": [{"case": {"$gte": ["$average", 92]}, "then": "A"}], "default": "B"}
                    }
                }
            },
        ],
    )
    assert [(d["average"], d["grade"]) for d in coll.find().sort("_id", 1)] == [(92.0, "A"), (90.0, "B")]
    assert isinstance(coll.find_one({"_id": 1})["modified"], datetime)
    doc = coll.find_one_and_update({"_id": 2}, [{"$unset": ["modified", "average"]}], return_document=True)
    assert doc == {"_id": 2, "tests": [94, 88, 90], "grade": "B"}
    with pytest.raises(OperationFailure) as err:
        coll.update_one({"_id": 1}, [{"$set": {"_id": 5}}])
    assert err.value.code == 66
    with pytest.raises(OperationFailure) as err:
        coll.update_one({"_id": 1}, [{"$match": {"a": 1}}])
    assert err.value.code == 72


def test_facet_bucket_lookup_union_and_sample(db: Any) -> None:
    """The stages of patch 0013, on MongoDB's documentation collections."""
    db.orders.insert_many(
        [
            {"_id": 1, "item": "almonds", "price": 12, "quantity": 2},
            {"_id": 2, "item": "pecans", "price": 20, "quantity": 1},
            {"_id": 3},
        ]
    )
    db.inventory.insert_many(
        [
            {"_id": 1, "sku": "almonds", "description": "product 1", "instock": 120},
            {"_id": 2, "sku": "bread", "description": "product 2", "instock": 80},
            {"_id": 3, "sku": "cashews", "description": "product 3", "instock": 60},
            {"_id": 4, "sku": "pecans", "description": "product 4", "instock": 70},
            {"_id": 5, "sku": None, "description": "Incomplete"},
            {"_id": 6},
        ]
    )
    joined = list(
        db.orders.aggregate(
            [
                {"$sort": {"_id": 1}},
                {"$lookup": {"from": "inventory", "localField": "item", "foreignField": "sku", "as": "docs"}},
            ]
        )
    )
    assert [[d["_id"] for d in o["docs"]] for o in joined] == [[1], [4], [5, 6]]  # missing matches null and missing

    facets = list(
        db.inventory.aggregate(
            [
                {
                    "$facet": {
                        "stocked": [{"$match": {"instock": {"$exists": 1}}}, {"$count": "n"}],
                        "byStock": [
                            {
                                "$bucket": {
                                    "groupBy": "$instock",
                                    "boundaries": [0, 75, 200],
                                    "default": "none",
                                    "output": {"count": {"$sum": 1}, "skus": {"$push": "$sku"}},
                                }
                            }
                        ],
                    }
                }
            ]
        )
    )
    assert facets == [
        {
            "stocked": [{"n": 4}],
            "byStock": [
                {"_id": 0, "count": 2, "skus": ["cashews", "pecans"]},
                {"_id": 75, "count": 2, "skus": ["almonds", "bread"]},
                {"_id": "none", "count": 2, "skus": [None]},
            ],
        }
    ]
    union = db.orders.aggregate(
        [{"$project": {"item": 1}}, {"$unionWith": {"coll": "inventory", "pipeline": [{"$project": {"sku": 1}}]}}]
    )
    assert len(list(union)) == 3 + 6
    sample = list(db.inventory.aggregate([{"$sample": {"size": 3}}]))
    assert len(sample) == 3 and len({d["_id"] for d in sample}) == 3


# MongoDB's "Query an Array of Embedded Documents" page: its inventory and the counts it documents.
INVENTORY = [
    {"item": "journal", "instock": [{"warehouse": "A", "qty": 5}, {"warehouse": "C", "qty": 15}]},
    {"item": "notebook", "instock": [{"warehouse": "C", "qty": 5}]},
    {"item": "paper", "instock": [{"warehouse": "A", "qty": 60}, {"warehouse": "B", "qty": 15}]},
    {"item": "planner", "instock": [{"warehouse": "A", "qty": 40}, {"warehouse": "B", "qty": 5}]},
    {"item": "postcard", "instock": [{"warehouse": "B", "qty": 15}, {"warehouse": "C", "qty": 35}]},
]
EMBEDDED_ARRAY_QUERIES: list[tuple[dict[str, Any], list[str]]] = [
    ({"instock": {"warehouse": "A", "qty": 5}}, ["journal"]),
    ({"instock": {"qty": 5, "warehouse": "A"}}, []),  # field order matters for a whole document
    ({"instock.0.qty": {"$lte": 20}}, ["journal", "notebook", "postcard"]),
    ({"instock.qty": {"$lte": 20}}, ["journal", "notebook", "paper", "planner", "postcard"]),
    ({"instock": {"$elemMatch": {"qty": 5, "warehouse": "A"}}}, ["journal"]),
    ({"instock": {"$elemMatch": {"qty": {"$gt": 10, "$lte": 20}}}}, ["journal", "paper", "postcard"]),
    # each operator matched by some element, not necessarily the same (patch 0023): planner's 40 and 5
    ({"instock.qty": {"$gt": 10, "$lte": 20}}, ["journal", "paper", "planner", "postcard"]),
    ({"instock.qty": 5, "instock.warehouse": "A"}, ["journal", "planner"]),
    ({"instock.qty": {"$ne": 5}}, ["paper", "postcard"]),  # no element is 5
]


@pytest.mark.parametrize("storage", ["sqlite", "postgresql"])
def test_query_an_array_of_embedded_documents(make_service: Any, storage: str) -> None:
    svc = make_service(replica_set_storage=storage)
    with svc.ready_instance(f"embedded-{storage}", mode="ReplicaSet") as inst, connect(inst, PASSWORD) as client:
        inventory = client.features.inventory
        inventory.insert_many([dict(d) for d in INVENTORY])
        for query, items in EMBEDDED_ARRAY_QUERIES:
            assert sorted(d["item"] for d in inventory.find(query)) == items, query
            assert inventory.count_documents(query) == len(items), query


def test_comments_of_any_type(db: Any) -> None:
    """A `comment` may be any BSON value (patch 0024): pymongo's unified CRUD tests send documents."""
    coll = db.commented
    coll.insert_one({"_id": 1, "x": 1}, comment={"key": "value"})
    assert coll.find_one({"_id": 1}, comment={"key": "value"}) == {"_id": 1, "x": 1}
    assert coll.count_documents({}, comment=["a", 1]) == 1
    assert coll.distinct("x", comment=42) == [1]
    assert coll.update_one({"_id": 1}, {"$set": {"x": 2}}, comment={"k": 1}).modified_count == 1
    assert coll.find_one_and_update({"_id": 1}, {"$inc": {"x": 1}}, comment={"k": 2})["x"] == 2
    assert list(coll.find({}, comment="a string still works")) == [{"_id": 1, "x": 3}]
    assert coll.delete_one({"_id": 1}, comment={"k": 3}).deleted_count == 1


def test_slice_projection(db: Any) -> None:
    """MongoDB's "Project Fields to Return from Query" page, `$slice` (patch 0025)."""
    db.drop_collection("sliced")
    db.sliced.insert_many(
        [
            {"_id": 1, "item": "journal", "status": "A", "instock": [{"w": "A", "qty": 5}]},
            {"_id": 2, "item": "postcard", "status": "A", "instock": [{"w": "B", "qty": 15}, {"w": "C", "qty": 35}]},
        ]
    )
    got = list(db.sliced.find({"status": "A"}, {"item": 1, "status": 1, "instock": {"$slice": -1}}))
    assert got == [
        {"_id": 1, "item": "journal", "status": "A", "instock": [{"w": "A", "qty": 5}]},
        {"_id": 2, "item": "postcard", "status": "A", "instock": [{"w": "C", "qty": 35}]},
    ]
    only = db.sliced.find_one({"_id": 2}, {"instock": {"$slice": [1, 1]}})  # every other field too
    assert only == {"_id": 2, "item": "postcard", "status": "A", "instock": [{"w": "C", "qty": 35}]}
    assert db.sliced.find_one({"_id": 2}, {"status": 0, "instock": {"$slice": 1}}) == {
        "_id": 2,
        "item": "postcard",
        "instock": [{"w": "B", "qty": 15}],
    }
    with pytest.raises(OperationFailure) as bad:
        db.sliced.find_one({}, {"instock": {"$slice": [1, 0]}})
    assert bad.value.code == 2
    assert db.sliced.find_one({"_id": 1}) is not None  # the connection stays usable


def test_lookup_with_let(db: Any) -> None:
    """MongoDB's `$lookup` page, "Join Conditions and Subqueries" (patch 0026)."""
    for name in ("orders_let", "warehouses_let"):
        db.drop_collection(name)
    db.orders_let.insert_many(
        [
            {"_id": 1, "item": "almonds", "price": 12, "ordered": 2},
            {"_id": 2, "item": "pecans", "price": 20, "ordered": 1},
            {"_id": 3, "item": "cookies", "price": 10, "ordered": 60},
        ]
    )
    db.warehouses_let.insert_many(
        [
            {"_id": 1, "stock_item": "almonds", "warehouse": "A", "instock": 120},
            {"_id": 2, "stock_item": "pecans", "warehouse": "A", "instock": 80},
            {"_id": 3, "stock_item": "almonds", "warehouse": "B", "instock": 60},
            {"_id": 4, "stock_item": "cookies", "warehouse": "B", "instock": 40},
            {"_id": 5, "stock_item": "cookies", "warehouse": "A", "instock": 80},
        ]
    )
    match = {"$expr": {"$and": [{"$eq": ["$stock_item", "$$order_item"]}, {"$gte": ["$instock", "$$order_qty"]}]}}
    lookup = {
        "from": "warehouses_let",
        "let": {"order_item": "$item", "order_qty": "$ordered"},
        "pipeline": [{"$match": match}, {"$project": {"stock_item": 0, "_id": 0}}],
        "as": "stockdata",
    }
    got = {d["item"]: d["stockdata"] for d in db.orders_let.aggregate([{"$lookup": lookup}])}
    assert got == {
        "almonds": [{"warehouse": "A", "instock": 120}, {"warehouse": "B", "instock": 60}],
        "pecans": [{"warehouse": "A", "instock": 80}],
        "cookies": [{"warehouse": "A", "instock": 80}],
    }
    with pytest.raises(OperationFailure) as bad:
        db.orders_let.aggregate([{"$lookup": {**lookup, "let": {"Order": "$item"}}}])
    assert bad.value.code == 16867


def test_command_let(db: Any) -> None:
    """`let` on find, update, delete and findAndModify (patch 0027): variables for `$expr` and
    for update pipelines; elsewhere in a query "$$name" is a string, as in MongoDB."""
    db.drop_collection("let_cmd")
    db.let_cmd.insert_many([{"_id": 1, "s": "$$id"}, {"_id": 2, "s": "b"}, {"_id": 3, "s": "c"}])
    expr = {"$expr": {"$eq": ["$_id", "$$id"]}}
    assert [d["_id"] for d in db.let_cmd.find(expr, let={"id": 2})] == [2]
    assert [d["_id"] for d in db.let_cmd.find({"s": "$$id"}, let={"id": 2})] == [1]
    assert [d["_id"] for d in db.let_cmd.find({"$expr": {"$eq": ["$_id", "$$n"]}}, let={"n": {"$add": [1, 2]}})] == [3]
    done = db.let_cmd.update_one(expr, [{"$set": {"s": "$$v"}}], let={"id": 2, "v": "updated"})
    assert done.modified_count == 1 and db.let_cmd.find_one({"_id": 2})["s"] == "updated"
    found = db.let_cmd.find_one_and_update(expr, [{"$set": {"t": "$$id"}}], let={"id": 3}, return_document=True)
    assert found == {"_id": 3, "s": "c", "t": 3}
    assert db.let_cmd.delete_many(expr, let={"id": 1}).deleted_count == 1
    with pytest.raises(OperationFailure) as bad:
        db.let_cmd.find_one(expr, let={"id": "$s"})  # no document to read a field path from
    assert bad.value.code == 2
    assert db.let_cmd.count_documents({}) == 2  # the connection stays usable


@pytest.mark.parametrize("storage", ["sqlite", "postgresql"])
def test_unsatisfiable_write_concerns(make_service: Any, storage: str) -> None:
    """A write concern no member set of this size can satisfy answers at once with MongoDB's
    writeConcernError, the write applied: `w` above the members (100), an unknown tag set (79).
    pymongo's own tests use `w` = members + 1 to get one (its `write_concern_collection`)."""
    svc = make_service(replica_set_storage=storage)
    with svc.ready_instance(f"wc-{storage}", mode="ReplicaSet") as inst, connect(inst, PASSWORD) as client:
        members = len([n for g in inst["groups"] for n in g["nodes"] if n.get("role") != "ReadOnly"])
        too_many = client.features.get_collection("wc", write_concern=WriteConcern(w=members + 1))
        with pytest.raises(WriteConcernError) as err:
            too_many.insert_one({"_id": 1})
        assert err.value.code == 100 and err.value.details["codeName"] == "UnsatisfiableWriteConcern"
        assert client.features.wc.find_one({"_id": 1}) == {"_id": 1}  # applied, as MongoDB applies it
        with pytest.raises(WriteConcernError) as err:
            too_many.create_index("x")
        assert err.value.code == 100
        tagged = client.features.get_collection("wc", write_concern=WriteConcern(w="dc1"))
        with pytest.raises(WriteConcernError) as err:
            tagged.update_one({"_id": 1}, {"$set": {"x": 1}})
        assert err.value.code == 79
        enough = client.features.get_collection("wc", write_concern=WriteConcern(w=members, wtimeout=20000))
        assert enough.insert_one({"_id": 2}).acknowledged  # w = members is satisfiable
        majority = client.features.get_collection("wc", write_concern=WriteConcern(w="majority"))
        assert majority.delete_many({}).deleted_count == 2


def test_build_info_is_stable(db: Any) -> None:
    """Two buildInfo answers are equal (patch 0028: the stage list came from a Go map's order)."""
    first = db.client.admin.command("buildInfo")
    assert all(db.client.admin.command("buildInfo") == first for _ in range(5))
    stages = first["ferretdbFeatures"]["aggregationStages"]
    assert stages == sorted(stages) and "$lookup" in stages


def test_python_patterns_as_regexes(db: Any) -> None:
    """A compiled Python pattern is sent with its flags; re.UNICODE is 'u' (patch 0029)."""
    db.drop_collection("patterns")
    db.patterns.insert_many([{"_id": 1, "s": "Ünïcode"}, {"_id": 2, "s": "ascii"}])
    assert [d["_id"] for d in db.patterns.find({"s": re.compile("^ünï", re.IGNORECASE)})] == [1]
    assert [d["_id"] for d in db.patterns.find({"s": {"$regex": "^as", "$options": "u"}})] == [2]


def test_fsync(db: Any) -> None:
    """`fsync` answered by the gateway (writes are on disk when acknowledged); `lock` refused."""
    assert db.client.admin.command("fsync")["ok"] == 1
    with pytest.raises(OperationFailure) as refused:
        db.client.admin.command("fsync", lock=True)
    assert refused.value.code == 238 and "lock" in str(refused.value)
    assert db.client.admin.command("ping")["ok"] == 1  # the connection stays usable


def test_hint(db: Any) -> None:
    """find's hint names an existing index (else BadValue 2, in explain too), and a hinted find
    without a sort reads in the index's order (patch 0030; pymongo's own test_hint)."""
    db.drop_collection("hinted")
    db.hinted.insert_many([{"num": i, "foo": i} for i in range(20)])
    with pytest.raises(OperationFailure) as missing:
        db.hinted.find({"num": 17}).hint([("num", ASCENDING)]).explain()
    assert missing.value.code == 2 and "hint provided does not correspond" in str(missing.value)
    db.hinted.create_index([("num", DESCENDING)], name="num_down")
    assert next(db.hinted.find())["num"] == 0
    assert next(db.hinted.find().hint([("num", DESCENDING)]))["num"] == 19
    assert next(db.hinted.find().hint("num_down"))["num"] == 19
    assert next(db.hinted.find().hint("num_down").sort("num", ASCENDING))["num"] == 0  # a sort wins
    with pytest.raises(OperationFailure):
        next(db.hinted.find().hint("no_such_index"))
    assert len(list(db.hinted.find().hint([("$natural", 1)]))) == 20


@pytest.mark.parametrize("storage", ["sqlite", "postgresql"])
def test_field_names_with_dots_and_dollars(make_service: Any, storage: str) -> None:
    """MongoDB 5.0's "Field Names with Periods and Dollar Signs" (patch 0031), on both storages:
    stored and returned as they are, reached by $getField/$setField, `$` refused inside `_id`,
    and the one name the storage reserves ("$s" at the top level) refused."""
    svc = make_service(replica_set_storage=storage)
    with svc.ready_instance(f"keys-{storage}", mode="ReplicaSet") as inst, connect(inst, PASSWORD) as client:
        coll = client.features.keys
        doc = {"_id": 1, "a.b": 1, "$c": 2, "e": {"$db": "foo", "f.g": 3, "$s": 4}}
        coll.insert_one(doc)
        assert coll.find_one({"_id": 1}) == doc
        assert list(coll.find({"a.b": 1})) == []  # a dotted query path does not reach a dotted name
        set_x = {"$setField": {"field": {"$literal": "$x"}, "value": 9, "input": "$$ROOT"}}
        assert coll.update_one({"_id": 1}, [{"$replaceWith": set_x}]).modified_count == 1
        assert coll.find_one({"_id": 1})["$x"] == 9
        got = coll.aggregate(
            [{"$project": {"_id": 0, "v": {"$getField": "a.b"}, "w": {"$getField": {"$literal": "$c"}}}}]
        )
        assert list(got) == [{"v": 1, "w": 2}]
        with pytest.raises(WriteError) as refused:
            coll.insert_one({"_id": {"$a": 1}})
        assert refused.value.code == 52
        with pytest.raises(WriteError) as reserved:
            coll.insert_one({"_id": 2, "$s": 1})
        assert reserved.value.code == 2 and "reserved" in str(reserved.value)
        assert coll.count_documents({}) == 1
