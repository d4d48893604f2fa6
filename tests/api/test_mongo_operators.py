"""MongoDB's documentation examples for the aggregation expression operators and `$group`
accumulators of engine patch 0014 (variables: `$let`, `$map`, `$filter`, `$reduce`, `$$ROOT`,
`$$CURRENT`, `$$REMOVE`; array, set and object expressions; date expressions; regular
expressions and byte strings; `$stdDevPop`, `$mergeObjects`, `$top`, `$firstN`... accumulators),
run with pymongo; each answer is compared, value and BSON type (int32, int64 and double apart),
with the documented one, and the main errors with MongoDB's codes.

The `db` fixture (a pymongo Database) comes from the project's conftest; every test drops and
fills the collections it uses."""

from __future__ import annotations

import datetime as dt
import math
import re
import statistics
from typing import Any

import pytest
from bson.int64 import Int64
from bson.regex import Regex
from pymongo.errors import OperationFailure

from tests.helpers import canon


def D(  # noqa: N802 - reads as the documentation's ISODate
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, microsecond: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, microsecond)  # noqa: DTZ001 - BSON dates are naive UTC


def nested_array(v: Any) -> bool:
    """Whether a value has an array in an array (the engine does not store those)."""
    if isinstance(v, dict):
        return any(nested_array(x) for x in v.values())
    if isinstance(v, list):
        return any(isinstance(x, list) or nested_array(x) for x in v)
    return False


def run(db: Any, name: str, docs: list[dict[str, Any]], pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs the pipeline over the documents. Documents with arrays in arrays (which the engine,
    as FerretDB 1.x, does not store) are stored as their _id and put back as literals by a first
    $replaceWith stage, so the documentation's collections are used as they are."""
    db.drop_collection(name)
    if any(nested_array(d) for d in docs):
        db[name].insert_many([{"_id": d["_id"]} for d in docs])
        branches = [{"case": {"$eq": ["$_id", d["_id"]]}, "then": {"$literal": d}} for d in docs]
        pipeline = [{"$replaceWith": {"$switch": {"branches": branches}}}, *pipeline]
    elif docs:
        db[name].insert_many([dict(d) for d in docs])
    return list(db[name].aggregate(pipeline))


def project(db: Any, name: str, docs: list[dict[str, Any]], fields: dict[str, Any]) -> list[dict[str, Any]]:
    """The documents with the computed fields, in _id order."""
    return run(db, name, docs, [{"$project": fields}, {"$sort": {"_id": 1}}])


def error_code(
    db: Any, name: str, docs: list[dict[str, Any]], pipeline: list[dict[str, Any]]
) -> tuple[int | None, str]:
    with pytest.raises(OperationFailure) as e:
        run(db, name, docs, pipeline)
    return e.value.code, (e.value.details or {}).get("errmsg", "")


# --- variables -------------------------------------------------------------------------------


def test_let(db: Any) -> None:
    # $let page: the sales collection
    sales = [
        {"_id": 1, "price": 10, "tax": 0.50, "applyDiscount": True},
        {"_id": 2, "price": 10, "tax": 0.25, "applyDiscount": False},
    ]
    got = project(
        db,
        "sales",
        sales,
        {
            "finalTotal": {
                "$let": {
                    "vars": {
                        "total": {"$add": ["$price", "$tax"]},
                        "discounted": {"$cond": {"if": "$applyDiscount", "then": 0.9, "else": 1}},
                    },
                    "in": {"$multiply": ["$$total", "$$discounted"]},
                }
            }
        },
    )
    assert canon(got) == canon([{"_id": 1, "finalTotal": 9.450000000000001}, {"_id": 2, "finalTotal": 10.25}])


def test_map(db: Any) -> None:
    # $map page: the grades collection
    grades = [{"_id": 1, "quizzes": [5, 6, 7]}, {"_id": 2, "quizzes": []}, {"_id": 3, "quizzes": [3, 8, 9]}]
    got = project(
        db,
        "grades",
        grades,
        {"adjustedGrades": {"$map": {"input": "$quizzes", "as": "grade", "in": {"$add": ["$$grade", 2]}}}},
    )
    assert canon(got) == canon(
        [
            {"_id": 1, "adjustedGrades": [7, 8, 9]},
            {"_id": 2, "adjustedGrades": []},
            {"_id": 3, "adjustedGrades": [5, 10, 11]},
        ]
    )


FILTER_SALES = [
    {"_id": 0, "items": [{"item_id": 43, "quantity": 2, "price": 10}, {"item_id": 2, "quantity": 1, "price": 240}]},
    {
        "_id": 1,
        "items": [
            {"item_id": 23, "quantity": 3, "price": 110},
            {"item_id": 103, "quantity": 4, "price": 5},
            {"item_id": 38, "quantity": 1, "price": 300},
        ],
    },
    {"_id": 2, "items": [{"item_id": 4, "quantity": 1, "price": 23}]},
]


def test_filter(db: Any) -> None:
    # $filter page: the sales collection
    got = project(
        db,
        "sales",
        FILTER_SALES,
        {"items": {"$filter": {"input": "$items", "as": "item", "cond": {"$gte": ["$$item.price", 100]}}}},
    )
    assert canon(got) == canon(
        [
            {"_id": 0, "items": [{"item_id": 2, "quantity": 1, "price": 240}]},
            {
                "_id": 1,
                "items": [{"item_id": 23, "quantity": 3, "price": 110}, {"item_id": 38, "quantity": 1, "price": 300}],
            },
            {"_id": 2, "items": []},
        ]
    )


def test_filter_limit(db: Any) -> None:
    got = project(
        db,
        "sales",
        FILTER_SALES,
        {"items": {"$filter": {"input": "$items", "cond": {"$gte": ["$$this.price", 100]}, "limit": 1}}},
    )
    assert canon([d["items"] for d in got]) == canon(
        [[{"item_id": 2, "quantity": 1, "price": 240}], [{"item_id": 23, "quantity": 3, "price": 110}], []]
    )


@pytest.mark.parametrize(
    ("reduce", "expected"),
    [
        # the examples table of the $reduce page
        ({"input": ["a", "b", "c"], "initialValue": "", "in": {"$concat": ["$$value", "$$this"]}}, "abc"),
        (
            {
                "input": [1, 2, 3, 4],
                "initialValue": {"sum": 5, "product": 2},
                "in": {
                    "sum": {"$add": ["$$value.sum", "$$this"]},
                    "product": {"$multiply": ["$$value.product", "$$this"]},
                },
            },
            {"sum": 15, "product": 48},
        ),
        (
            {"input": [[3, 4], [5, 6]], "initialValue": [1, 2], "in": {"$concatArrays": ["$$value", "$$this"]}},
            [1, 2, 3, 4, 5, 6],
        ),
    ],
)
def test_reduce(db: Any, reduce: dict[str, Any], expected: Any) -> None:
    got = project(db, "reduce", [{"_id": 1}], {"_id": 0, "r": {"$reduce": reduce}})
    assert canon(got) == canon([{"r": expected}])


def test_variables_nest_and_shadow(db: Any) -> None:
    got = project(
        db,
        "nest",
        [{"_id": 1, "a": [1, 2], "k": 10}],
        {
            "_id": 0,
            "shadow": {
                "$let": {
                    "vars": {"x": 1},
                    "in": {"$let": {"vars": {"x": {"$add": ["$$x", 1]}, "y": "$$x"}, "in": ["$$x", "$$y"]}},
                }
            },
            "cross": {
                "$map": {
                    "input": "$a",
                    "as": "x",
                    "in": {"$map": {"input": "$a", "as": "y", "in": {"$add": ["$$x", "$$y", "$k"]}}},
                }
            },
            "this": {"$map": {"input": "$a", "in": {"$map": {"input": [100], "in": {"$add": ["$$this", 1]}}}}},
            "root": {"$map": {"input": "$a", "in": ["$$ROOT.k", "$$CURRENT.k"]}},
            "sum": {"$map": {"input": [[1, 2], [3]], "in": {"$sum": "$$this"}}},
        },
    )
    assert canon(got) == canon(
        [
            {
                "shadow": [2, 1],
                "cross": [[12, 13], [13, 14]],
                "this": [[101], [101]],
                "root": [[10, 10], [10, 10]],
                "sum": [3, 3],
            }
        ]
    )


def test_remove_in_project_and_add_fields(db: Any) -> None:
    docs = [{"_id": 1, "a": 1, "b": "x"}, {"_id": 2, "a": 2, "b": "y"}]
    cond = {"$cond": [{"$eq": ["$a", 1]}, "$$REMOVE", "$b"]}
    assert project(db, "remove", docs, {"b": cond}) == [{"_id": 1}, {"_id": 2, "b": "y"}]
    got = run(db, "remove", docs, [{"$addFields": {"b": cond}}, {"$sort": {"_id": 1}}])
    assert got == [{"_id": 1, "a": 1}, {"_id": 2, "a": 2, "b": "y"}]
    got = run(
        db, "remove", docs, [{"$set": {"b": {"$let": {"vars": {"r": "$$REMOVE"}, "in": "$$r"}}}}, {"$sort": {"_id": 1}}]
    )
    assert got == [{"_id": 1, "a": 1}, {"_id": 2, "a": 2}]


def test_variables_in_expr_and_group(db: Any) -> None:
    db.drop_collection("inv")
    db.inv.insert_many(
        [{"_id": 1, "q": [5, 6], "g": "a"}, {"_id": 2, "q": [1], "g": "a"}, {"_id": 3, "q": [], "g": "b"}]
    )
    flt = {"$expr": {"$gt": [{"$size": {"$filter": {"input": "$q", "cond": {"$gte": ["$$this", 5]}}}}, 0]}}
    assert [d["_id"] for d in db.inv.find(flt)] == [1]
    assert [d["_id"] for d in db.inv.aggregate([{"$match": flt}])] == [1]
    total = {"$reduce": {"input": "$q", "initialValue": 0, "in": {"$add": ["$$value", "$$this"]}}}
    got = list(
        db.inv.aggregate(
            [
                {"$group": {"_id": {"$let": {"vars": {"g": "$g"}, "in": {"$toUpper": "$$g"}}}, "s": {"$sum": total}}},
                {"$sort": {"_id": 1}},
            ]
        )
    )
    assert canon(got) == canon([{"_id": "A", "s": 12}, {"_id": "B", "s": 0}])


def test_nested_computed_fields_in_project(db: Any) -> None:
    docs = [{"_id": 1, "d": D(2014, 1, 1, 8), "q": [5, 6]}]
    got = project(
        db,
        "nested",
        docs,
        {"_id": {"y": {"$year": "$d"}}, "dates": {"m": {"$month": "$d"}, "none": "$nope"}, "n.size": {"$size": "$q"}},
    )
    assert canon(got) == canon([{"_id": {"y": 2014}, "dates": {"m": 1}, "n": {"size": 2}}])


def test_system_variables_in_group_keys(db: Any) -> None:
    docs = [{"_id": 1, "g": "a"}, {"_id": 2, "g": "a"}]
    got = run(db, "root", docs, [{"$group": {"_id": "$$ROOT"}}, {"$sort": {"_id._id": 1}}])
    assert got == [{"_id": {"_id": 1, "g": "a"}}, {"_id": {"_id": 2, "g": "a"}}]
    got = run(db, "root", docs, [{"$group": {"_id": {"g": "$$CURRENT.g"}, "ids": {"$push": "$$ROOT._id"}}}])
    assert got == [{"_id": {"g": "a"}, "ids": [1, 2]}]
    code, _ = error_code(db, "root", docs, [{"$group": {"_id": "$$nope"}}])
    assert code == 17276


@pytest.mark.parametrize(
    ("expression", "code"),
    [
        ({"$add": ["$$nope", 1]}, 17276),  # Use of undefined variable: nope
        ({"$map": {"input": [1], "as": "x", "in": "$$this"}}, 17276),  # $$this is not defined when as is given
        ({"$let": {"vars": {"Upper": 1}, "in": 1}}, 16867),  # starts with an invalid character
        ({"$let": {"vars": {"x": 1}}}, 16877),
        ({"$let": 1}, 16874),
        ({"$map": {"input": "$a", "in": 1, "x": 1}}, 16879),
        ({"$map": {"input": 1, "in": 1}}, 16883),
        ({"$filter": {"input": "$a"}}, 28650),
        ({"$filter": {"input": "x", "cond": True}}, 28651),
        ({"$filter": {"input": [1], "cond": True, "limit": 0}}, 327392),
        ({"$reduce": {"input": [1], "in": 1}}, 40078),
        ({"$reduce": {"input": 1, "initialValue": 0, "in": 1}}, 40080),
    ],
)
def test_variable_errors(db: Any, expression: dict[str, Any], code: int) -> None:
    got, msg = error_code(db, "errs", [{"_id": 1, "a": [1]}], [{"$project": {"r": expression}}])
    assert got == code, msg


def test_undefined_variable_message(db: Any) -> None:
    code, msg = error_code(db, "errs", [{"_id": 1}], [{"$addFields": {"r": "$$nope"}}])
    assert code == 17276
    assert "Use of undefined variable: nope" in msg


# --- array, set and object expressions ----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # the behavior table of the $mergeObjects page
        ([{"a": 1}, None], {"a": 1}),
        ([None, None], {}),
        ([{"a": 1}, {"a": 2, "b": 2}, {"a": 3, "c": 3}], {"a": 3, "b": 2, "c": 3}),
        ([{"a": 1}, {"a": 2, "b": 2}, {"a": 3, "b": None, "c": 3}], {"a": 3, "b": None, "c": 3}),
    ],
)
def test_merge_objects_expression(db: Any, args: list[Any], expected: dict[str, Any]) -> None:
    got = project(
        db, "merge", [{"_id": 1}], {"_id": 0, "r": {"$mergeObjects": [{"$literal": a} if a else a for a in args]}}
    )
    assert canon(got) == canon([{"r": expected}])


