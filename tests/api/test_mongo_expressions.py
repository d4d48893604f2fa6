"""MongoDB's documentation examples for the aggregation expression operators of engine patch 0008
(arithmetic, string, comparison, boolean, conditional, array, conversion), run with pymongo
through a real instance's gateway; each answer is compared value and BSON type (int32, int64 and
double apart) with the documented one. Written first as a helper's end-to-end check of the patch
against a bare engine (89 checks), kept here as the driver test of those features."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from bson.int64 import Int64
from pymongo.errors import OperationFailure

from tests.conftest import PASSWORD, Service
from tests.helpers import canon, connect

FAILED: list[str] = []


def D(*a: int) -> dt.datetime:  # noqa: N802 - reads as the documentation's ISODate
    return dt.datetime(*a)  # noqa: DTZ001 - BSON dates come back naive (UTC)


DB: list[Any] = []  # the instance's database, set by run_examples


def coll(name: str, docs: list[dict[str, Any]]) -> str:
    DB[0].drop_collection(name)
    DB[0][name].insert_many(docs)
    return name


def check(name: str, coll: str, pipeline: list[dict[str, Any]], expected: Any) -> None:
    try:
        got: Any = list(DB[0][coll].aggregate(pipeline))
    except OperationFailure as e:
        got = {"error": e.code, "msg": (e.details or {}).get("errmsg")}
    if canon(got) != canon(expected):
        FAILED.append(f"{name}: got {got!r}, want {expected!r}")


def check_find(
    name: str, coll: str, flt: dict[str, Any], expected: Any, projection: dict[str, Any] | None = None
) -> None:
    try:
        got: Any = list(DB[0][coll].find(flt, projection))
    except OperationFailure as e:
        got = {"error": e.code, "msg": (e.details or {}).get("errmsg")}
    if canon(got) != canon(expected):
        FAILED.append(f"{name}: got {got!r}, want {expected!r}")


def check_error(name: str, coll: str, pipeline: list[dict[str, Any]], code: int, msg: str | None = None) -> None:
    try:
        res: dict[str, Any] = {"no error": list(DB[0][coll].aggregate(pipeline))}
    except OperationFailure as e:
        res = {"code": e.code, "errmsg": (e.details or {}).get("errmsg")}
    if res.get("code") != code or (msg is not None and res.get("errmsg") != msg):
        FAILED.append(f"{name}: got {res!r}, want code {code} {msg or ''}")


def run_examples(db: Any) -> int:
    """Every example; failures are collected in FAILED. Returns how many ran."""
    DB[:] = [db]
    # ---------------------------------------------------------------- arithmetic
    s = coll(
        "add_sales",
        [
            {"_id": 1, "item": "abc", "price": 10, "fee": 2, "date": D(2014, 3, 1, 8)},
            {"_id": 2, "item": "jkl", "price": 20, "fee": 1, "date": D(2014, 3, 1, 9)},
            {"_id": 3, "item": "xyz", "price": 5, "fee": 0, "date": D(2014, 3, 15, 9)},
        ],
    )
    check(
        "$add numbers (docs)",
        s,
        [{"$project": {"item": 1, "total": {"$add": ["$price", "$fee"]}}}],
        [
            {"_id": 1, "item": "abc", "total": 12},
            {"_id": 2, "item": "jkl", "total": 21},
            {"_id": 3, "item": "xyz", "total": 5},
        ],
    )
    check(
        "$add date (docs)",
        s,
        [{"$project": {"item": 1, "billing_date": {"$add": ["$date", 3 * 24 * 60 * 60000]}}}],
        [
            {"_id": 1, "item": "abc", "billing_date": D(2014, 3, 4, 8)},
            {"_id": 2, "item": "jkl", "billing_date": D(2014, 3, 4, 9)},
            {"_id": 3, "item": "xyz", "billing_date": D(2014, 3, 18, 9)},
        ],
    )

    s = coll(
        "sub_sales",
        [
            {"_id": 1, "item": "abc", "price": 10, "fee": 2, "discount": 5, "date": D(2014, 3, 1, 8)},
            {"_id": 2, "item": "jkl", "price": 20, "fee": 1, "discount": 2, "date": D(2014, 3, 1, 9)},
        ],
    )
    check(
        "$subtract numbers (docs)",
        s,
        [{"$project": {"item": 1, "total": {"$subtract": [{"$add": ["$price", "$fee"]}, "$discount"]}}}],
        [{"_id": 1, "item": "abc", "total": 7}, {"_id": 2, "item": "jkl", "total": 19}],
    )
    check(
        "$subtract milliseconds from date (docs)",
        s,
        [{"$project": {"item": 1, "dateDifference": {"$subtract": ["$date", 5 * 60 * 1000]}}}],
        [
            {"_id": 1, "item": "abc", "dateDifference": D(2014, 3, 1, 7, 55)},
            {"_id": 2, "item": "jkl", "dateDifference": D(2014, 3, 1, 8, 55)},
        ],
    )
    check(
        "$subtract dates",
        s,
        [{"$project": {"_id": 0, "ms": {"$subtract": ["$date", D(2014, 3, 1)]}}}],
        [{"ms": Int64(8 * 3600000)}, {"ms": Int64(9 * 3600000)}],
    )

    s = coll(
        "mul_sales",
        [
            {"_id": 1, "item": "abc", "price": 10, "quantity": 2, "date": D(2014, 3, 1, 8)},
            {"_id": 2, "item": "jkl", "price": 20, "quantity": 1, "date": D(2014, 3, 1, 9)},
            {"_id": 3, "item": "xyz", "price": 5, "quantity": 10, "date": D(2014, 3, 15, 9)},
        ],
    )
    check(
        "$multiply (docs)",
        s,
        [{"$project": {"date": 1, "item": 1, "total": {"$multiply": ["$price", "$quantity"]}}}],
        [
            {"_id": 1, "item": "abc", "date": D(2014, 3, 1, 8), "total": 20},
            {"_id": 2, "item": "jkl", "date": D(2014, 3, 1, 9), "total": 20},
            {"_id": 3, "item": "xyz", "date": D(2014, 3, 15, 9), "total": 50},
        ],
    )

    s = coll(
        "conferencePlanning",
        [
            {"_id": 1, "name": "A", "hours": 80, "resources": 7},
            {"_id": 2, "name": "B", "hours": 40, "resources": 4},
        ],
    )
    check(
        "$divide (docs)",
        s,
        [{"$project": {"name": 1, "workdays": {"$divide": ["$hours", 8]}}}],
        [{"_id": 1, "name": "A", "workdays": 10.0}, {"_id": 2, "name": "B", "workdays": 5.0}],
    )
    check(
        "$mod (docs)",
        s,
        [{"$project": {"remainder": {"$mod": ["$hours", "$resources"]}}}],
        [{"_id": 1, "remainder": 3}, {"_id": 2, "remainder": 0}],
    )
    check_error(
        "$divide by zero: code 2",
        s,
        [{"$project": {"x": {"$divide": ["$hours", {"$subtract": ["$resources", "$resources"]}]}}}],
        2,
        "can't $divide by zero",
    )

    s = coll(
        "temperatureChange",
        [
            {"_id": 1, "startTemp": 50, "endTemp": 80},
            {"_id": 2, "startTemp": 40, "endTemp": 40},
            {"_id": 3, "startTemp": 90, "endTemp": 70},
            {"_id": 4, "startTemp": 60, "endTemp": 70},
        ],
    )
    check(
        "$abs (docs)",
        s,
        [{"$project": {"delta": {"$abs": {"$subtract": ["$startTemp", "$endTemp"]}}}}],
        [{"_id": 1, "delta": 30}, {"_id": 2, "delta": 0}, {"_id": 3, "delta": 20}, {"_id": 4, "delta": 10}],
    )

    s = coll(
        "samples_cf",
        [{"_id": 1, "value": 9.25}, {"_id": 2, "value": 8.73}, {"_id": 3, "value": 4.32}, {"_id": 4, "value": -5.34}],
    )
    check(
        "$ceil (docs)",
        s,
        [{"$project": {"value": 1, "ceilingValue": {"$ceil": "$value"}}}],
        [
            {"_id": 1, "value": 9.25, "ceilingValue": 10.0},
            {"_id": 2, "value": 8.73, "ceilingValue": 9.0},
            {"_id": 3, "value": 4.32, "ceilingValue": 5.0},
            {"_id": 4, "value": -5.34, "ceilingValue": -5.0},
        ],
    )
    check(
        "$floor (docs)",
        s,
        [{"$project": {"value": 1, "floorValue": {"$floor": "$value"}}}],
        [
            {"_id": 1, "value": 9.25, "floorValue": 9.0},
            {"_id": 2, "value": 8.73, "floorValue": 8.0},
            {"_id": 3, "value": 4.32, "floorValue": 4.0},
            {"_id": 4, "value": -5.34, "floorValue": -6.0},
        ],
    )

    s = coll(
        "samples_rt",
        [
            {"_id": 1, "value": 19.25},
            {"_id": 2, "value": 28.73},
            {"_id": 3, "value": 34.32},
            {"_id": 4, "value": -45.39},
        ],
    )
    check(
        "$round place 1 (docs)",
        s,
        [{"$project": {"roundedValue": {"$round": ["$value", 1]}}}],
        [
            {"_id": 1, "roundedValue": 19.2},
            {"_id": 2, "roundedValue": 28.7},
            {"_id": 3, "roundedValue": 34.3},
            {"_id": 4, "roundedValue": -45.4},
        ],
    )
    check(
        "$round place -1 (docs)",
        s,
        [{"$project": {"roundedValue": {"$round": ["$value", -1]}}}],
        [
            {"_id": 1, "roundedValue": 20.0},
            {"_id": 2, "roundedValue": 30.0},
            {"_id": 3, "roundedValue": 30.0},
            {"_id": 4, "roundedValue": -50.0},
        ],
    )
    check(
        "$round place 0 (docs)",
        s,
        [{"$project": {"roundedValue": {"$round": ["$value", 0]}}}],
        [
            {"_id": 1, "roundedValue": 19.0},
            {"_id": 2, "roundedValue": 29.0},
            {"_id": 3, "roundedValue": 34.0},
            {"_id": 4, "roundedValue": -45.0},
        ],
    )
    check(
        "$round half to even (docs table)",
        s,
        [
            {"$limit": 1},
            {
                "$project": {
                    "_id": 0,
                    "a": {"$round": [10.5, 0]},
                    "b": {"$round": [11.5, 0]},
                    "c": {"$round": [12.5, 0]},
                    "d": {"$round": [-12.5, 0]},
                    "e": {"$round": [1234, -2]},
                }
            },
        ],
        [{"a": 10.0, "b": 12.0, "c": 12.0, "d": -12.0, "e": 1200}],
    )
    check(
        "$trunc place 1 (docs)",
        s,
        [{"$project": {"truncatedValue": {"$trunc": ["$value", 1]}}}],
        [
            {"_id": 1, "truncatedValue": 19.2},
            {"_id": 2, "truncatedValue": 28.7},
            {"_id": 3, "truncatedValue": 34.3},
            {"_id": 4, "truncatedValue": -45.3},
        ],
    )
    check(
        "$trunc place -1 (docs)",
        s,
        [{"$project": {"truncatedValue": {"$trunc": ["$value", -1]}}}],
        [
            {"_id": 1, "truncatedValue": 10.0},
            {"_id": 2, "truncatedValue": 20.0},
            {"_id": 3, "truncatedValue": 30.0},
            {"_id": 4, "truncatedValue": -40.0},
        ],
    )

    s = coll(
        "points",
        [
            {"_id": 1, "p1": {"x": 5, "y": 8}, "p2": {"x": 0, "y": 5}},
            {"_id": 2, "p1": {"x": -2, "y": 1}, "p2": {"x": 1, "y": 5}},
            {"_id": 3, "p1": {"x": 4, "y": 4}, "p2": {"x": 4, "y": 0}},
        ],
    )
    check(
        "$sqrt / $pow (docs)",
        s,
        [
            {
                "$project": {
                    "distance": {
                        "$sqrt": {
                            "$add": [
                                {"$pow": [{"$subtract": ["$p2.y", "$p1.y"]}, 2]},
                                {"$pow": [{"$subtract": ["$p2.x", "$p1.x"]}, 2]},
                            ]
                        }
                    }
                }
            }
        ],
        [{"_id": 1, "distance": 5.830951894845301}, {"_id": 2, "distance": 5.0}, {"_id": 3, "distance": 4.0}],
    )

    s = coll(
        "accounts",
        [
            {"_id": 1, "interestRate": 0.08, "presentValue": 10000},
            {"_id": 2, "interestRate": 0.0825, "presentValue": 250000},
            {"_id": 3, "interestRate": 0.0425, "presentValue": 1000},
        ],
    )
    check(
        "$exp (docs)",
        s,
        [{"$project": {"effectiveRate": {"$subtract": [{"$exp": "$interestRate"}, 1]}}}],
        [
            {"_id": 1, "effectiveRate": 0.08328706767495864},
            {"_id": 2, "effectiveRate": 0.08599867343905654},
            {"_id": 3, "effectiveRate": 0.04341605637367807},
        ],
    )

    s = coll(
        "ln_sales",
        [
            {"_id": 1, "year": "2000", "sales": 8700000},
            {"_id": 2, "year": "2005", "sales": 5000000},
            {"_id": 3, "year": "2010", "sales": 6250000},
        ],
    )
    check(
        "$ln (docs)",
        s,
        [{"$project": {"x": "$year", "y": {"$ln": "$sales"}}}],
        [
            {"_id": 1, "x": "2000", "y": 15.978833583624812},
            {"_id": 2, "x": "2005", "y": 15.424948470398375},
            {"_id": 3, "x": "2010", "y": 15.648092021712584},
        ],
    )

    s = coll("samples_ph", [{"_id": 1, "H3O": 0.0025}, {"_id": 2, "H3O": 0.001}, {"_id": 3, "H3O": 0.02}])
    check(
        "$log10 (docs)",
        s,
        [{"$project": {"pH": {"$multiply": [-1, {"$log10": "$H3O"}]}}}],
        [{"_id": 1, "pH": 2.6020599913279625}, {"_id": 2, "pH": 3.0}, {"_id": 3, "pH": 1.6989700043360187}],
    )

    # ---------------------------------------------------------------- strings
    s = coll(
        "inv_strings",
        [
            {"_id": 1, "item": "ABC1", "quarter": "13Q1", "description": "product 1"},
            {"_id": 2, "item": "ABC2", "quarter": "13Q4", "description": "product 2"},
            {"_id": 3, "item": "XYZ1", "quarter": "14Q2", "description": None},
        ],
    )
    check(
        "$concat (docs)",
        s,
        [{"$project": {"itemDescription": {"$concat": ["$item", " - ", "$description"]}}}],
        [
            {"_id": 1, "itemDescription": "ABC1 - product 1"},
            {"_id": 2, "itemDescription": "ABC2 - product 2"},
            {"_id": 3, "itemDescription": None},
        ],
    )
    check(
        "$substrCP + $strLenCP (docs)",
        s,
        [
            {
                "$project": {
                    "item": 1,
                    "yearSubstring": {"$substrCP": ["$quarter", 0, 2]},
                    "quarterSubtring": {"$substrCP": ["$quarter", 2, {"$subtract": [{"$strLenCP": "$quarter"}, 2]}]},
                }
            }
        ],
        [
            {"_id": 1, "item": "ABC1", "yearSubstring": "13", "quarterSubtring": "Q1"},
            {"_id": 2, "item": "ABC2", "yearSubstring": "13", "quarterSubtring": "Q4"},
            {"_id": 3, "item": "XYZ1", "yearSubstring": "14", "quarterSubtring": "Q2"},
        ],
    )
    check(
        "$strcasecmp (docs)",
        s,
        [{"$project": {"item": 1, "comparisonResult": {"$strcasecmp": ["$quarter", "13q4"]}}}],
        [
            {"_id": 1, "item": "ABC1", "comparisonResult": -1},
            {"_id": 2, "item": "ABC2", "comparisonResult": 0},
            {"_id": 3, "item": "XYZ1", "comparisonResult": 1},
        ],
    )

    s = coll(
        "inv_case",
        [
            {"_id": 1, "item": "ABC1", "description": "PRODUCT 1"},
            {"_id": 2, "item": "abc2", "description": "Product 2"},
            {"_id": 3, "item": "xyz1", "description": None},
        ],
    )
    check(
        "$toUpper (docs)",
        s,
        [{"$project": {"item": {"$toUpper": "$item"}, "description": {"$toUpper": "$description"}}}],
        [
            {"_id": 1, "item": "ABC1", "description": "PRODUCT 1"},
            {"_id": 2, "item": "ABC2", "description": "PRODUCT 2"},
            {"_id": 3, "item": "XYZ1", "description": ""},
        ],
    )
    check(
        "$toLower (docs)",
        s,
        [{"$project": {"item": {"$toLower": "$item"}, "description": {"$toLower": "$description"}}}],
        [
            {"_id": 1, "item": "abc1", "description": "product 1"},
            {"_id": 2, "item": "abc2", "description": "product 2"},
            {"_id": 3, "item": "xyz1", "description": ""},
        ],
    )

    s = coll(
        "food",
        [
            {"_id": 1, "name": "apple"},
            {"_id": 2, "name": "banana"},
            {"_id": 3, "name": "éclair"},
            {"_id": 4, "name": "hamburger"},
            {"_id": 5, "name": "jalapeño"},
            {"_id": 6, "name": "pizza"},
            {"_id": 7, "name": "tacos"},
            {"_id": 8, "name": "寿司sushi"},
        ],
    )
    check(
        "$substrCP code points (docs)",
        s,
        [{"$project": {"name": 1, "menuCode": {"$substrCP": ["$name", 0, 3]}}}],
        [
            {"_id": 1, "name": "apple", "menuCode": "app"},
            {"_id": 2, "name": "banana", "menuCode": "ban"},
            {"_id": 3, "name": "éclair", "menuCode": "écl"},
            {"_id": 4, "name": "hamburger", "menuCode": "ham"},
            {"_id": 5, "name": "jalapeño", "menuCode": "jal"},
            {"_id": 6, "name": "pizza", "menuCode": "piz"},
            {"_id": 7, "name": "tacos", "menuCode": "tac"},
            {"_id": 8, "name": "寿司sushi", "menuCode": "寿司s"},
        ],
    )
    check(
        "$strLenCP (docs)",
        s,
        [{"$project": {"name": 1, "length": {"$strLenCP": "$name"}}}],
        [
            {"_id": 1, "name": "apple", "length": 5},
            {"_id": 2, "name": "banana", "length": 6},
            {"_id": 3, "name": "éclair", "length": 6},
            {"_id": 4, "name": "hamburger", "length": 9},
            {"_id": 5, "name": "jalapeño", "length": 8},
            {"_id": 6, "name": "pizza", "length": 5},
            {"_id": 7, "name": "tacos", "length": 5},
            {"_id": 8, "name": "寿司sushi", "length": 7},
        ],
    )

    s = coll(
        "deliveries",
        [
            {"_id": 1, "city": "Berkeley, CA", "qty": 648},
            {"_id": 2, "city": "Bend, OR", "qty": 491},
            {"_id": 3, "city": "Kensington, CA", "qty": 233},
            {"_id": 4, "city": "Eugene, OR", "qty": 842},
            {"_id": 5, "city": "Reno, NV", "qty": 655},
            {"_id": 6, "city": "Portland, OR", "qty": 408},
            {"_id": 7, "city": "Sacramento, CA", "qty": 574},
        ],
    )
    # the documentation's pipeline has $unwind, which keeps only _id and the unwound field in FerretDB v1.24
    # (a limitation of that stage): the state is taken with $arrayElemAt instead
    check(
        "$split (docs, $arrayElemAt for $unwind)",
        s,
        [
            {"$project": {"city_state": {"$split": ["$city", ", "]}, "qty": 1}},
            {"$group": {"_id": {"state": {"$arrayElemAt": ["$city_state", 1]}}, "total_qty": {"$sum": "$qty"}}},
            {"$sort": {"total_qty": -1}},
        ],
        [
            {"_id": {"state": "OR"}, "total_qty": 1741},
            {"_id": {"state": "CA"}, "total_qty": 1455},
            {"_id": {"state": "NV"}, "total_qty": 655},
        ],
    )
    check(
        "$split",
        s,
        [{"$match": {"_id": 1}}, {"$project": {"_id": 0, "city_state": {"$split": ["$city", ", "]}}}],
        [{"city_state": ["Berkeley", "CA"]}],
    )

    s = coll(
        "inv_trim",
        [
            {"_id": 1, "item": "ABC1", "quarter": "13Q1", "description": " product 1"},
            {
                "_id": 2,
                "item": "ABC2",
                "quarter": "13Q4",
                "description": "product 2 \n The product is in stock.  \n\n  ",
            },
            {"_id": 3, "item": "XYZ1", "quarter": "14Q2", "description": None},
        ],
    )
    check(
        "$trim (docs)",
        s,
        [{"$project": {"item": 1, "description": {"$trim": {"input": "$description"}}}}],
        [
            {"_id": 1, "item": "ABC1", "description": "product 1"},
            {"_id": 2, "item": "ABC2", "description": "product 2 \n The product is in stock."},
            {"_id": 3, "item": "XYZ1", "description": None},
        ],
    )
    check(
        "$ltrim (docs)",
        s,
        [{"$project": {"item": 1, "description": {"$ltrim": {"input": "$description"}}}}],
        [
            {"_id": 1, "item": "ABC1", "description": "product 1"},
            {"_id": 2, "item": "ABC2", "description": "product 2 \n The product is in stock.  \n\n  "},
            {"_id": 3, "item": "XYZ1", "description": None},
        ],
    )
    check(
        "$rtrim (docs)",
        s,
        [{"$project": {"item": 1, "description": {"$rtrim": {"input": "$description"}}}}],
        [
            {"_id": 1, "item": "ABC1", "description": " product 1"},
            {"_id": 2, "item": "ABC2", "description": "product 2 \n The product is in stock."},
            {"_id": 3, "item": "XYZ1", "description": None},
        ],
    )
    check(
        "$trim chars",
        s,
        [{"$limit": 1}, {"$project": {"_id": 0, "t": {"$trim": {"input": "xxhixyx", "chars": "xy"}}}}],
        [{"t": "hi"}],
    )

    s = coll(
        "inv_index",
        [
            {"_id": 1, "item": "foo"},
            {"_id": 2, "item": "fóofoo"},
            {"_id": 3, "item": "the foo bar"},
            {"_id": 4, "item": "hello world fóo"},
            {"_id": 5, "item": None},
            {"_id": 6, "amount": 3},
        ],
    )
    check(
        "$indexOfCP (docs)",
        s,
        [{"$project": {"cpLocation": {"$indexOfCP": ["$item", "foo"]}}}],
        [
            {"_id": 1, "cpLocation": 0},
            {"_id": 2, "cpLocation": 3},
            {"_id": 3, "cpLocation": 4},
            {"_id": 4, "cpLocation": -1},
            {"_id": 5, "cpLocation": None},
            {"_id": 6, "cpLocation": None},
        ],
    )

    # ---------------------------------------------------------------- comparison / boolean
    s = coll(
        "inv_cmp",
        [
            {"_id": 1, "item": "abc1", "description": "product 1", "qty": 300},
            {"_id": 2, "item": "abc2", "description": "product 2", "qty": 200},
            {"_id": 3, "item": "xyz1", "description": "product 3", "qty": 250},
            {"_id": 4, "item": "VWZ1", "description": "product 4", "qty": 300},
            {"_id": 5, "item": "VWZ2", "description": "product 5", "qty": 180},
        ],
    )
    items = ["abc1", "abc2", "xyz1", "VWZ1", "VWZ2"]
    qtys = [300, 200, 250, 300, 180]
    for op, field, vals in [
        ("$cmp", "cmpTo250", [1, -1, 0, 1, -1]),
        ("$eq", "qtyEq250", [False, False, True, False, False]),
        ("$gt", "qtyGt250", [True, False, False, True, False]),
        ("$gte", "qtyGte250", [True, False, True, True, False]),
        ("$lt", "qtyLt250", [False, True, False, False, True]),
        ("$lte", "qtyLte250", [False, True, True, False, True]),
        ("$ne", "qtyNe250", [True, True, False, True, True]),
    ]:
        check(
            op + " (docs)",
            s,
            [{"$project": {"item": 1, "qty": 1, field: {op: ["$qty", 250]}, "_id": 0}}],
            [{"item": i, "qty": q, field: v} for i, q, v in zip(items, qtys, vals, strict=True)],
        )
    check(
        "$and (docs)",
        s,
        [{"$project": {"item": 1, "result": {"$and": [{"$gt": ["$qty", 100]}, {"$lt": ["$qty", 250]}]}}}],
        [
            {"_id": i + 1, "item": it, "result": r}
            for i, (it, r) in enumerate(zip(items, [False, True, False, False, True], strict=True))
        ],
    )
    check(
        "$or (docs)",
        s,
        [{"$project": {"item": 1, "result": {"$or": [{"$gt": ["$qty", 250]}, {"$lt": ["$qty", 200]}]}}}],
        [
            {"_id": i + 1, "item": it, "result": r}
            for i, (it, r) in enumerate(zip(items, [True, False, False, True, True], strict=True))
        ],
    )
    check(
        "$not (docs)",
        s,
        [{"$project": {"item": 1, "result": {"$not": [{"$gt": ["$qty", 250]}]}}}],
        [
            {"_id": i + 1, "item": it, "result": r}
            for i, (it, r) in enumerate(zip(items, [False, True, True, False, True], strict=True))
        ],
    )
    check(
        "BSON order across types",
        s,
        [
            {"$limit": 1},
            {
                "$project": {
                    "_id": 0,
                    "strGtNum": {"$gt": ["a", 99]},
                    "nullLtNum": {"$lt": [None, -1]},
                    "missingLtNull": {"$lt": ["$nope", None]},
                    "missingEqNull": {"$eq": ["$nope", None]},
                    "intEqDouble": {"$eq": [1, 1.0]},
                    "arrGtObj": {"$gt": [[], {}]},
                    "dateGtBool": {"$gt": [D(2000, 1, 1), True]},
                    "cmpArr": {"$cmp": [[1, 2], [1, 3]]},
                }
            },
        ],
        [
            {
                "strGtNum": True,
                "nullLtNum": True,
                "missingLtNull": True,
                "missingEqNull": False,
                "intEqDouble": True,
                "arrGtObj": True,
                "dateGtBool": True,
                "cmpArr": -1,
            }
        ],
    )

    # ---------------------------------------------------------------- conditional
    s = coll(
        "inv_cond",
        [
            {"_id": 1, "item": "abc1", "qty": 300},
            {"_id": 2, "item": "abc2", "qty": 200},
            {"_id": 3, "item": "xyz1", "qty": 250},
        ],
    )
    check(
        "$cond object form (docs)",
        s,
        [{"$project": {"item": 1, "discount": {"$cond": {"if": {"$gte": ["$qty", 250]}, "then": 30, "else": 20}}}}],
        [
            {"_id": 1, "item": "abc1", "discount": 30},
            {"_id": 2, "item": "abc2", "discount": 20},
            {"_id": 3, "item": "xyz1", "discount": 30},
        ],
    )
    check(
        "$cond array form (docs)",
        s,
        [{"$project": {"item": 1, "discount": {"$cond": [{"$gte": ["$qty", 250]}, 30, 20]}}}],
        [
            {"_id": 1, "item": "abc1", "discount": 30},
            {"_id": 2, "item": "abc2", "discount": 20},
            {"_id": 3, "item": "xyz1", "discount": 30},
        ],
    )

    s = coll(
        "inv_ifnull",
        [
            {"_id": 1, "item": "buggy", "description": "toy car", "quantity": 300},
            {"_id": 2, "item": "bicycle", "description": None, "quantity": 200},
            {"_id": 3, "item": "flag"},
        ],
    )
    check(
        "$ifNull (docs)",
        s,
        [{"$project": {"item": 1, "description": {"$ifNull": ["$description", "Unspecified"]}}}],
        [
            {"_id": 1, "item": "buggy", "description": "toy car"},
            {"_id": 2, "item": "bicycle", "description": "Unspecified"},
            {"_id": 3, "item": "flag", "description": "Unspecified"},
        ],
    )
    check(
        "$ifNull several (docs)",
        s,
        [{"$project": {"item": 1, "value": {"$ifNull": ["$description", "$quantity", "Unspecified"]}}}],
        [
            {"_id": 1, "item": "buggy", "value": "toy car"},
            {"_id": 2, "item": "bicycle", "value": 200},
            {"_id": 3, "item": "flag", "value": "Unspecified"},
        ],
    )

    s = coll(
        "grades",
        [
            {"_id": 1, "name": "Susan Wilkes", "scores": [87, 86, 78]},
            {"_id": 2, "name": "Bob Hanna", "scores": [71, 64, 81]},
            {"_id": 3, "name": "James Torrelio", "scores": [91, 84, 97]},
        ],
    )
    check(
        "$switch (docs)",
        s,
        [
            {
                "$project": {
                    "name": 1,
                    "summary": {
                        "$switch": {
                            "branches": [
                                {"case": {"$gte": [{"$avg": "$scores"}, 90]}, "then": "Doing great!"},
                                {
                                    "case": {
                                        "$and": [
                                            {"$gte": [{"$avg": "$scores"}, 80]},
                                            {"$lt": [{"$avg": "$scores"}, 90]},
                                        ]
                                    },
                                    "then": "Doing pretty well.",
                                },
                                {"case": {"$lt": [{"$avg": "$scores"}, 80]}, "then": "Needs improvement."},
                            ],
                            "default": "No scores found.",
                        }
                    },
                }
            }
        ],
        [
            {"_id": 1, "name": "Susan Wilkes", "summary": "Doing pretty well."},
            {"_id": 2, "name": "Bob Hanna", "summary": "Needs improvement."},
            {"_id": 3, "name": "James Torrelio", "summary": "Doing great!"},
        ],
    )
    check_error(
        "$switch without a match",
        s,
        [{"$project": {"x": {"$switch": {"branches": [{"case": False, "then": 1}]}}}}],
        2,
        "$switch could not find a matching branch for an input, and no default was specified.",
    )

    # ---------------------------------------------------------------- arrays
    s = coll(
        "inv_size",
        [
            {"_id": 1, "item": "ABC1", "description": "product 1", "colors": ["blue", "black", "red"]},
            {"_id": 2, "item": "ABC2", "description": "product 2", "colors": ["purple"]},
            {"_id": 3, "item": "XYZ1", "description": "product 3", "colors": []},
            {"_id": 4, "item": "ZZZ1", "description": "product 4 - missing colors"},
            {"_id": 5, "item": "ZZZ2", "description": "product 5 - colors is string", "colors": "blue,red"},
        ],
    )
    check(
        "$size + $isArray (docs)",
        s,
        [
            {
                "$project": {
                    "item": 1,
                    "numberOfColors": {
                        "$cond": {"if": {"$isArray": "$colors"}, "then": {"$size": "$colors"}, "else": "NA"}
                    },
                }
            }
        ],
        [
            {"_id": 1, "item": "ABC1", "numberOfColors": 3},
            {"_id": 2, "item": "ABC2", "numberOfColors": 1},
            {"_id": 3, "item": "XYZ1", "numberOfColors": 0},
            {"_id": 4, "item": "ZZZ1", "numberOfColors": "NA"},
            {"_id": 5, "item": "ZZZ2", "numberOfColors": "NA"},
        ],
    )
    check_error(
        "$size of a missing field",
        s,
        [{"$project": {"n": {"$size": "$colors"}}}],
        14,
        "The argument to $size must be an array. Type of argument is: missing",
    )

    s = coll(
        "users",
        [
            {"_id": 1, "name": "dave123", "favorites": ["chocolate", "cake", "butter", "apples"]},
            {"_id": 2, "name": "li", "favorites": ["apples", "pudding", "pie"]},
            {"_id": 3, "name": "ahn", "favorites": ["pears", "pecans", "chocolate", "cherries"]},
            {"_id": 4, "name": "ty", "favorites": ["ice cream"]},
        ],
    )
    check(
        "$arrayElemAt (docs)",
        s,
        [
            {
                "$project": {
                    "name": 1,
                    "first": {"$arrayElemAt": ["$favorites", 0]},
                    "last": {"$arrayElemAt": ["$favorites", -1]},
                }
            }
        ],
        [
            {"_id": 1, "name": "dave123", "first": "chocolate", "last": "apples"},
            {"_id": 2, "name": "li", "first": "apples", "last": "pie"},
            {"_id": 3, "name": "ahn", "first": "pears", "last": "cherries"},
            {"_id": 4, "name": "ty", "first": "ice cream", "last": "ice cream"},
        ],
    )
    check(
        "$arrayElemAt out of range is missing",
        s,
        [{"$project": {"name": 1, "fourth": {"$arrayElemAt": ["$favorites", 3]}}}],
        [
            {"_id": 1, "name": "dave123", "fourth": "apples"},
            {"_id": 2, "name": "li"},
            {"_id": 3, "name": "ahn", "fourth": "cherries"},
            {"_id": 4, "name": "ty"},
        ],
    )
    check(
        "$slice (docs)",
        s,
        [{"$project": {"name": 1, "threeFavorites": {"$slice": ["$favorites", 3]}}}],
        [
            {"_id": 1, "name": "dave123", "threeFavorites": ["chocolate", "cake", "butter"]},
            {"_id": 2, "name": "li", "threeFavorites": ["apples", "pudding", "pie"]},
            {"_id": 3, "name": "ahn", "threeFavorites": ["pears", "pecans", "chocolate"]},
            {"_id": 4, "name": "ty", "threeFavorites": ["ice cream"]},
        ],
    )
    check(
        "$slice position",
        s,
        [
            {"$match": {"_id": 1}},
            {
                "$project": {
                    "_id": 0,
                    "a": {"$slice": ["$favorites", -2]},
                    "b": {"$slice": ["$favorites", 1, 2]},
                    "c": {"$slice": ["$favorites", -3, 1]},
                }
            },
        ],
        [{"a": ["butter", "apples"], "b": ["cake", "butter"], "c": ["cake"]}],
    )

    s = coll(
        "runninglog",
        [
            {"_id": 1, "team": "Anteater", "log": [80, 100, 200]},
            {"_id": 2, "team": "Bears", "log": [200, 100, 120]},
            {"_id": 3, "team": "Cats", "log": [300]},
            {"_id": 4, "team": "Dogs", "log": []},
            {"_id": 5, "team": "Elephants", "log": None},
        ],
    )
    check(
        "$first / $last arrays (docs)",
        s,
        [{"$addFields": {"firstrun": {"$first": "$log"}, "lastrun": {"$last": "$log"}}}],
        [
            {"_id": 1, "team": "Anteater", "log": [80, 100, 200], "firstrun": 80, "lastrun": 200},
            {"_id": 2, "team": "Bears", "log": [200, 100, 120], "firstrun": 200, "lastrun": 120},
            {"_id": 3, "team": "Cats", "log": [300], "firstrun": 300, "lastrun": 300},
            {"_id": 4, "team": "Dogs", "log": []},
            {"_id": 5, "team": "Elephants", "log": None, "firstrun": None, "lastrun": None},
        ],
    )

    s = coll(
        "fruit",
        [
            {"_id": 1, "location": "24th Street", "in_stock": ["apples", "oranges", "bananas"]},
            {"_id": 2, "location": "36th Street", "in_stock": ["bananas", "pears", "grapes"]},
            {"_id": 3, "location": "82nd Street", "in_stock": ["cantaloupes", "watermelons", "apples"]},
        ],
    )
    check(
        "$in (docs)",
        s,
        [{"$project": {"store location": "$location", "has bananas": {"$in": ["bananas", "$in_stock"]}}}],
        [
            {"_id": 1, "store location": "24th Street", "has bananas": True},
            {"_id": 2, "store location": "36th Street", "has bananas": True},
            {"_id": 3, "store location": "82nd Street", "has bananas": False},
        ],
    )

    s = coll(
        "warehouses",
        [
            {"_id": 1, "instock": ["chocolate"], "ordered": ["butter", "apples"]},
            {"_id": 2, "instock": ["apples", "pudding", "pie"]},
            {"_id": 3, "instock": ["pears", "pecans"], "ordered": ["cherries"]},
            {"_id": 4, "instock": ["ice cream"], "ordered": []},
        ],
    )
    check(
        "$concatArrays (docs)",
        s,
        [{"$project": {"items": {"$concatArrays": ["$instock", "$ordered"]}}}],
        [
            {"_id": 1, "items": ["chocolate", "butter", "apples"]},
            {"_id": 2, "items": None},
            {"_id": 3, "items": ["pears", "pecans", "cherries"]},
            {"_id": 4, "items": ["ice cream"]},
        ],
    )
    check(
        "$isArray (docs)",
        s,
        [
            {
                "$project": {
                    "items": {
                        "$cond": {
                            "if": {"$and": [{"$isArray": "$instock"}, {"$isArray": "$ordered"}]},
                            "then": {"$concatArrays": ["$instock", "$ordered"]},
                            "else": "One or more fields is not an array.",
                        }
                    }
                }
            }
        ],
        [
            {"_id": 1, "items": ["chocolate", "butter", "apples"]},
            {"_id": 2, "items": "One or more fields is not an array."},
            {"_id": 3, "items": ["pears", "pecans", "cherries"]},
            {"_id": 4, "items": ["ice cream"]},
        ],
    )

    # ---------------------------------------------------------------- types
    s = coll(
        "orders_zip",
        [
            {"_id": 1, "item": "apple", "qty": 5, "zipcode": 93445},
            {"_id": 2, "item": "almonds", "qty": 2, "zipcode": "12345-0030"},
            {"_id": 3, "item": "peaches", "qty": 5, "zipcode": 12345},
        ],
    )
    check(
        "$toString (docs)",
        s,
        [{"$addFields": {"convertedZipCode": {"$toString": "$zipcode"}}}, {"$sort": {"convertedZipCode": 1}}],
        [
            {"_id": 3, "item": "peaches", "qty": 5, "zipcode": 12345, "convertedZipCode": "12345"},
            {"_id": 2, "item": "almonds", "qty": 2, "zipcode": "12345-0030", "convertedZipCode": "12345-0030"},
            {"_id": 1, "item": "apple", "qty": 5, "zipcode": 93445, "convertedZipCode": "93445"},
        ],
    )

    s = coll(
        "orders_num",
        [
            {"_id": 1, "item": "apple", "qty": "5", "price": 10},
            {"_id": 2, "item": "pie", "qty": "10", "price": 20.0},
            {"_id": 3, "item": "ice cream", "qty": "2", "price": "4.99"},
            {"_id": 4, "item": "almonds", "qty": "5", "price": 5},
        ],
    )
    check(
        "$toInt / $toDouble (docs, doubles for decimals)",
        s,
        [
            {"$addFields": {"convertedPrice": {"$toDouble": "$price"}, "convertedQty": {"$toInt": "$qty"}}},
            {"$project": {"item": 1, "totalPrice": {"$multiply": ["$convertedPrice", "$convertedQty"]}}},
        ],
        [
            {"_id": 1, "item": "apple", "totalPrice": 50.0},
            {"_id": 2, "item": "pie", "totalPrice": 200.0},
            {"_id": 3, "item": "ice cream", "totalPrice": 9.98},
            {"_id": 4, "item": "almonds", "totalPrice": 25.0},
        ],
    )
    check(
        "$toLong",
        s,
        [{"$project": {"_id": 0, "q": {"$toLong": "$qty"}}}],
        [{"q": Int64(5)}, {"q": Int64(10)}, {"q": Int64(2)}, {"q": Int64(5)}],
    )

    s = coll(
        "orders_date",
        [
            {"_id": 1, "item": "apple", "qty": 5, "order_date": D(2018, 3, 10)},
            {"_id": 2, "item": "pie", "qty": 10, "order_date": D(2018, 3, 12)},
            {"_id": 3, "item": "ice cream", "qty": 2, "price": "4.99", "order_date": "2018-03-05"},
            {"_id": 4, "item": "almonds", "qty": 5, "price": 5, "order_date": "2018-03-05 +10:00"},
        ],
    )
    check(
        "$toDate (docs)",
        s,
        [{"$addFields": {"convertedDate": {"$toDate": "$order_date"}}}, {"$sort": {"convertedDate": 1}}],
        [
            {
                "_id": 4,
                "item": "almonds",
                "qty": 5,
                "price": 5,
                "order_date": "2018-03-05 +10:00",
                "convertedDate": D(2018, 3, 4, 14),
            },
            {
                "_id": 3,
                "item": "ice cream",
                "qty": 2,
                "price": "4.99",
                "order_date": "2018-03-05",
                "convertedDate": D(2018, 3, 5),
            },
            {"_id": 1, "item": "apple", "qty": 5, "order_date": D(2018, 3, 10), "convertedDate": D(2018, 3, 10)},
            {"_id": 2, "item": "pie", "qty": 10, "order_date": D(2018, 3, 12), "convertedDate": D(2018, 3, 12)},
        ],
    )
    check(
        "$toDate from milliseconds",
        s,
        [{"$limit": 1}, {"$project": {"_id": 0, "d": {"$toDate": Int64(1521543606007)}}}],
        [{"d": D(2018, 3, 20, 11, 0, 6, 7000)}],
    )

    s = coll(
        "orders_bool",
        [
            {"_id": 1, "item": "apple", "qty": 5, "shipped": True},
            {"_id": 2, "item": "pie", "qty": 10, "shipped": 0},
            {"_id": 3, "item": "ice cream", "shipped": 1},
            {"_id": 4, "item": "almonds", "qty": 2, "shipped": "true"},
            {"_id": 5, "item": "pecans", "qty": 5, "shipped": "false"},
            {"_id": 6, "item": "nougat", "qty": 5, "shipped": ""},
        ],
    )
    check(
        "$toBool (docs)",
        s,
        [
            {
                "$addFields": {
                    "convertedShippedFlag": {
                        "$switch": {
                            "branches": [
                                {"case": {"$eq": ["$shipped", "false"]}, "then": False},
                                {"case": {"$eq": ["$shipped", ""]}, "then": False},
                            ],
                            "default": {"$toBool": "$shipped"},
                        }
                    }
                }
            },
            {"$match": {"convertedShippedFlag": False}},
        ],
        [
            {"_id": 2, "item": "pie", "qty": 10, "shipped": 0, "convertedShippedFlag": False},
            {"_id": 5, "item": "pecans", "qty": 5, "shipped": "false", "convertedShippedFlag": False},
            {"_id": 6, "item": "nougat", "qty": 5, "shipped": "", "convertedShippedFlag": False},
        ],
    )

    s = coll(
        "orders_convert",
        [
            {"_id": 1, "item": "apple", "qty": 5, "price": 10},
            {"_id": 2, "item": "pie", "qty": 10, "price": 20.0},
            {"_id": 3, "item": "ice cream", "qty": 2, "price": "4.99"},
            {"_id": 4, "item": "almonds"},
            {"_id": 5, "item": "bananas", "qty": 5000000000, "price": 1.25},
        ],
    )
    check(
        "$convert onError / onNull (docs, double for decimal)",
        s,
        [
            {
                "$addFields": {
                    "convertedPrice": {
                        "$convert": {"input": "$price", "to": "double", "onError": "Error", "onNull": 0.0}
                    },
                    "convertedQty": {
                        "$convert": {
                            "input": "$qty",
                            "to": "int",
                            "onError": {"$concat": ["Could not convert ", {"$toString": "$qty"}, " to type integer."]},
                            "onNull": 0,
                        }
                    },
                }
            },
            {
                "$project": {
                    "totalPrice": {
                        "$switch": {
                            "branches": [
                                {"case": {"$eq": [{"$type": "$convertedPrice"}, "string"]}, "then": "NaN"},
                                {"case": {"$eq": [{"$type": "$convertedQty"}, "string"]}, "then": "NaN"},
                            ],
                            "default": {"$multiply": ["$convertedPrice", "$convertedQty"]},
                        }
                    }
                }
            },
        ],
        [
            {"_id": 1, "totalPrice": 50.0},
            {"_id": 2, "totalPrice": 200.0},
            {"_id": 3, "totalPrice": 9.98},
            {"_id": 4, "totalPrice": 0.0},
            {"_id": 5, "totalPrice": "NaN"},
        ],
    )
    check(
        "$convert onError message",
        s,
        [
            {"$match": {"_id": 5}},
            {
                "$project": {
                    "m": {
                        "$convert": {
                            "input": "$qty",
                            "to": "int",
                            "onError": {"$concat": ["Could not convert ", {"$toString": "$qty"}, " to type integer."]},
                        }
                    }
                }
            },
        ],
        [{"_id": 5, "m": "Could not convert 5000000000 to type integer."}],
    )
    check_error("$toInt without onError: ConversionFailure", s, [{"$project": {"q": {"$toInt": "$qty"}}}], 241)

    s = coll(
        "storeInventory",
        [
            {"_id": 1, "item": "napkins", "price": "$2.50"},
            {"_id": 2, "item": "coffee", "price": "1"},
            {"_id": 3, "item": "tea", "price": "$.99"},
        ],
    )
    check(
        "$literal (docs)",
        s,
        [{"$project": {"costsOneDollar": {"$eq": ["$price", {"$literal": "$1"}]}}}],
        [{"_id": 1, "costsOneDollar": False}, {"_id": 2, "costsOneDollar": False}, {"_id": 3, "costsOneDollar": False}],
    )
    check(
        "$literal startAt (docs)",
        s,
        [{"$project": {"item": 1, "startAt": {"$literal": 1}}}],
        [
            {"_id": 1, "item": "napkins", "startAt": 1},
            {"_id": 2, "item": "coffee", "startAt": 1},
            {"_id": 3, "item": "tea", "startAt": 1},
        ],
    )

    # ---------------------------------------------------------------- $expr, $group, nesting
    s = coll(
        "monthlyBudget",
        [
            {"_id": 1, "category": "food", "budget": 400, "spent": 450},
            {"_id": 2, "category": "drinks", "budget": 100, "spent": 150},
            {"_id": 3, "category": "clothes", "budget": 100, "spent": 50},
            {"_id": 4, "category": "misc", "budget": 500, "spent": 300},
            {"_id": 5, "category": "travel", "budget": 200, "spent": 650},
        ],
    )
    expected_budget = [
        {"_id": 1, "category": "food", "budget": 400, "spent": 450},
        {"_id": 2, "category": "drinks", "budget": 100, "spent": 150},
        {"_id": 5, "category": "travel", "budget": 200, "spent": 650},
    ]
    check_find("find $expr (docs)", s, {"$expr": {"$gt": ["$spent", "$budget"]}}, expected_budget)
    check("$match $expr (docs)", s, [{"$match": {"$expr": {"$gt": ["$spent", "$budget"]}}}], expected_budget)

    s = coll(
        "supplies",
        [
            {"_id": 1, "item": "binder", "qty": 100, "price": 12},
            {"_id": 2, "item": "notebook", "qty": 200, "price": 8},
            {"_id": 3, "item": "pencil", "qty": 50, "price": 6},
            {"_id": 4, "item": "eraser", "qty": 150, "price": 3},
            {"_id": 5, "item": "legal pad", "qty": 42, "price": 10},
        ],
    )
    discounted = {
        "$cond": {
            "if": {"$gte": ["$qty", 100]},
            "then": {"$multiply": ["$price", 0.5]},
            "else": {"$multiply": ["$price", 0.75]},
        }
    }
    check_find(
        "find $expr with $cond (docs)",
        s,
        {"$expr": {"$lt": [discounted, 5]}},
        [
            {"_id": 2, "item": "notebook", "qty": 200, "price": 8},
            {"_id": 3, "item": "pencil", "qty": 50, "price": 6},
            {"_id": 4, "item": "eraser", "qty": 150, "price": 3},
        ],
    )

    s = coll(
        "group_sales",
        [
            {"_id": 1, "item": "abc", "price": 10.0, "quantity": 2},
            {"_id": 2, "item": "jkl", "price": 20.0, "quantity": 1},
            {"_id": 3, "item": "xyz", "price": 5.0, "quantity": 10},
            {"_id": 4, "item": "xyz", "price": 5.0, "quantity": 20},
            {"_id": 5, "item": "abc", "price": 10.0, "quantity": 10},
            {"_id": 6, "item": "def", "price": 7.5, "quantity": 5},
            {"_id": 7, "item": "def", "price": 7.5, "quantity": 10},
            {"_id": 8, "item": "abc", "price": 10.0, "quantity": 5},
        ],
    )
    check(
        "$group $sum of $multiply + $match (docs)",
        s,
        [
            {"$group": {"_id": "$item", "totalSaleAmount": {"$sum": {"$multiply": ["$price", "$quantity"]}}}},
            {"$match": {"totalSaleAmount": {"$gte": 100}}},
            {"$sort": {"_id": 1}},
        ],
        [
            {"_id": "abc", "totalSaleAmount": 170.0},
            {"_id": "def", "totalSaleAmount": 112.5},
            {"_id": "xyz", "totalSaleAmount": 150.0},
        ],
    )
    check(
        "$group _id expression + $avg of expression",
        s,
        [
            {
                "$group": {
                    "_id": {"big": {"$gte": ["$quantity", 10]}},
                    "avgAmount": {"$avg": {"$multiply": ["$price", "$quantity"]}},
                    "items": {"$addToSet": {"$toUpper": "$item"}},
                }
            },
            {"$sort": {"_id.big": 1}},
        ],
        [
            {"_id": {"big": False}, "avgAmount": (20 + 20 + 37.5 + 50) / 4, "items": ["ABC", "JKL", "DEF"]},
            {"_id": {"big": True}, "avgAmount": (50 + 100 + 100 + 75) / 4, "items": ["XYZ", "ABC", "DEF"]},
        ],
    )
    # the order of equal counts is unspecified
    got = sorted(
        db.group_sales.aggregate([{"$sortByCount": {"$cond": [{"$gte": ["$price", 10]}, "expensive", "cheap"]}}]),
        key=lambda d: d["_id"],
    )
    if got != [{"_id": "cheap", "count": 4}, {"_id": "expensive", "count": 4}]:
        FAILED.append(f"$sortByCount with an expression: got {got!r}")

    check(
        "$set / $addFields nested expressions, $$REMOVE",
        s,
        [
            {"$match": {"_id": 1}},
            {
                "$set": {
                    "amount": {"$multiply": ["$price", {"$add": ["$quantity", 1]}]},
                    "label": {"$concat": [{"$toUpper": "$item"}, "#", {"$toString": "$_id"}]},
                    "quantity": "$$REMOVE",
                    "tags": ["$item", {"$literal": "$x"}],
                }
            },
        ],
        [{"_id": 1, "item": "abc", "price": 10.0, "amount": 30.0, "label": "ABC#1", "tags": ["abc", "$x"]}],
    )
    check(
        "$replaceWith with expressions",
        s,
        [
            {"$match": {"_id": 6}},
            {
                "$replaceWith": {
                    "item": "$item",
                    "amount": {"$round": [{"$multiply": ["$price", "$quantity", 1.07]}, 2]},
                }
            },
        ],
        [{"item": "def", "amount": 40.12}],
    )

    # ---------------------------------------------------------------- errors
    check_error("unknown operator in $project: 31325", s, [{"$project": {"x": {"$nope": 1}}}], 31325)
    check_error("unknown nested operator: 168", s, [{"$project": {"x": {"$add": [1, {"$nope": 1}]}}}], 168)
    check_error("wrong number of arguments: 16020", s, [{"$project": {"x": {"$eq": [1]}}}], 16020)
    check_error(
        "$add of a string: 14",
        s,
        [{"$project": {"x": {"$add": ["$item", 1]}}}],
        14,
        "$add only supports numeric or date types, not string",
    )
    check_error("not implemented operator: 238", s, [{"$project": {"x": {"$sin": "$item"}}}], 238)
    check_error(
        "$cond without else: 9",
        s,
        [{"$project": {"x": {"$cond": {"if": True, "then": 1}}}}],
        9,
        "Missing 'else' parameter to $cond",
    )
    check_error("$slice of a string: 28724", s, [{"$project": {"x": {"$slice": ["$item", 1]}}}], 28724)

    return 82


@pytest.fixture(scope="module")
def instance_db(service: Service) -> Iterator[Any]:
    with service.ready_instance("expressions-1") as inst, connect(inst, PASSWORD) as client:
        yield client.expressions


def test_expression_operators_answer_as_the_documentation(instance_db: Any) -> None:
    FAILED.clear()
    ran = run_examples(instance_db)
    assert not FAILED, f"{len(FAILED)} of {ran} examples differ:\n" + "\n".join(FAILED)