def test_object_to_array_and_array_to_object(db: Any) -> None:
    # $objectToArray page: the inventory collection
    got = project(
        db,
        "inventory",
        [{"_id": 1, "item": "ABC1", "dimensions": {"l": 25, "w": 10, "uom": "cm"}}],
        {"item": 1, "dimensions": {"$objectToArray": "$dimensions"}},
    )
    assert canon(got) == canon(
        [{"_id": 1, "item": "ABC1", "dimensions": [{"k": "l", "v": 25}, {"k": "w", "v": 10}, {"k": "uom", "v": "cm"}]}]
    )
    # $arrayToObject page: the inventory collection
    inventory = [
        {"_id": 1, "item": "ABC1", "dimensions": [{"k": "l", "v": 25}, {"k": "w", "v": 10}, {"k": "uom", "v": "cm"}]},
        {"_id": 2, "item": "ABC2", "dimensions": [["l", 50], ["w", 25], ["uom", "cm"]]},
        {"_id": 3, "item": "ABC3", "dimensions": [["l", 50], ["l", 25], ["uom", "cm"]]},
    ]
    got = project(db, "inventory", inventory, {"item": 1, "dimensions": {"$arrayToObject": "$dimensions"}})
    assert canon(got) == canon(
        [
            {"_id": 1, "item": "ABC1", "dimensions": {"l": 25, "w": 10, "uom": "cm"}},
            {"_id": 2, "item": "ABC2", "dimensions": {"l": 50, "w": 25, "uom": "cm"}},
            {"_id": 3, "item": "ABC3", "dimensions": {"l": 25, "uom": "cm"}},
        ]
    )


def test_reverse_array(db: Any) -> None:
    # $reverseArray page: the users collection
    users = [
        {"_id": 1, "name": "dave123", "favorites": ["chocolate", "cake", "butter", "apples"]},
        {"_id": 2, "name": "li", "favorites": ["apples", "pudding", "pie"]},
        {"_id": 3, "name": "ahn", "favorites": []},
        {"_id": 4, "name": "ty"},
    ]
    got = project(db, "users", users, {"name": 1, "reverseFavorites": {"$reverseArray": "$favorites"}})
    assert got == [
        {"_id": 1, "name": "dave123", "reverseFavorites": ["apples", "butter", "cake", "chocolate"]},
        {"_id": 2, "name": "li", "reverseFavorites": ["pie", "pudding", "apples"]},
        {"_id": 3, "name": "ahn", "reverseFavorites": []},
        {"_id": 4, "name": "ty", "reverseFavorites": None},
    ]


def test_index_of_array(db: Any) -> None:
    # $indexOfArray page: the inventory collection
    inventory: list[dict[str, Any]] = [
        {"_id": 0, "items": ["one", "two", "three"]},
        {"_id": 1, "items": [1, 2, 3]},
        {"_id": 2, "items": [1, 2, 3, 2]},
        {"_id": 3, "items": [None, None, 2]},
        {"_id": 4, "items": None},
        {"_id": 5, "amount": 3},
    ]
    got = project(db, "inventory", inventory, {"index": {"$indexOfArray": ["$items", 2]}})
    assert canon([d["index"] for d in got]) == canon([-1, 1, 1, 2, None, None])
    got = project(db, "inventory", inventory[2:3], {"_id": 0, "r": {"$indexOfArray": ["$items", 2, 2]}})
    assert canon(got) == canon([{"r": 3}])


# the experiments collection of the set expression pages
EXPERIMENTS = [
    {"_id": 1, "A": ["red", "blue"], "B": ["red", "blue"]},
    {"_id": 2, "A": ["red", "blue"], "B": ["blue", "red", "blue"]},
    {"_id": 3, "A": ["red", "blue"], "B": ["red", "blue", "green"]},
    {"_id": 4, "A": ["red", "blue"], "B": ["green", "red"]},
    {"_id": 5, "A": ["red", "blue"], "B": []},
    {"_id": 6, "A": ["red", "blue"], "B": [["red"], ["blue"]]},
    {"_id": 7, "A": ["red", "blue"], "B": [["red", "blue"]]},
    {"_id": 8, "A": [], "B": []},
    {"_id": 9, "A": [], "B": ["red"]},
]


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        ("$setEquals", [True, True, False, False, False, False, False, True, False]),
        ("$setIsSubset", [True, True, True, False, False, False, False, True, True]),
    ],
)
def test_set_predicates(db: Any, operator: str, expected: list[bool]) -> None:
    got = project(db, "experiments", EXPERIMENTS, {"r": {operator: ["$A", "$B"]}})
    assert [d["r"] for d in got] == expected


def test_set_difference(db: Any) -> None:
    got = project(db, "experiments", EXPERIMENTS, {"inBOnly": {"$setDifference": ["$B", "$A"]}})
    assert [d["inBOnly"] for d in got] == [
        [],
        [],
        ["green"],
        ["green"],
        [],
        [["red"], ["blue"]],
        [["red", "blue"]],
        [],
        ["red"],
    ]


def test_set_union_and_intersection(db: Any) -> None:
    # the order of a set's elements is unspecified: compare them sorted
    def key(v: Any) -> str:
        return repr(v)

    got = project(
        db, "experiments", EXPERIMENTS, {"u": {"$setUnion": ["$A", "$B"]}, "i": {"$setIntersection": ["$A", "$B"]}}
    )
    assert [sorted(d["u"], key=key) for d in got] == [
        ["blue", "red"],
        ["blue", "red"],
        ["blue", "green", "red"],
        ["blue", "green", "red"],
        ["blue", "red"],
        ["blue", "red", ["blue"], ["red"]],
        ["blue", "red", ["red", "blue"]],
        [],
        ["red"],
    ]
    assert [sorted(d["i"], key=key) for d in got] == [
        ["blue", "red"],
        ["blue", "red"],
        ["blue", "red"],
        ["red"],
        [],
        [],
        [],
        [],
        [],
    ]


def test_any_and_all_elements_true(db: Any) -> None:
    # the survey collection of the $anyElementTrue and $allElementsTrue pages
    survey = [
        {"_id": 1, "responses": [True]},
        {"_id": 2, "responses": [True, False]},
        {"_id": 3, "responses": []},
        {"_id": 4, "responses": [1, True, "seven"]},
        {"_id": 5, "responses": [0]},
        {"_id": 6, "responses": [[]]},
        {"_id": 7, "responses": [[0]]},
        {"_id": 8, "responses": [[False]]},
        {"_id": 9, "responses": [None]},
    ]
    got = project(
        db, "survey", survey, {"any": {"$anyElementTrue": ["$responses"]}, "all": {"$allElementsTrue": ["$responses"]}}
    )
    assert [d["any"] for d in got] == [True, True, False, True, False, True, True, True, False]
    assert [d["all"] for d in got] == [True, False, True, True, False, True, True, True, False]


def test_range(db: Any) -> None:
    # $range page: the distances collection
    distances = [
        {"_id": 0, "city": "San Jose", "distance": 42},
        {"_id": 1, "city": "Sacramento", "distance": 88},
        {"_id": 2, "city": "Reno", "distance": 218},
        {"_id": 3, "city": "Los Angeles", "distance": 383},
    ]
    got = project(db, "distances", distances, {"_id": 0, "city": 1, "Rest stops": {"$range": [0, "$distance", 25]}})
    assert canon(got) == canon(
        [
            {"city": "San Jose", "Rest stops": [0, 25]},
            {"city": "Sacramento", "Rest stops": [0, 25, 50, 75]},
            {"city": "Reno", "Rest stops": [0, 25, 50, 75, 100, 125, 150, 175, 200]},
            {"city": "Los Angeles", "Rest stops": list(range(0, 383, 25))},
        ]
    )


@pytest.mark.parametrize(
    ("zip_", "expected"),
    [
        # the examples table of the $zip page
        ({"inputs": [["a"], ["b"], ["c"]]}, [["a", "b", "c"]]),
        ({"inputs": [["a"], ["b", "c"]]}, [["a", "b"]]),
        ({"inputs": [[1], [2, 3]], "useLongestLength": True}, [[1, 2], [None, 3]]),
        (
            {"inputs": [[1], [2, 3], [4]], "useLongestLength": True, "defaults": ["a", "b", "c"]},
            [[1, 2, 4], ["a", 3, "c"]],
        ),
    ],
)
def test_zip(db: Any, zip_: dict[str, Any], expected: list[Any]) -> None:
    got = project(db, "zip", [{"_id": 1}], {"_id": 0, "r": {"$zip": zip_}})
    assert canon(got) == canon([{"r": expected}])


def test_zip_transposes_matrices(db: Any) -> None:
    # $zip page: the matrices collection
    matrices = [{"_id": 1, "matrix": [[1, 2], [2, 3], [3, 4]]}, {"_id": 2, "matrix": [[8, 7], [7, 6], [5, 4]]}]
    inputs = [{"$arrayElemAt": ["$matrix", i]} for i in range(3)]
    got = project(db, "matrices", matrices, {"_id": 0, "transposed": {"$zip": {"inputs": inputs}}})
    assert got == [{"transposed": [[1, 2, 3], [2, 3, 4]]}, {"transposed": [[8, 7, 5], [7, 6, 4]]}]


@pytest.mark.parametrize(
    ("expression", "code"),
    [
        ({"$mergeObjects": ["$a", 1]}, 40400),
        ({"$objectToArray": "$a"}, 40390),
        ({"$arrayToObject": "$s"}, 40386),
        ({"$arrayToObject": [[["a", 1], {"k": "b", "v": 2}]]}, 40396),
        ({"$arrayToObject": [[["a"]]]}, 40391),
        ({"$reverseArray": "$s"}, 34435),
        ({"$indexOfArray": ["$s", 1]}, 40090),
        ({"$indexOfArray": ["$a", 1, -1]}, 40097),
        ({"$setUnion": ["$a", "$s"]}, 17043),
        ({"$setIntersection": ["$a", 1]}, 17047),
        ({"$setDifference": ["$s", "$a"]}, 17048),
        ({"$setEquals": ["$a"]}, 17045),
        ({"$setEquals": ["$a", "$s"]}, 17044),
        ({"$setIsSubset": ["$s", "$a"]}, 17046),
        ({"$anyElementTrue": ["$s"]}, 17041),
        ({"$allElementsTrue": ["$s"]}, 17040),
        ({"$range": [0, 10, 0]}, 34449),
        ({"$range": ["a", 10]}, 34443),
        ({"$range": [0, 1.5]}, 34446),
        ({"$range": [1]}, 28667),
        ({"$zip": {"inputs": ["$s"]}}, 34468),
        ({"$zip": {"inputs": ["$a"], "defaults": [1]}}, 34466),
        ({"$zip": {}}, 34465),
    ],
)
def test_array_errors(db: Any, expression: dict[str, Any], code: int) -> None:
    got, msg = error_code(db, "errs", [{"_id": 1, "a": [1], "s": "x"}], [{"$project": {"r": expression}}])
    assert got == code, msg


# --- dates ---------------------------------------------------------------------------------------


def test_date_parts(db: Any) -> None:
    # the sales document of the $year, $month, $dayOfMonth, $hour... pages
    sale = [{"_id": 1, "item": "abc", "price": 10, "quantity": 2, "date": D(2014, 1, 1, 8, 15, 39, 736000)}]
    got = project(
        db,
        "sales",
        sale,
        {
            "year": {"$year": "$date"},
            "month": {"$month": "$date"},
            "day": {"$dayOfMonth": "$date"},
            "hour": {"$hour": "$date"},
            "minutes": {"$minute": "$date"},
            "seconds": {"$second": "$date"},
            "milliseconds": {"$millisecond": "$date"},
            "dayOfYear": {"$dayOfYear": "$date"},
            "dayOfWeek": {"$dayOfWeek": "$date"},
            "week": {"$week": "$date"},
        },
    )
    assert canon(got) == canon(
        [
            {
                "_id": 1,
                "year": 2014,
                "month": 1,
                "day": 1,
                "hour": 8,
                "minutes": 15,
                "seconds": 39,
                "milliseconds": 736,
                "dayOfYear": 1,
                "dayOfWeek": 4,
                "week": 0,
            }
        ]
    )


def test_iso_date_parts(db: Any) -> None:
    # $isoWeek page: the deliveries collection
    deliveries = [
        {"_id": 1, "date": D(2006, 10, 24), "city": "Boston"},
        {"_id": 2, "date": D(2011, 8, 18), "city": "Detroit"},
    ]
    got = project(db, "deliveries", deliveries, {"_id": 0, "city": 1, "weekNumber": {"$isoWeek": "$date"}})
    assert canon(got) == canon([{"city": "Boston", "weekNumber": 43}, {"city": "Detroit", "weekNumber": 33}])
    # $isoWeekYear page: the anniversaries collection (the year is a long, as MongoDB's isoYear)
    anniversaries = [
        {"_id": 1, "date": D(2016, 1, 1)},
        {"_id": 2, "date": D(2016, 1, 4)},
        {"_id": 3, "date": D(2015, 1, 1)},
        {"_id": 4, "date": D(2014, 4, 21)},
    ]
    got = project(db, "anniversaries", anniversaries, {"yearNumber": {"$isoWeekYear": "$date"}})
    assert [int(d["yearNumber"]) for d in got] == [2015, 2016, 2015, 2014]
    # $isoDayOfWeek page: the birthdays collection
    birthdays = [
        {"_id": 1, "name": "Betty", "birthday": D(1993, 9, 21)},
        {"_id": 2, "name": "Veronica", "birthday": D(1981, 11, 7)},
    ]
    got = project(db, "birthdays", birthdays, {"_id": 0, "name": 1, "dayOfWeek": {"$isoDayOfWeek": "$birthday"}})
    assert canon(got) == canon([{"name": "Betty", "dayOfWeek": 2}, {"name": "Veronica", "dayOfWeek": 6}])


def test_date_parts_in_a_timezone(db: Any) -> None:
    doc = [{"_id": 1, "date": D(2017, 1, 1, 1, 29, 9, 123000)}]
    got = project(
        db,
        "tz",
        doc,
        {
            "_id": 0,
            "ny": {"$hour": {"date": "$date", "timezone": "America/New_York"}},
            "nyDay": {"$dayOfMonth": {"date": "$date", "timezone": "America/New_York"}},
            "ist": {"$minute": {"date": "$date", "timezone": "+05:30"}},
            "kathmandu": {"$minute": {"date": "$date", "timezone": "+0545"}},
            "array": {"$year": ["$date"]},
            "nullTz": {"$year": {"date": "$date", "timezone": None}},
        },
    )
    assert canon(got) == canon([{"ny": 20, "nyDay": 31, "ist": 59, "kathmandu": 14, "array": 2017, "nullTz": None}])


def test_date_to_string(db: Any) -> None:
    # $dateToString page: the sales collection
    sale = [{"_id": 1, "item": "abc", "price": 10, "quantity": 2, "date": D(2014, 1, 1, 8, 15, 39, 736000)}]
    got = project(
        db,
        "sales",
        sale,
        {
            "yearMonthDayUTC": {"$dateToString": {"format": "%Y-%m-%d", "date": "$date"}},
            "timewithOffsetNY": {
                "$dateToString": {"format": "%H:%M:%S:%L%z", "date": "$date", "timezone": "America/New_York"}
            },
            "timewithOffset430": {"$dateToString": {"format": "%H:%M:%S:%L%z", "date": "$date", "timezone": "+04:30"}},
            "minutesOffsetNY": {"$dateToString": {"format": "%Z", "date": "$date", "timezone": "America/New_York"}},
            "minutesOffset430": {"$dateToString": {"format": "%Z", "date": "$date", "timezone": "+04:30"}},
        },
    )
    assert got == [
        {
            "_id": 1,
            "yearMonthDayUTC": "2014-01-01",
            "timewithOffsetNY": "03:15:39:736-0500",
            "timewithOffset430": "12:45:39:736+0430",
            "minutesOffsetNY": "-300",
            "minutesOffset430": "270",
        }
    ]
    got = project(
        db,
        "sales",
        sale + [{"_id": 2}],
        {
            "default": {"$dateToString": {"date": "$date"}},
            "other": {"$dateToString": {"date": "$date", "format": "%j %w %u %U %V %G %%"}},
            "onNull": {"$dateToString": {"date": "$date", "onNull": "no date"}},
        },
    )
    assert got == [
        {
            "_id": 1,
            "default": "2014-01-01T08:15:39.736Z",
            "other": "001 4 3 00 01 2014 %",
            "onNull": "2014-01-01T08:15:39.736Z",
        },
        {"_id": 2, "default": None, "other": None, "onNull": "no date"},
    ]


def test_date_from_string(db: Any) -> None:
    # $dateFromString page: the logmessages collection
    logs = [
        {"_id": 1, "date": "2017-02-08T12:10:40.787", "timezone": "America/New_York", "message": "Step 1: Started"},
        {"_id": 2, "date": "2017-02-08", "timezone": "-05:00", "message": "Step 1: Ended"},
        {"_id": 3, "message": " Step 1: Ended ", "timezone": "America/New_York"},
        {"_id": 4, "date": "2017-02-09", "timezone": "Europe/London", "message": "Step 2: Started"},
        {"_id": 5, "date": "2017-02-09T03:35:02.055", "timezone": "+0530", "message": "Step 2: In Progress"},
    ]
    got = project(
        db, "logmessages", logs, {"date": {"$dateFromString": {"dateString": "$date", "timezone": "$timezone"}}}
    )
    assert [d["date"] for d in got] == [
        D(2017, 2, 8, 17, 10, 40, 787000),
        D(2017, 2, 8, 5),
        None,
        D(2017, 2, 9),
        D(2017, 2, 8, 22, 5, 2, 55000),
    ]
    # onError and onNull
    bad: list[dict[str, Any]] = [
        {"_id": 1, "date": "2017-02-08T12:10:40.787"},
        {"_id": 2, "date": "20177-02-09T03:35:02.055"},
        {"_id": 3},
    ]
    got = project(
        db,
        "logmessages",
        bad,
        {"date": {"$dateFromString": {"dateString": "$date", "onError": "$date", "onNull": D(1970, 1, 1)}}},
    )
    assert [d["date"] for d in got] == [D(2017, 2, 8, 12, 10, 40, 787000), "20177-02-09T03:35:02.055", D(1970, 1, 1)]
    # format
    got = project(
        db,
        "logmessages",
        [{"_id": 1, "date": "15-06-2018"}, {"_id": 2, "date": "06/15/2018 10:20"}],
        {
            "d": {
                "$dateFromString": {
                    "dateString": "$date",
                    "format": {"$cond": [{"$eq": ["$_id", 1]}, "%d-%m-%Y", "%m/%d/%Y %H:%M"]},
                }
            }
        },
    )
    assert [d["d"] for d in got] == [D(2018, 6, 15), D(2018, 6, 15, 10, 20)]


def test_date_to_parts(db: Any) -> None:
    # $dateToParts page: the sales collection
    sale = [{"_id": 2, "item": "abc", "price": 10, "quantity": 2, "date": D(2017, 1, 1, 1, 29, 9, 123000)}]
    got = project(
        db,
        "sales",
        sale,
        {
            "date": {"$dateToParts": {"date": "$date"}},
            "date_iso": {"$dateToParts": {"date": "$date", "iso8601": True}},
            "date_timezone": {"$dateToParts": {"date": "$date", "timezone": "America/New_York"}},
        },
    )
    assert canon(got) == canon(
        [
            {
                "_id": 2,
                "date": {"year": 2017, "month": 1, "day": 1, "hour": 1, "minute": 29, "second": 9, "millisecond": 123},
                "date_iso": {
                    "isoWeekYear": 2016,
                    "isoWeek": 52,
                    "isoDayOfWeek": 7,
                    "hour": 1,
                    "minute": 29,
                    "second": 9,
                    "millisecond": 123,
                },
                "date_timezone": {
                    "year": 2016,
                    "month": 12,
                    "day": 31,
                    "hour": 20,
                    "minute": 29,
                    "second": 9,
                    "millisecond": 123,
                },
            }
        ]
    )


def test_date_from_parts(db: Any) -> None:
    # $dateFromParts page
    got = project(
        db,
        "sales",
        [{"_id": 1}],
        {
            "_id": 0,
            "date": {"$dateFromParts": {"year": 2017, "month": 2, "day": 8, "hour": 12}},
            "date_iso": {"$dateFromParts": {"isoWeekYear": 2017, "isoWeek": 6, "isoDayOfWeek": 3, "hour": 12}},
            "date_timezone": {
                "$dateFromParts": {
                    "year": 2016,
                    "month": 12,
                    "day": 31,
                    "hour": 23,
                    "minute": 46,
                    "second": 12,
                    "timezone": "America/New_York",
                }
            },
            "carry": {"$dateFromParts": {"year": 2017, "month": 14, "day": 1, "hour": 12}},
        },
    )
    assert got == [
        {
            "date": D(2017, 2, 8, 12),
            "date_iso": D(2017, 2, 8, 12),
            "date_timezone": D(2017, 1, 1, 4, 46, 12),
            "carry": D(2018, 2, 1, 12),
        }
    ]


def test_date_add_and_subtract(db: Any) -> None:
    # $dateAdd page: the shipping collection
    shipping = [
        {"_id": 1, "custId": 456, "purchaseDate": D(2020, 12, 31)},
        {"_id": 2, "custId": 457, "purchaseDate": D(2021, 2, 28)},
        {"_id": 3, "custId": 458, "purchaseDate": D(2021, 2, 26)},
    ]
    got = project(
        db,
        "shipping",
        shipping,
        {"expectedDeliveryDate": {"$dateAdd": {"startDate": "$purchaseDate", "unit": "day", "amount": 3}}},
    )
    assert [d["expectedDeliveryDate"] for d in got] == [D(2021, 1, 3), D(2021, 3, 3), D(2021, 3, 1)]
    got = project(
        db,
        "shipping",
        [{"_id": 1, "d": D(2021, 1, 31)}, {"_id": 2, "d": D(2021, 3, 13, 12)}],
        {
            "month": {"$dateAdd": {"startDate": "$d", "unit": "month", "amount": 1}},  # the last day of February
            "dst": {"$dateAdd": {"startDate": "$d", "unit": "day", "amount": 1, "timezone": "America/New_York"}},
            "sub": {"$dateSubtract": {"startDate": "$d", "unit": "hour", "amount": 36}},
            "quarter": {"$dateSubtract": {"startDate": "$d", "unit": "quarter", "amount": 1}},
        },
    )
    assert got == [
        {
            "_id": 1,
            "month": D(2021, 2, 28),
            "dst": D(2021, 2, 1),
            "sub": D(2021, 1, 29, 12),
            "quarter": D(2020, 10, 31),
        },
        {
            "_id": 2,
            "month": D(2021, 4, 13, 12),
            "dst": D(2021, 3, 14, 11),
            "sub": D(2021, 3, 12),
            "quarter": D(2020, 12, 13, 12),
        },
    ]


def test_date_diff(db: Any) -> None:
    # $dateDiff page: the orders collection
    orders = [
        {"_id": 1, "custId": 456, "purchased": D(2020, 12, 31), "delivered": D(2021, 1, 5)},
        {"_id": 2, "custId": 457, "purchased": D(2021, 2, 28), "delivered": D(2021, 3, 7)},
        {"_id": 3, "custId": 458, "purchased": D(2021, 2, 16), "delivered": D(2021, 2, 18)},
    ]
    got = project(
        db,
        "orders",
        orders,
        {"days": {"$dateDiff": {"startDate": "$purchased", "endDate": "$delivered", "unit": "day"}}},
    )
    assert canon([d["days"] for d in got]) == canon([Int64(5), Int64(7), Int64(2)])
    got = run(
        db,
        "orders",
        orders,
        [
            {
                "$group": {
                    "_id": None,
                    "averageTime": {
                        "$avg": {"$dateDiff": {"startDate": "$purchased", "endDate": "$delivered", "unit": "day"}}
                    },
                }
            }
        ],
    )
    assert got[0]["averageTime"] == pytest.approx(14 / 3)
    # units, and weeks starting on another day: 2022-01-01 was a Saturday
    got = project(
        db,
        "orders",
        [{"_id": 1, "s": D(2022, 1, 1), "e": D(2022, 1, 31)}],
        {
            "_id": 0,
            "sunday": {"$dateDiff": {"startDate": "$s", "endDate": "$e", "unit": "week"}},
            "monday": {"$dateDiff": {"startDate": "$s", "endDate": "$e", "unit": "week", "startOfWeek": "Monday"}},
            "month": {"$dateDiff": {"startDate": "$s", "endDate": "$e", "unit": "month"}},
            "year": {"$dateDiff": {"startDate": "$e", "endDate": "$s", "unit": "year"}},
            "hour": {"$dateDiff": {"startDate": "$s", "endDate": "$e", "unit": "hour"}},
        },
    )
    assert canon(got) == canon(
        [{"sunday": Int64(5), "monday": Int64(5), "month": Int64(0), "year": Int64(0), "hour": Int64(720)}]
    )


def test_date_trunc(db: Any) -> None:
    # $dateTrunc page: the cakeSales collection, weeks of two, in Los Angeles, starting on Monday
    cake_sales = [
        {"_id": 0, "type": "chocolate", "orderDate": D(2020, 5, 18, 14, 10, 30)},
        {"_id": 1, "type": "strawberry", "orderDate": D(2021, 3, 20, 11, 30, 5)},
        {"_id": 2, "type": "vanilla", "orderDate": D(2021, 1, 11, 6, 31, 15)},
        {"_id": 3, "type": "vanilla", "orderDate": D(2020, 2, 8, 13, 13, 23)},
        {"_id": 4, "type": "strawberry", "orderDate": D(2019, 5, 18, 16, 9, 1)},
        {"_id": 5, "type": "strawberry", "orderDate": D(2019, 1, 8, 6, 12, 3)},
    ]
    got = project(
        db,
        "cakeSales",
        cake_sales,
        {
            "_id": 1,
            "orderDate": 1,
            "truncatedOrderDate": {
                "$dateTrunc": {
                    "date": "$orderDate",
                    "unit": "week",
                    "binSize": 2,
                    "timezone": "America/Los_Angeles",
                    "startOfWeek": "Monday",
                }
            },
        },
    )
    assert [d["truncatedOrderDate"] for d in got] == [
        D(2020, 5, 11, 7),
        D(2021, 3, 15, 7),
        D(2021, 1, 4, 8),
        D(2020, 2, 3, 8),
        D(2019, 5, 13, 7),
        D(2019, 1, 7, 8),
    ]
    got = project(
        db,
        "cakeSales",
        cake_sales[:1],
        {
            "_id": 0,
            "year": {"$dateTrunc": {"date": "$orderDate", "unit": "year"}},
            "quarter": {"$dateTrunc": {"date": "$orderDate", "unit": "quarter"}},
            "hour6": {"$dateTrunc": {"date": "$orderDate", "unit": "hour", "binSize": 6}},
            "minute": {"$dateTrunc": {"date": "$orderDate", "unit": "minute"}},
        },
    )
    assert got == [
        {"year": D(2020, 1, 1), "quarter": D(2020, 4, 1), "hour6": D(2020, 5, 18, 12), "minute": D(2020, 5, 18, 14, 10)}
    ]


def test_dates_in_group_keys(db: Any) -> None:
    sales = [
        {"_id": 1, "date": D(2014, 1, 1, 8), "qty": 2},
        {"_id": 2, "date": D(2014, 2, 3, 9), "qty": 1},
        {"_id": 3, "date": D(2014, 2, 15, 9), "qty": 10},
    ]
    got = run(
        db,
        "sales",
        sales,
        [
            {"$group": {"_id": {"$dateToString": {"format": "%Y-%m", "date": "$date"}}, "n": {"$sum": "$qty"}}},
            {"$sort": {"_id": 1}},
        ],
    )
    assert got == [{"_id": "2014-01", "n": 2}, {"_id": "2014-02", "n": 11}]
    db.drop_collection("sales")
    db.sales.insert_many(sales)
    assert [d["_id"] for d in db.sales.find({"$expr": {"$eq": [{"$month": "$date"}, 2]}})] == [2, 3]


@pytest.mark.parametrize(
    ("expression", "code"),
    [
        ({"$year": "$s"}, 16006),  # can't convert from BSON type string to Date
        ({"$year": {"date": "$d", "timezone": "Mars/Olympus"}}, 40485),
        ({"$hour": {"date": "$d", "timezone": 5}}, 40517),
        ({"$month": {"date": "$d", "x": 1}}, 40535),
        ({"$month": {"timezone": "UTC"}}, 40539),
        ({"$week": ["$d", "$d"]}, 40536),
        ({"$dateToString": {"date": "$d", "format": "%Q"}}, 18536),
        ({"$dateToString": {"date": "$d", "format": "%"}}, 18535),
        ({"$dateToString": {"format": "%Y"}}, 18628),
        ({"$dateToString": {"date": "$d", "x": 1}}, 18534),
        ({"$dateToString": "$d"}, 18629),
        ({"$dateFromString": {"dateString": "not a date"}}, 241),
        ({"$dateFromString": {"dateString": 1}}, 241),
        ({"$dateFromString": {}}, 40542),
        ({"$dateToParts": {"date": "$d", "iso8601": 1}}, 40521),
        ({"$dateFromParts": {"month": 1}}, 40516),
        ({"$dateFromParts": {"year": 2017, "isoWeek": 1}}, 40489),
        ({"$dateFromParts": {"year": 2017, "month": 1.5}}, 40515),
        ({"$dateFromParts": {"year": 10000}}, 40523),
        ({"$dateAdd": {"startDate": "$d", "unit": "day", "amount": 1.5}}, 5166405),
        ({"$dateAdd": {"startDate": "$d", "unit": "day"}}, 5166402),
        ({"$dateSubtract": {"startDate": "$s", "unit": "day", "amount": 1}}, 5166403),
        ({"$dateAdd": {"startDate": "$d", "unit": "century", "amount": 1}}, 9),
        ({"$dateDiff": {"startDate": "$s", "endDate": "$d", "unit": "day"}}, 5166307),
        ({"$dateDiff": {"startDate": "$d", "endDate": "$d"}}, 5166305),
        ({"$dateTrunc": {"date": "$d", "unit": 1}}, 5439013),
        ({"$dateTrunc": {"date": "$d", "unit": "day", "binSize": 0}}, 5439018),
        ({"$dateTrunc": {"date": "$d", "unit": "week", "startOfWeek": "someday"}}, 5439016),
    ],
)
def test_date_errors(db: Any, expression: dict[str, Any], code: int) -> None:
    got, msg = error_code(db, "errs", [{"_id": 1, "d": D(2020, 1, 1), "s": "x"}], [{"$project": {"r": expression}}])
    assert got == code, msg


# --- strings ---------------------------------------------------------------------------------------

# the products collection of the $regexMatch, $regexFind and $regexFindAll pages
PRODUCTS = [
    {"_id": 1, "description": "Single LINE description."},
    {"_id": 2, "description": "First lines\nsecond line"},
    {"_id": 3, "description": "Many spaces before     line"},
    {"_id": 4, "description": "Multiple\nline descriptions"},
    {"_id": 5, "description": "anchors, links and hyperlinks"},
    {"_id": 6, "description": "métier work vocation"},
]


def test_regex_match(db: Any) -> None:
    got = project(db, "products", PRODUCTS, {"result": {"$regexMatch": {"input": "$description", "regex": "line"}}})
    assert [d["result"] for d in got] == [False, True, True, True, False, False]
    got = project(
        db,
        "products",
        PRODUCTS,
        {"result": {"$regexMatch": {"input": "$description", "regex": "line", "options": "i"}}},
    )
    assert [d["result"] for d in got] == [True, True, True, True, False, False]
    got = project(
        db, "products", PRODUCTS, {"result": {"$regexMatch": {"input": "$description", "regex": Regex("^s", "im")}}}
    )
    assert [d["result"] for d in got] == [True, True, False, False, False, False]
    got = project(
        db, "products", PRODUCTS, {"result": {"$regexMatch": {"input": "$description", "regex": re.compile("LINE")}}}
    )
    assert [d["result"] for d in got] == [True, False, False, False, False, False]


def test_regex_find(db: Any) -> None:
    got = project(
        db, "products", PRODUCTS, {"returnObject": {"$regexFind": {"input": "$description", "regex": "line"}}}
    )
    assert canon([d["returnObject"] for d in got]) == canon(
        [
            None,
            {"match": "line", "idx": 6, "captures": []},
            {"match": "line", "idx": 23, "captures": []},
            {"match": "line", "idx": 9, "captures": []},
            None,
            None,
        ]
    )
    # idx counts code points: "é" is one
    got = project(
        db, "products", PRODUCTS[5:], {"_id": 0, "r": {"$regexFind": {"input": "$description", "regex": "(w)(o)rk"}}}
    )
    assert canon(got) == canon([{"r": {"match": "work", "idx": 7, "captures": ["w", "o"]}}])


def test_regex_find_all(db: Any) -> None:
    got = project(
        db, "products", PRODUCTS, {"returnObject": {"$regexFindAll": {"input": "$description", "regex": "line"}}}
    )
    assert canon([d["returnObject"] for d in got]) == canon(
        [
            [],
            [{"match": "line", "idx": 6, "captures": []}, {"match": "line", "idx": 19, "captures": []}],
            [{"match": "line", "idx": 23, "captures": []}],
            [{"match": "line", "idx": 9, "captures": []}],
            [],
            [],
        ]
    )
    # the $regexFindAll page's email example: captures of an optional group are null when it does not match
    feedback = [
        {"_id": 1, "comment": "Hi, I'm just reading about MongoDB -- aunt.arc.tica@example.com"},
        {"_id": 2, "comment": "I wanted to concatenate a string"},
    ]
    got = project(
        db,
        "feedback",
        feedback,
        {
            "_id": 0,
            "email": {
                "$regexFindAll": {
                    "input": "$comment",
                    "regex": r"[a-z0-9_.+-]+@[a-z0-9_.+-]+\.[a-z0-9_.+-]+",
                    "options": "i",
                }
            },
        },
    )
    assert canon(got) == canon(
        [{"email": [{"match": "aunt.arc.tica@example.com", "idx": 38, "captures": []}]}, {"email": []}]
    )


def test_substr_bytes_and_str_len_bytes(db: Any) -> None:
    # $substrBytes page: the inventory collection
    inventory = [
        {"_id": 1, "item": "ABC1", "quarter": "13Q1", "description": "product 1"},
        {"_id": 2, "item": "ABC2", "quarter": "13Q4", "description": "product 2"},
        {"_id": 3, "item": "XYZ1", "quarter": "14Q2", "description": None},
    ]
    got = project(
        db,
        "inventory",
        inventory,
        {
            "item": 1,
            "yearSubstring": {"$substrBytes": ["$quarter", 0, 2]},
            "quarterSubtring": {"$substrBytes": ["$quarter", 2, {"$subtract": [{"$strLenBytes": "$quarter"}, 2]}]},
        },
    )
    assert got == [
        {"_id": 1, "item": "ABC1", "yearSubstring": "13", "quarterSubtring": "Q1"},
        {"_id": 2, "item": "ABC2", "yearSubstring": "13", "quarterSubtring": "Q4"},
        {"_id": 3, "item": "XYZ1", "yearSubstring": "14", "quarterSubtring": "Q2"},
    ]
    # $strLenBytes page: the food collection
    food = [
        {"_id": 1, "name": "apple"},
        {"_id": 2, "name": "banana"},
        {"_id": 3, "name": "éclair"},
        {"_id": 4, "name": "hamburger"},
        {"_id": 5, "name": "jalapeño"},
        {"_id": 6, "name": "pizza"},
        {"_id": 7, "name": "tacos"},
        {"_id": 8, "name": "寿司sushi"},
    ]
    got = project(db, "food", food, {"length": {"$strLenBytes": "$name"}})
    assert canon([d["length"] for d in got]) == canon([5, 6, 7, 9, 9, 5, 5, 11])
    got = project(
        db, "food", food[2:3], {"_id": 0, "r": {"$substrBytes": ["$name", 0, 2]}, "old": {"$substr": ["$name", 2, -1]}}
    )
    assert got == [{"r": "é", "old": "clair"}]


# $replaceOne and $replaceAll pages: the inventory collection
PAINT = [
    {"_id": 1, "item": "blue paint"},
    {"_id": 2, "item": "blue and green paint"},
    {"_id": 3, "item": "blue paint with blue paintbrush"},
    {"_id": 4, "item": "blue paint with green paintbrush"},
]


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        (
            "$replaceOne",
            ["red paint", "blue and green paint", "red paint with blue paintbrush", "red paint with green paintbrush"],
        ),
        (
            "$replaceAll",
            ["red paint", "blue and green paint", "red paint with red paintbrush", "red paint with green paintbrush"],
        ),
    ],
)
def test_replace(db: Any, operator: str, expected: list[str]) -> None:
    got = project(
        db,
        "inventory",
        PAINT,
        {"item": {operator: {"input": "$item", "find": "blue paint", "replacement": "red paint"}}},
    )
    assert [d["item"] for d in got] == expected


@pytest.mark.parametrize(
    ("expression", "code"),
    [
        ({"$regexMatch": {"input": "$s", "regex": 1}}, 51105),
        ({"$regexMatch": {"input": 1, "regex": "a"}}, 51104),
        ({"$regexFind": {"input": "$s", "regex": "a", "options": "q"}}, 51108),
        ({"$regexFind": {"input": "$s", "regex": Regex("a", "i"), "options": "m"}}, 51107),
        ({"$regexFindAll": {"input": "$s", "regex": "("}}, 51111),
        ({"$regexFindAll": {"input": "$s"}}, 31023),
        ({"$regexMatch": {"regex": "a"}}, 31022),
        ({"$regexMatch": {"input": "$s", "regex": "a", "x": 1}}, 31024),
        ({"$regexMatch": "a"}, 51103),
        ({"$substrBytes": ["é", 1, 1]}, 28656),
        ({"$substrBytes": ["é", 0, 1]}, 28657),
        ({"$substrBytes": ["$s", "a", 1]}, 16034),
        ({"$substrBytes": ["$s", 0, "a"]}, 16035),
        ({"$strLenBytes": 1}, 34473),
        ({"$replaceOne": {"input": 1, "find": "a", "replacement": "b"}}, 51746),
        ({"$replaceAll": {"input": "a", "find": "a", "replacement": 1}}, 51744),
        ({"$replaceAll": {"input": "a", "find": "a"}}, 51747),
        ({"$replaceOne": "a"}, 51751),
    ],
)
def test_string_errors(db: Any, expression: dict[str, Any], code: int) -> None:
    got, msg = error_code(db, "errs", [{"_id": 1, "s": "abc"}], [{"$project": {"r": expression}}])
    assert got == code, msg


# --- $group accumulators -----------------------------------------------------------------------------

# the gamescores collection of the $top, $topN, $bottom, $bottomN, $firstN, $lastN, $maxN, $minN pages
GAMES = [
    {"_id": 1, "playerId": "PlayerA", "gameId": "G1", "score": 31},
    {"_id": 2, "playerId": "PlayerB", "gameId": "G1", "score": 33},
    {"_id": 3, "playerId": "PlayerC", "gameId": "G1", "score": 99},
    {"_id": 4, "playerId": "PlayerD", "gameId": "G1", "score": 1},
    {"_id": 5, "playerId": "PlayerA", "gameId": "G2", "score": 10},
    {"_id": 6, "playerId": "PlayerB", "gameId": "G2", "score": 14},
    {"_id": 7, "playerId": "PlayerC", "gameId": "G2", "score": 66},
    {"_id": 8, "playerId": "PlayerD", "gameId": "G2", "score": 80},
]


@pytest.mark.parametrize(
    ("accumulator", "expected"),
    [
        (
            {"$top": {"output": ["$playerId", "$score"], "sortBy": {"score": -1}}},
            {"G1": ["PlayerC", 99], "G2": ["PlayerD", 80]},
        ),
        (
            {"$bottom": {"output": ["$playerId", "$score"], "sortBy": {"score": -1}}},
            {"G1": ["PlayerD", 1], "G2": ["PlayerA", 10]},
        ),
        (
            {"$topN": {"output": ["$playerId", "$score"], "sortBy": {"score": -1}, "n": 3}},
            {
                "G1": [["PlayerC", 99], ["PlayerB", 33], ["PlayerA", 31]],
                "G2": [["PlayerD", 80], ["PlayerC", 66], ["PlayerB", 14]],
            },
        ),
        (
            {"$bottomN": {"output": ["$playerId", "$score"], "sortBy": {"score": -1}, "n": 3}},
            {
                "G1": [["PlayerB", 33], ["PlayerA", 31], ["PlayerD", 1]],
                "G2": [["PlayerC", 66], ["PlayerB", 14], ["PlayerA", 10]],
            },
        ),
        (
            {"$firstN": {"input": ["$playerId", "$score"], "n": 3}},
            {
                "G1": [["PlayerA", 31], ["PlayerB", 33], ["PlayerC", 99]],
                "G2": [["PlayerA", 10], ["PlayerB", 14], ["PlayerC", 66]],
            },
        ),
        (
            {"$lastN": {"input": ["$playerId", "$score"], "n": 3}},
            {
                "G1": [["PlayerB", 33], ["PlayerC", 99], ["PlayerD", 1]],
                "G2": [["PlayerB", 14], ["PlayerC", 66], ["PlayerD", 80]],
            },
        ),
        (
            {"$maxN": {"input": ["$score", "$playerId"], "n": 3}},
            {
                "G1": [[99, "PlayerC"], [33, "PlayerB"], [31, "PlayerA"]],
                "G2": [[80, "PlayerD"], [66, "PlayerC"], [14, "PlayerB"]],
            },
        ),
        (
            {"$minN": {"input": ["$score", "$playerId"], "n": 3}},
            {
                "G1": [[1, "PlayerD"], [31, "PlayerA"], [33, "PlayerB"]],
                "G2": [[10, "PlayerA"], [14, "PlayerB"], [66, "PlayerC"]],
            },
        ),
        # n computed from the group key, as the $firstN page's example does
        (
            {"$firstN": {"input": "$score", "n": {"$cond": {"if": {"$eq": ["$gameId", "G2"]}, "then": 1, "else": 3}}}},
            {"G1": [31, 33, 99], "G2": [10]},
        ),
    ],
)
def test_n_accumulators(db: Any, accumulator: dict[str, Any], expected: dict[str, Any]) -> None:
    got = run(
        db,
        "gamescores",
        GAMES,
        [{"$sort": {"_id": 1}}, {"$group": {"_id": "$gameId", "r": accumulator}}, {"$sort": {"_id": 1}}],
    )
    assert canon({d["_id"]: d["r"] for d in got}) == canon(expected)


def test_std_dev(db: Any) -> None:
    # $stdDevPop page: the users collection of quiz scores; $stdDevSamp of a sample of them
    users = [
        {"_id": 0, "username": "user0", "age": 20, "quiz": 1, "score": 85},
        {"_id": 1, "username": "user1", "age": 42, "quiz": 1, "score": 100},
        {"_id": 2, "username": "user2", "age": 28, "quiz": 1, "score": 70},
        {"_id": 3, "username": "user3", "age": 30, "quiz": 2, "score": 90},
        {"_id": 4, "username": "user4", "age": 18, "quiz": 2, "score": 82},
        {"_id": 5, "username": "user5", "age": 50, "quiz": 2, "score": "n/a"},
    ]
    got = run(
        db,
        "users",
        users,
        [
            {"$group": {"_id": "$quiz", "stdDev": {"$stdDevPop": "$score"}, "samp": {"$stdDevSamp": "$age"}}},
            {"$sort": {"_id": 1}},
        ],
    )
    assert got[0]["stdDev"] == pytest.approx(12.24744871391589)
    assert got[0]["stdDev"] == pytest.approx(statistics.pstdev([85, 100, 70]))
    assert got[1]["stdDev"] == pytest.approx(4.0)
    assert got[0]["samp"] == pytest.approx(statistics.stdev([20, 42, 28]))
    assert got[1]["samp"] == pytest.approx(statistics.stdev([30, 18, 50]))
    assert all(isinstance(d["stdDev"], float) for d in got)
    one = run(
        db,
        "users",
        users[:1],
        [{"$group": {"_id": None, "p": {"$stdDevPop": "$score"}, "s": {"$stdDevSamp": "$score"}}}],
    )
    assert one == [{"_id": None, "p": 0.0, "s": None}]
    assert not math.isnan(got[0]["samp"])


def test_merge_objects_accumulator(db: Any) -> None:
    # $mergeObjects page: the sales collection, grouped by item
    sales = [
        {"_id": 1, "year": 2017, "item": "A", "quantity": {"2017Q1": 500, "2017Q2": 500}},
        {"_id": 2, "year": 2016, "item": "A", "quantity": {"2016Q1": 400, "2016Q2": 300, "2016Q3": 0, "2016Q4": 0}},
        {"_id": 3, "year": 2017, "item": "B", "quantity": {"2017Q1": 300}},
        {"_id": 4, "year": 2016, "item": "B", "quantity": {"2016Q3": 100, "2016Q4": 250}},
    ]
    got = run(
        db,
        "sales",
        sales,
        [
            {"$sort": {"_id": 1}},
            {"$group": {"_id": "$item", "mergedSales": {"$mergeObjects": "$quantity"}}},
            {"$sort": {"_id": 1}},
        ],
    )
    assert got == [
        {
            "_id": "A",
            "mergedSales": {"2017Q1": 500, "2017Q2": 500, "2016Q1": 400, "2016Q2": 300, "2016Q3": 0, "2016Q4": 0},
        },
        {"_id": "B", "mergedSales": {"2017Q1": 300, "2016Q3": 100, "2016Q4": 250}},
    ]


@pytest.mark.parametrize(
    ("accumulator", "code"),
    [
        ({"$firstN": {"input": "$score", "n": 0}}, 5787908),
        ({"$lastN": {"input": "$score", "n": 1.5}}, 5787902),
        ({"$maxN": {"input": "$score"}}, 5787906),
        ({"$minN": {"n": 2}}, 5787907),
        ({"$firstN": {"input": "$score", "n": 1, "x": 1}}, 5787901),
        ({"$firstN": "$score"}, 5787900),
        ({"$top": {"output": "$score"}}, 5788004),
        ({"$top": {"sortBy": {"score": 1}}}, 5788003),
        ({"$topN": {"output": "$score", "sortBy": {"score": 1}}}, 5788005),
        ({"$top": {"output": "$score", "sortBy": {"score": 1}, "n": 1}}, 5788002),
        ({"$top": 1}, 5788001),
        ({"$mergeObjects": "$score"}, 40400),
    ],
)
def test_accumulator_errors(db: Any, accumulator: dict[str, Any], code: int) -> None:
    got, msg = error_code(db, "gamescores", GAMES, [{"$group": {"_id": "$gameId", "r": accumulator}}])
    assert got == code, msg
