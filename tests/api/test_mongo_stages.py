"""Aggregation stages of patch 0015 through a running instance with pymongo: `$out`, `$merge`,
`$graphLookup`, `$bucketAuto` and `$setWindowFields`, checked with MongoDB's documentation examples
and their documented answers (targets of `$out`/`$merge` read back with find()), plus the main
error codes of MongoDB 5.0."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from bson import Int64, ObjectId
from pymongo.errors import OperationFailure

D = dt.datetime


def fill(db: Any, name: str, docs: list[dict[str, Any]]) -> Any:
    """Returns the collection `name`, dropped and filled with the documents."""
    db[name].drop()
    if docs:
        db[name].insert_many([dict(d) for d in docs])
    return db[name]


def agg(db: Any, coll: str, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list(db[coll].aggregate(pipeline))


def error_code(db: Any, coll: str, pipeline: list[dict[str, Any]]) -> int:
    with pytest.raises(OperationFailure) as e:
        list(db[coll].aggregate(pipeline))
    return int(e.value.code or 0)


def by_id(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(docs, key=lambda d: repr(d["_id"]))


def without_id(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in d.items() if k != "_id"} for d in docs]


# --- $out -------------------------------------------------------------------------------------

BOOKS = [
    {"_id": 8751, "title": "The Banquet", "author": "Dante", "copies": 2},
    {"_id": 8752, "title": "Divine Comedy", "author": "Dante", "copies": 1},
    {"_id": 8645, "title": "Eclogues", "author": "Dante", "copies": 2},
    {"_id": 7000, "title": "The Odyssey", "author": "Homer", "copies": 10},
    {"_id": 7020, "title": "Iliad", "author": "Homer", "copies": 10},
]

AUTHORS = [
    {"_id": "Dante", "books": ["The Banquet", "Divine Comedy", "Eclogues"]},
    {"_id": "Homer", "books": ["The Odyssey", "Iliad"]},
]


def test_out_same_database(db: Any) -> None:
    fill(db, "stg_books", BOOKS)
    fill(db, "stg_authors", [{"_id": "old"}])
    db.stg_authors.create_index("books")
    res = agg(
        db,
        "stg_books",
        [
            {"$sort": {"_id": -1}},  # documented order of the books' titles: natural (insertion) order
            {"$sort": {"copies": 1}},
            {"$group": {"_id": "$author", "books": {"$push": "$title"}}},
            {"$out": "stg_authors"},
        ],
    )
    assert res == []
    got = by_id(list(db.stg_authors.find()))
    assert [d["_id"] for d in got] == ["Dante", "Homer"]
    assert sorted(got[0]["books"]) == sorted(AUTHORS[0]["books"])
    assert sorted(got[1]["books"]) == sorted(AUTHORS[1]["books"])
    # the target's indexes are kept
    assert "books_1" in db.stg_authors.index_information()


def test_out_documented_order(db: Any) -> None:
    fill(db, "stg_books", BOOKS)
    agg(db, "stg_books", [{"$group": {"_id": "$author", "books": {"$push": "$title"}}}, {"$out": "stg_authors"}])
    assert by_id(list(db.stg_authors.find())) == AUTHORS


def test_out_other_database(db: Any) -> None:
    fill(db, "stg_books", BOOKS)
    other = db.client["reporting"]
    other.stg_authors.drop()
    agg(
        db,
        "stg_books",
        [
            {"$group": {"_id": "$author", "books": {"$push": "$title"}}},
            {"$out": {"db": "reporting", "coll": "stg_authors"}},
        ],
    )
    assert by_id(list(other.stg_authors.find())) == AUTHORS
    other.stg_authors.drop()


def test_out_generates_ids_and_replaces(db: Any) -> None:
    fill(db, "stg_src", [{"_id": 1, "a": 1}, {"_id": 2, "a": 2}])
    fill(db, "stg_dst", [{"_id": 9, "old": True}])
    agg(db, "stg_src", [{"$project": {"_id": 0, "a": 1}}, {"$out": "stg_dst"}])
    got = list(db.stg_dst.find())
    assert sorted(d["a"] for d in got) == [1, 2]
    assert all(isinstance(d["_id"], ObjectId) for d in got)
    # an empty result leaves an empty (existing) target
    agg(db, "stg_src", [{"$match": {"a": 100}}, {"$out": "stg_dst"}])
    assert list(db.stg_dst.find()) == []
    assert "stg_dst" in db.list_collection_names()


def test_out_failure_keeps_old_target(db: Any) -> None:
    fill(db, "stg_src", [{"_id": 1, "k": "x"}, {"_id": 2, "k": "x"}])
    fill(db, "stg_dst", [{"_id": "old"}])
    # duplicate _id in the output: 11000, the old target stays
    assert error_code(db, "stg_src", [{"$project": {"_id": "$k"}}, {"$out": "stg_dst"}]) == 11000
    assert list(db.stg_dst.find()) == [{"_id": "old"}]
    # a failing stage before $out: the old target stays
    assert error_code(db, "stg_src", [{"$project": {"x": {"$divide": [1, 0]}}}, {"$out": "stg_dst"}]) > 0
    assert list(db.stg_dst.find()) == [{"_id": "old"}]
    assert not [c for c in db.list_collection_names() if c.startswith("tmp.agg_out")]


def test_out_unique_index_of_target_holds(db: Any) -> None:
    fill(db, "stg_src", [{"_id": 1, "u": 1}, {"_id": 2, "u": 1}])
    fill(db, "stg_dst", [{"_id": "old", "u": 5}])
    db.stg_dst.create_index("u", unique=True)
    assert error_code(db, "stg_src", [{"$out": "stg_dst"}]) == 11000
    assert list(db.stg_dst.find()) == [{"_id": "old", "u": 5}]


@pytest.mark.parametrize(
    ("pipeline", "code"),
    [
        ([{"$out": "stg_x"}, {"$match": {}}], 40601),
        ([{"$out": 1}], 16990),
        ([{"$out": {"coll": "x"}}], 40414),
        ([{"$out": {"db": "testdb", "coll": "x", "y": 1}}], 40415),
        ([{"$out": {"db": 1, "coll": "x"}}], 14),
        ([{"$out": "system.x"}], 17385),
        ([{"$facet": {"a": [{"$out": "stg_x"}]}}], 40600),
        ([{"$lookup": {"from": "a", "pipeline": [{"$out": "stg_x"}], "as": "b"}}], 51047),
        ([{"$unionWith": {"coll": "a", "pipeline": [{"$out": "stg_x"}]}}], 31441),
    ],
)
def test_out_errors(db: Any, pipeline: list[dict[str, Any]], code: int) -> None:
    fill(db, "stg_src", [{"_id": 1}])
    assert error_code(db, "stg_src", pipeline) == code


# --- $merge -----------------------------------------------------------------------------------

SALARIES = [
    {"_id": 1, "employee": "Ant", "dept": "A", "salary": 100000, "fiscal_year": 2017},
    {"_id": 2, "employee": "Bee", "dept": "A", "salary": 120000, "fiscal_year": 2017},
    {"_id": 3, "employee": "Cat", "dept": "Z", "salary": 115000, "fiscal_year": 2017},
    {"_id": 4, "employee": "Ant", "dept": "A", "salary": 115000, "fiscal_year": 2018},
    {"_id": 5, "employee": "Bee", "dept": "Z", "salary": 145000, "fiscal_year": 2018},
    {"_id": 6, "employee": "Cat", "dept": "Z", "salary": 135000, "fiscal_year": 2018},
    {"_id": 7, "employee": "Gecko", "dept": "A", "salary": 100000, "fiscal_year": 2018},
    {"_id": 8, "employee": "Ant", "dept": "A", "salary": 125000, "fiscal_year": 2019},
    {"_id": 9, "employee": "Bee", "dept": "Z", "salary": 160000, "fiscal_year": 2019},
    {"_id": 10, "employee": "Cat", "dept": "Z", "salary": 150000, "fiscal_year": 2019},
]

BUDGET_GROUP = {"$group": {"_id": {"fiscal_year": "$fiscal_year", "dept": "$dept"}, "salaries": {"$sum": "$salary"}}}


def budgets(coll: Any) -> list[tuple[int, str, int]]:
    return sorted((d["_id"]["fiscal_year"], d["_id"]["dept"], d["salaries"]) for d in coll.find())


def test_merge_on_demand_materialized_view(db: Any) -> None:
    fill(db, "stg_salaries", SALARIES)
    reporting = db.client["reporting"]
    reporting.stg_budgets.drop()
    merge = {
        "$merge": {
            "into": {"db": "reporting", "coll": "stg_budgets"},
            "on": "_id",
            "whenMatched": "replace",
            "whenNotMatched": "insert",
        }
    }
    assert agg(db, "stg_salaries", [BUDGET_GROUP, merge]) == []
    assert budgets(reporting.stg_budgets) == [
        (2017, "A", 220000),
        (2017, "Z", 115000),
        (2018, "A", 215000),
        (2018, "Z", 280000),
        (2019, "A", 125000),
        (2019, "Z", 310000),
    ]
    db.stg_salaries.insert_many(
        [
            {"_id": 11, "employee": "Wren", "dept": "Z", "salary": 100000, "fiscal_year": 2019},
            {"_id": 12, "employee": "Zebra", "dept": "A", "salary": 150000, "fiscal_year": 2019},
            {"_id": 13, "employee": "headcount1", "dept": "Z", "salary": 120000, "fiscal_year": 2020},
            {"_id": 14, "employee": "headcount2", "dept": "Z", "salary": 120000, "fiscal_year": 2020},
        ]
    )
    agg(db, "stg_salaries", [{"$match": {"fiscal_year": {"$gte": 2019}}}, BUDGET_GROUP, merge])
    assert budgets(reporting.stg_budgets) == [
        (2017, "A", 220000),
        (2017, "Z", 115000),
        (2018, "A", 215000),
        (2018, "Z", 280000),
        (2019, "A", 275000),
        (2019, "Z", 410000),
        (2020, "Z", 240000),
    ]
    reporting.stg_budgets.drop()


def test_merge_only_insert_new_data(db: Any) -> None:
    fill(db, "stg_salaries", SALARIES)
    archive = fill(
        db,
        "stg_org_archive",
        [
            {"employees": ["Ant", "Gecko"], "dept": "A", "fiscal_year": 2018},
            {"employees": ["Ant", "Bee"], "dept": "A", "fiscal_year": 2017},
            {"employees": ["Bee", "Cat"], "dept": "Z", "fiscal_year": 2018},
            {"employees": ["Cat"], "dept": "Z", "fiscal_year": 2017},
        ],
    )
    archive.create_index([("dept", 1), ("fiscal_year", 1)], unique=True)
    pipeline = [
        {"$match": {"fiscal_year": 2019}},
        {"$group": {"_id": {"fiscal_year": "$fiscal_year", "dept": "$dept"}, "employees": {"$push": "$employee"}}},
        {"$project": {"_id": 0, "dept": "$_id.dept", "fiscal_year": "$_id.fiscal_year", "employees": 1}},
        {"$merge": {"into": "stg_org_archive", "on": ["dept", "fiscal_year"], "whenMatched": "fail"}},
    ]
    agg(db, "stg_salaries", pipeline)
    got = sorted((d["fiscal_year"], d["dept"], d["employees"]) for d in archive.find())
    assert got == [
        (2017, "A", ["Ant", "Bee"]),
        (2017, "Z", ["Cat"]),
        (2018, "A", ["Ant", "Gecko"]),
        (2018, "Z", ["Bee", "Cat"]),
        (2019, "A", ["Ant"]),
        (2019, "Z", ["Bee", "Cat"]),
    ]
    assert all(isinstance(d["_id"], ObjectId) for d in archive.find())
    # the same documents again: whenMatched fail is a duplicate key error
    assert error_code(db, "stg_salaries", pipeline) == 11000
    # on fields without a unique index: 51183
    pipeline[-1] = {"$merge": {"into": "stg_org_archive", "on": ["dept"], "whenMatched": "fail"}}
    assert error_code(db, "stg_salaries", pipeline) == 51183


def test_merge_when_matched_modes(db: Any) -> None:
    src = [{"_id": 1, "a": 10}, {"_id": 2, "a": 20}]
    fill(db, "stg_src", src)
    cases = {
        "replace": [{"_id": 1, "a": 10}, {"_id": 2, "a": 20}, {"_id": 3, "b": 3}],
        "merge": [{"_id": 1, "a": 10, "b": 1}, {"_id": 2, "a": 20}, {"_id": 3, "b": 3}],
        "keepExisting": [{"_id": 1, "b": 1}, {"_id": 2, "a": 20}, {"_id": 3, "b": 3}],
    }
    for mode, expected in cases.items():
        fill(db, "stg_dst", [{"_id": 1, "b": 1}, {"_id": 3, "b": 3}])
        agg(db, "stg_src", [{"$merge": {"into": "stg_dst", "whenMatched": mode}}])
        assert list(db.stg_dst.find().sort("_id", 1)) == expected, mode
    # whenNotMatched discard / fail
    fill(db, "stg_dst", [{"_id": 1, "b": 1}])
    agg(db, "stg_src", [{"$merge": {"into": "stg_dst", "whenMatched": "merge", "whenNotMatched": "discard"}}])
    assert list(db.stg_dst.find()) == [{"_id": 1, "b": 1, "a": 10}]
    assert error_code(db, "stg_src", [{"$merge": {"into": "stg_dst", "whenNotMatched": "fail"}}]) == 13113
    # default: merge + insert, into a new collection given as a string
    db.stg_new.drop()
    agg(db, "stg_src", [{"$merge": "stg_new"}])
    assert list(db.stg_new.find().sort("_id", 1)) == src


def test_merge_duplicate_key_on_insert(db: Any) -> None:
    fill(db, "stg_src", [{"_id": 1, "u": 5}])
    fill(db, "stg_dst", [{"_id": 2, "u": 5}])
    db.stg_dst.create_index("u", unique=True)
    assert error_code(db, "stg_src", [{"$merge": {"into": "stg_dst"}}]) == 11000
    assert list(db.stg_dst.find()) == [{"_id": 2, "u": 5}]


def test_merge_pipeline_with_new(db: Any) -> None:
    # MongoDB's example (its $dateToString gives "2019-05", here a literal)
    fill(db, "stg_votes", [{"date": D(2019, 5, 7), "thumbsup": 14, "thumbsdown": 10}])
    fill(db, "stg_monthlytotals", [{"_id": "2019-05", "thumbsup": 26, "thumbsdown": 31}])
    agg(
        db,
        "stg_votes",
        [
            {"$match": {"date": {"$gte": D(2019, 5, 7), "$lt": D(2019, 5, 8)}}},
            {"$project": {"_id": {"$literal": "2019-05"}, "thumbsup": 1, "thumbsdown": 1}},
            {
                "$merge": {
                    "into": "stg_monthlytotals",
                    "on": "_id",
                    "whenMatched": [
                        {
                            "$addFields": {
                                "thumbsup": {"$add": ["$thumbsup", "$$new.thumbsup"]},
                                "thumbsdown": {"$add": ["$thumbsdown", "$$new.thumbsdown"]},
                            }
                        }
                    ],
                    "whenNotMatched": "insert",
                }
            },
        ],
    )
    assert list(db.stg_monthlytotals.find()) == [{"_id": "2019-05", "thumbsup": 40, "thumbsdown": 41}]


def test_merge_pipeline_with_let(db: Any) -> None:
    fill(db, "stg_cake_sales", [{"_id": 1, "flavor": "chocolate", "salesTotal": 1580, "salesTrend": "up"}])
    agg(
        db,
        "stg_cake_sales",
        [
            {
                "$merge": {
                    "into": "stg_cake_sales",
                    "let": {"year": "2020"},
                    "whenMatched": [{"$addFields": {"salesYear": "$$year"}}],
                }
            }
        ],
    )
    assert list(db.stg_cake_sales.find()) == [
        {"_id": 1, "flavor": "chocolate", "salesTotal": 1580, "salesTrend": "up", "salesYear": "2020"},
    ]


@pytest.mark.parametrize(
    ("merge", "code"),
    [
        (1, 51182),
        ({"on": "_id"}, 40414),
        ({"into": 1}, 51178),
        ({"into": ""}, 5786800),
        ({"into": {"db": "testdb"}}, 5786801),
        ({"into": "x", "on": 1}, 51186),
        ({"into": "x", "on": []}, 51187),
        ({"into": "x", "on": [1]}, 51134),
        ({"into": "x", "whenMatched": 1}, 51191),
        ({"into": "x", "whenMatched": "bad"}, 2),
        ({"into": "x", "whenNotMatched": "bad"}, 2),
        ({"into": "x", "whenMatched": "fail", "whenNotMatched": "discard"}, 51181),
        ({"into": "x", "whenMatched": "keepExisting", "whenNotMatched": "fail"}, 51181),
        ({"into": "x", "let": {"a": 1}}, 51199),
        ({"into": "x", "whenMatched": [{"$group": {"_id": 1}}]}, 72),
        ({"into": "x", "y": 1}, 40415),
        ({"into": "system.x"}, 31319),
    ],
)
def test_merge_errors(db: Any, merge: Any, code: int) -> None:
    fill(db, "stg_src", [{"_id": 1}])
    assert error_code(db, "stg_src", [{"$merge": merge}]) == code


def test_merge_must_be_last_and_not_in_subpipelines(db: Any) -> None:
    fill(db, "stg_src", [{"_id": 1, "a": [1, 2]}])
    assert error_code(db, "stg_src", [{"$merge": "stg_x"}, {"$match": {}}]) == 40601
    assert error_code(db, "stg_src", [{"$facet": {"a": [{"$merge": "stg_x"}]}}]) == 40600
    assert error_code(db, "stg_src", [{"$lookup": {"from": "a", "pipeline": [{"$merge": "x"}], "as": "b"}}]) == 51047
    # an array as an on value: 51185
    assert error_code(db, "stg_src", [{"$project": {"_id": "$a"}}, {"$merge": {"into": "stg_x"}}]) == 51185


# --- $graphLookup -----------------------------------------------------------------------------

EMPLOYEES = [
    {"_id": 1, "name": "Dev"},
    {"_id": 2, "name": "Eliot", "reportsTo": "Dev"},
    {"_id": 3, "name": "Ron", "reportsTo": "Eliot"},
    {"_id": 4, "name": "Andrew", "reportsTo": "Eliot"},
    {"_id": 5, "name": "Asya", "reportsTo": "Ron"},
    {"_id": 6, "name": "Dan", "reportsTo": "Andrew"},
]


def test_graph_lookup_single_collection(db: Any) -> None:
    fill(db, "stg_employees", EMPLOYEES)
    res = agg(
        db,
        "stg_employees",
        [
            {
                "$graphLookup": {
                    "from": "stg_employees",
                    "startWith": "$reportsTo",
                    "connectFromField": "reportsTo",
                    "connectToField": "name",
                    "as": "reportingHierarchy",
                }
            },
            {"$sort": {"_id": 1}},
        ],
    )
    expected = {
        1: [],
        2: [{"_id": 1, "name": "Dev"}],
        3: [{"_id": 1, "name": "Dev"}, {"_id": 2, "name": "Eliot", "reportsTo": "Dev"}],
        4: [{"_id": 1, "name": "Dev"}, {"_id": 2, "name": "Eliot", "reportsTo": "Dev"}],
        5: [
            {"_id": 1, "name": "Dev"},
            {"_id": 2, "name": "Eliot", "reportsTo": "Dev"},
            {"_id": 3, "name": "Ron", "reportsTo": "Eliot"},
        ],
        6: [
            {"_id": 1, "name": "Dev"},
            {"_id": 2, "name": "Eliot", "reportsTo": "Dev"},
            {"_id": 4, "name": "Andrew", "reportsTo": "Eliot"},
        ],
    }
    assert [d["_id"] for d in res] == [1, 2, 3, 4, 5, 6]
    for d in res:
        # MongoDB gives the found documents in no particular order
        assert sorted(d["reportingHierarchy"], key=lambda x: x["_id"]) == expected[d["_id"]]
        assert {k: v for k, v in d.items() if k != "reportingHierarchy"} == EMPLOYEES[d["_id"] - 1]


def test_graph_lookup_max_depth_and_depth_field(db: Any) -> None:
    fill(
        db,
        "stg_airports",
        [
            {"_id": 0, "airport": "JFK", "connects": ["BOS", "ORD"]},
            {"_id": 1, "airport": "BOS", "connects": ["JFK", "PWM"]},
            {"_id": 2, "airport": "ORD", "connects": ["JFK"]},
            {"_id": 3, "airport": "PWM", "connects": ["BOS", "LHR"]},
            {"_id": 4, "airport": "LHR", "connects": ["PWM"]},
        ],
    )
    fill(
        db,
        "stg_travelers",
        [
            {"_id": 1, "name": "Dev", "nearestAirport": "JFK"},
            {"_id": 2, "name": "Eliot", "nearestAirport": "JFK"},
            {"_id": 3, "name": "Jeff", "nearestAirport": "BOS"},
        ],
    )
    res = agg(
        db,
        "stg_travelers",
        [
            {
                "$graphLookup": {
                    "from": "stg_airports",
                    "startWith": "$nearestAirport",
                    "connectFromField": "connects",
                    "connectToField": "airport",
                    "maxDepth": 2,
                    "depthField": "numConnections",
                    "as": "destinations",
                }
            },
            {"$sort": {"_id": 1}},
        ],
    )
    got = {d["name"]: sorted((x["airport"], x["numConnections"]) for x in d["destinations"]) for d in res}
    assert got == {
        "Dev": [("BOS", 1), ("JFK", 0), ("ORD", 1), ("PWM", 2)],
        "Eliot": [("BOS", 1), ("JFK", 0), ("ORD", 1), ("PWM", 2)],
        "Jeff": [("BOS", 0), ("JFK", 1), ("LHR", 2), ("ORD", 2), ("PWM", 1)],
    }
    # depthField is a long, as in MongoDB
    assert all(isinstance(x["numConnections"], Int64) for d in res for x in d["destinations"])
    # maxDepth 0: the direct matches only
    res = agg(
        db,
        "stg_travelers",
        [
            {"$match": {"name": "Jeff"}},
            {
                "$graphLookup": {
                    "from": "stg_airports",
                    "startWith": "$nearestAirport",
                    "connectFromField": "connects",
                    "connectToField": "airport",
                    "maxDepth": 0,
                    "as": "d",
                }
            },
        ],
    )
    assert [x["airport"] for x in res[0]["d"]] == ["BOS"]


def test_graph_lookup_restrict_search_with_match(db: Any) -> None:
    fill(
        db,
        "stg_people",
        [
            {
                "_id": 1,
                "name": "Tanya Jordan",
                "friends": ["Shirley Soto", "Terry Hawkins", "Carole Hale"],
                "hobbies": ["tennis", "unicycling", "golf"],
            },
            {
                "_id": 2,
                "name": "Carole Hale",
                "friends": ["Joseph Dennis", "Tanya Jordan", "Terry Hawkins"],
                "hobbies": ["archery", "golf", "woodworking"],
            },
            {
                "_id": 3,
                "name": "Terry Hawkins",
                "friends": ["Tanya Jordan", "Carole Hale", "Angelo Ward"],
                "hobbies": ["knitting", "frisbee"],
            },
            {
                "_id": 4,
                "name": "Joseph Dennis",
                "friends": ["Angelo Ward", "Carole Hale"],
                "hobbies": ["tennis", "golf", "topiary"],
            },
            {
                "_id": 5,
                "name": "Angelo Ward",
                "friends": ["Terry Hawkins", "Shirley Soto", "Joseph Dennis"],
                "hobbies": ["travel", "ceramics", "golf"],
            },
            {
                "_id": 6,
                "name": "Shirley Soto",
                "friends": ["Angelo Ward", "Tanya Jordan", "Carole Hale"],
                "hobbies": ["frisbee", "set theory"],
            },
        ],
    )
    res = agg(
        db,
        "stg_people",
        [
            {"$match": {"name": "Tanya Jordan"}},
            {
                "$graphLookup": {
                    "from": "stg_people",
                    "startWith": "$friends",
                    "connectFromField": "friends",
                    "connectToField": "name",
                    "as": "golfers",
                    "restrictSearchWithMatch": {"hobbies": "golf"},
                }
            },
            {"$project": {"name": 1, "friends": 1, "connections who play golf": "$golfers.name"}},
        ],
    )
    assert len(res) == 1
    assert res[0]["name"] == "Tanya Jordan"
    assert res[0]["friends"] == ["Shirley Soto", "Terry Hawkins", "Carole Hale"]
    assert sorted(res[0]["connections who play golf"]) == sorted(
        ["Joseph Dennis", "Tanya Jordan", "Angelo Ward", "Carole Hale"]
    )


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        (4, 9),
        ({"startWith": "$a", "connectFromField": "a", "connectToField": "b", "as": "c"}, 9),
        ({"from": 1, "startWith": "$a", "connectFromField": "a", "connectToField": "b", "as": "c"}, 9),
        (
            {
                "from": "x",
                "startWith": "$a",
                "connectFromField": "a",
                "connectToField": "b",
                "as": "c",
                "maxDepth": "s",
            },
            40100,
        ),
        (
            {"from": "x", "startWith": "$a", "connectFromField": "a", "connectToField": "b", "as": "c", "maxDepth": -1},
            40101,
        ),
        (
            {
                "from": "x",
                "startWith": "$a",
                "connectFromField": "a",
                "connectToField": "b",
                "as": "c",
                "maxDepth": 2.3,
            },
            40102,
        ),
        ({"from": "x", "startWith": "$a", "connectFromField": 1, "connectToField": "b", "as": "c"}, 40103),
        ({"from": "x", "startWith": "$a", "connectFromField": "a", "connectToField": "b", "as": "c", "y": 1}, 40104),
        ({"from": "x", "connectFromField": "a", "connectToField": "b", "as": "c"}, 40105),
        (
            {
                "from": "x",
                "startWith": "$a",
                "connectFromField": "a",
                "connectToField": "b",
                "as": "c",
                "restrictSearchWithMatch": 1,
            },
            40185,
        ),
    ],
)
def test_graph_lookup_errors(db: Any, spec: Any, code: int) -> None:
    fill(db, "stg_src", [{"_id": 1}])
    assert error_code(db, "stg_src", [{"$graphLookup": spec}]) == code


# --- $bucketAuto ------------------------------------------------------------------------------

ARTWORK = [
    {
        "_id": 1,
        "title": "The Pillars of Society",
        "artist": "Grosz",
        "year": 1926,
        "price": 199.99,
        "dimensions": {"height": 39, "width": 21, "units": "in"},
    },
    {
        "_id": 2,
        "title": "Melancholy III",
        "artist": "Munch",
        "year": 1902,
        "price": 280.00,
        "dimensions": {"height": 49, "width": 32, "units": "in"},
    },
    {
        "_id": 3,
        "title": "Dancer",
        "artist": "Miro",
        "year": 1925,
        "price": 76.04,
        "dimensions": {"height": 25, "width": 20, "units": "in"},
    },
    {
        "_id": 4,
        "title": "The Great Wave off Kanagawa",
        "artist": "Hokusai",
        "price": 167.30,
        "dimensions": {"height": 24, "width": 36, "units": "in"},
    },
    {
        "_id": 5,
        "title": "The Persistence of Memory",
        "artist": "Dali",
        "year": 1931,
        "price": 483.00,
        "dimensions": {"height": 20, "width": 24, "units": "in"},
    },
    {
        "_id": 6,
        "title": "Composition VII",
        "artist": "Kandinsky",
        "year": 1913,
        "price": 385.00,
        "dimensions": {"height": 30, "width": 46, "units": "in"},
    },
    {
        "_id": 7,
        "title": "The Scream",
        "artist": "Munch",
        "price": 159.00,
        "dimensions": {"height": 24, "width": 18, "units": "in"},
    },
    {
        "_id": 8,
        "title": "Blue Flower",
        "artist": "O'Keefe",
        "year": 1918,
        "price": 118.42,
        "dimensions": {"height": 24, "width": 20, "units": "in"},
    },
]


def test_bucket_auto_single_field(db: Any) -> None:
    fill(db, "stg_artwork", ARTWORK)
    res = agg(db, "stg_artwork", [{"$bucketAuto": {"groupBy": "$price", "buckets": 4}}])
    assert res == [
        {"_id": {"min": 76.04, "max": 159.00}, "count": 2},
        {"_id": {"min": 159.00, "max": 199.99}, "count": 2},
        {"_id": {"min": 199.99, "max": 385.00}, "count": 2},
        {"_id": {"min": 385.00, "max": 483.00}, "count": 2},
    ]


def test_bucket_auto_in_facet_with_output(db: Any) -> None:
    fill(db, "stg_artwork", ARTWORK)
    res = agg(
        db,
        "stg_artwork",
        [
            {
                "$facet": {
                    "price": [{"$bucketAuto": {"groupBy": "$price", "buckets": 4}}],
                    "year": [
                        {
                            "$bucketAuto": {
                                "groupBy": "$year",
                                "buckets": 3,
                                "output": {"count": {"$sum": 1}, "years": {"$push": "$year"}},
                            }
                        }
                    ],
                    "area": [
                        {
                            "$bucketAuto": {
                                "groupBy": {"$multiply": ["$dimensions.height", "$dimensions.width"]},
                                "buckets": 4,
                                "output": {"count": {"$sum": 1}, "titles": {"$push": "$title"}},
                            }
                        }
                    ],
                }
            }
        ],
    )
    assert res[0]["year"] == [
        {"_id": {"min": None, "max": 1913}, "count": 3, "years": [1902]},
        {"_id": {"min": 1913, "max": 1926}, "count": 3, "years": [1913, 1918, 1925]},
        {"_id": {"min": 1926, "max": 1931}, "count": 2, "years": [1926, 1931]},
    ]
    assert res[0]["area"] == [
        {
            "_id": {"min": 432, "max": 500},
            "count": 3,
            "titles": ["The Scream", "The Persistence of Memory", "Blue Flower"],
        },
        {"_id": {"min": 500, "max": 864}, "count": 2, "titles": ["Dancer", "The Pillars of Society"]},
        {"_id": {"min": 864, "max": 1568}, "count": 2, "titles": ["The Great Wave off Kanagawa", "Composition VII"]},
        {"_id": {"min": 1568, "max": 1568}, "count": 1, "titles": ["Melancholy III"]},
    ]


@pytest.mark.parametrize(
    ("granularity", "expected"),
    [
        ("R5", [(0, 25, 25), (25, 63, 38), (63, 100, 37)]),
        ("POWERSOF2", [(0, 32, 32), (32, 64, 32), (64, 128, 36)]),
        ("1-2-5", [(0, 20, 20), (20, 50, 30), (50, 100, 50)]),
        ("E6", [(0, 22, 22), (22, 47, 25), (47, 68, 21), (68, 100, 32)]),
    ],
)
def test_bucket_auto_granularity(db: Any, granularity: str, expected: list[tuple[int, int, int]]) -> None:
    fill(db, "stg_things", [{"_id": i} for i in range(100)])
    res = agg(db, "stg_things", [{"$bucketAuto": {"groupBy": "$_id", "buckets": 5, "granularity": granularity}}])
    assert [(d["_id"]["min"], d["_id"]["max"], d["count"]) for d in res] == expected


def test_bucket_auto_renard_and_e_series_rounding(db: Any) -> None:
    # one bucket: min rounded down, max rounded up to the series
    fill(db, "stg_vals", [{"v": 3.3}, {"v": 7.7}])
    cases = {
        "R10": (3.15, 8.0),
        "R20": (3.15, 8.0),
        "R40": (3.15, 8.0),
        "R80": (3.25, 7.75),
        "E12": (2.7, 8.2),
        "E24": (3.0, 8.2),
        "E48": (3.16, 7.87),
        "E96": (3.24, 7.87),
        "E192": (3.28, 7.77),
    }
    for g, (lo, hi) in cases.items():
        res = agg(db, "stg_vals", [{"$bucketAuto": {"groupBy": "$v", "buckets": 1, "granularity": g}}])
        assert len(res) == 1, g
        assert res[0]["_id"]["min"] == pytest.approx(lo), g
        assert res[0]["_id"]["max"] == pytest.approx(hi), g
        assert res[0]["count"] == 2


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        (1, 40240),
        ({"groupBy": "price", "buckets": 2}, 40239),
        ({"groupBy": "$price", "buckets": "2"}, 40241),
        ({"groupBy": "$price", "buckets": 2.5}, 40242),
        ({"groupBy": "$price", "buckets": 0}, 40243),
        ({"groupBy": "$price", "buckets": 2, "output": 1}, 40244),
        ({"groupBy": "$price", "buckets": 2, "x": 1}, 40245),
        ({"groupBy": "$price"}, 40246),
        ({"groupBy": "$price", "buckets": 2, "granularity": "R7"}, 40257),
        ({"groupBy": "$title", "buckets": 2, "granularity": "R5"}, 40258),
        ({"groupBy": "$price", "buckets": 2, "granularity": 5}, 40261),
    ],
)
def test_bucket_auto_errors(db: Any, spec: Any, code: int) -> None:
    fill(db, "stg_artwork", ARTWORK)
    assert error_code(db, "stg_artwork", [{"$bucketAuto": spec}]) == code


def test_bucket_auto_negative_with_granularity(db: Any) -> None:
    fill(db, "stg_vals", [{"v": -1}])
    assert error_code(db, "stg_vals", [{"$bucketAuto": {"groupBy": "$v", "buckets": 1, "granularity": "R5"}}]) == 40260


# --- $setWindowFields -------------------------------------------------------------------------

CAKE_SALES = [
    {
        "_id": 0,
        "type": "chocolate",
        "orderDate": D(2020, 5, 18, 14, 10, 30),
        "state": "CA",
        "price": 13,
        "quantity": 120,
    },
    {
        "_id": 1,
        "type": "chocolate",
        "orderDate": D(2021, 3, 20, 11, 30, 5),
        "state": "WA",
        "price": 14,
        "quantity": 140,
    },
    {"_id": 2, "type": "vanilla", "orderDate": D(2021, 1, 11, 6, 31, 15), "state": "CA", "price": 12, "quantity": 145},
    {"_id": 3, "type": "vanilla", "orderDate": D(2020, 2, 8, 13, 13, 23), "state": "WA", "price": 13, "quantity": 104},
    {
        "_id": 4,
        "type": "strawberry",
        "orderDate": D(2019, 5, 18, 16, 9, 1),
        "state": "CA",
        "price": 41,
        "quantity": 162,
    },
    {"_id": 5, "type": "strawberry", "orderDate": D(2019, 1, 8, 6, 12, 3), "state": "WA", "price": 43, "quantity": 134},
]


def windows(
    db: Any, spec: dict[str, Any], field: str, docs: list[dict[str, Any]] = CAKE_SALES
) -> list[tuple[Any, Any]]:
    """Runs $setWindowFields over cakeSales and returns (_id, field) pairs in the output order;
    the other fields must be those of the input documents."""
    fill(db, "stg_cake_sales", docs)
    res = agg(db, "stg_cake_sales", [{"$setWindowFields": spec}])
    originals = {d["_id"]: d for d in docs}
    for d in res:
        assert {k: v for k, v in d.items() if k != field} == originals[d["_id"]]
    return [(d["_id"], d.get(field)) for d in res]


STATE_BY_DATE = {"partitionBy": "$state", "sortBy": {"orderDate": 1}}
STATE_BY_QUANTITY = {"partitionBy": "$state", "sortBy": {"quantity": -1}}


@pytest.mark.parametrize(
    ("base", "output", "expected"),
    [
        (
            STATE_BY_DATE,
            {"$sum": "$quantity", "window": {"documents": ["unbounded", "current"]}},
            [(4, 162), (0, 282), (2, 427), (5, 134), (3, 238), (1, 378)],
        ),
        (
            STATE_BY_DATE,
            {"$max": "$quantity", "window": {"documents": ["unbounded", "current"]}},
            [(4, 162), (0, 162), (2, 162), (5, 134), (3, 134), (1, 140)],
        ),
        (
            STATE_BY_DATE,
            {"$min": "$quantity", "window": {"documents": ["unbounded", "current"]}},
            [(4, 162), (0, 120), (2, 120), (5, 134), (3, 104), (1, 104)],
        ),
        (
            STATE_BY_DATE,
            {"$count": {}, "window": {"documents": ["unbounded", "current"]}},
            [(4, 1), (0, 2), (2, 3), (5, 1), (3, 2), (1, 3)],
        ),
        (
            STATE_BY_DATE,
            {"$first": "$type", "window": {"documents": ["unbounded", "current"]}},
            [
                (4, "strawberry"),
                (0, "strawberry"),
                (2, "strawberry"),
                (5, "strawberry"),
                (3, "strawberry"),
                (1, "strawberry"),
            ],
        ),
        (
            STATE_BY_DATE,
            {"$last": "$type", "window": {"documents": ["current", "unbounded"]}},
            [(4, "vanilla"), (0, "vanilla"), (2, "vanilla"), (5, "chocolate"), (3, "chocolate"), (1, "chocolate")],
        ),
        (
            STATE_BY_DATE,
            {"$push": "$type", "window": {"documents": ["unbounded", "current"]}},
            [
                (4, ["strawberry"]),
                (0, ["strawberry", "chocolate"]),
                (2, ["strawberry", "chocolate", "vanilla"]),
                (5, ["strawberry"]),
                (3, ["strawberry", "vanilla"]),
                (1, ["strawberry", "vanilla", "chocolate"]),
            ],
        ),
        (
            STATE_BY_DATE,
            {"$push": "$orderDate", "window": {"range": ["unbounded", 10], "unit": "month"}},
            [
                (4, [D(2019, 5, 18, 16, 9, 1)]),
                (0, [D(2019, 5, 18, 16, 9, 1), D(2020, 5, 18, 14, 10, 30), D(2021, 1, 11, 6, 31, 15)]),
                (2, [D(2019, 5, 18, 16, 9, 1), D(2020, 5, 18, 14, 10, 30), D(2021, 1, 11, 6, 31, 15)]),
                (5, [D(2019, 1, 8, 6, 12, 3)]),
                (3, [D(2019, 1, 8, 6, 12, 3), D(2020, 2, 8, 13, 13, 23)]),
                (1, [D(2019, 1, 8, 6, 12, 3), D(2020, 2, 8, 13, 13, 23), D(2021, 3, 20, 11, 30, 5)]),
            ],
        ),
        (
            STATE_BY_DATE,
            {"$push": "$orderDate", "window": {"range": ["unbounded", -10], "unit": "month"}},
            [
                (4, []),
                (0, [D(2019, 5, 18, 16, 9, 1)]),
                (2, [D(2019, 5, 18, 16, 9, 1)]),
                (5, []),
                (3, [D(2019, 1, 8, 6, 12, 3)]),
                (1, [D(2019, 1, 8, 6, 12, 3), D(2020, 2, 8, 13, 13, 23)]),
            ],
        ),
        (
            {"partitionBy": "$state", "sortBy": {"price": 1}},
            {"$sum": "$quantity", "window": {"range": [-10, 10]}},
            [(2, 265), (0, 265), (4, 162), (3, 244), (1, 244), (5, 134)],
        ),
        (STATE_BY_QUANTITY, {"$rank": {}}, [(4, 1), (2, 2), (0, 3), (1, 1), (5, 2), (3, 3)]),
        (STATE_BY_QUANTITY, {"$denseRank": {}}, [(4, 1), (2, 2), (0, 3), (1, 1), (5, 2), (3, 3)]),
        (STATE_BY_QUANTITY, {"$documentNumber": {}}, [(4, 1), (2, 2), (0, 3), (1, 1), (5, 2), (3, 3)]),
        (
            STATE_BY_QUANTITY,
            {"$shift": {"output": "$quantity", "by": 1, "default": "Not available"}},
            [(4, 145), (2, 120), (0, "Not available"), (1, 134), (5, 104), (3, "Not available")],
        ),
        (
            STATE_BY_QUANTITY,
            {"$shift": {"output": "$quantity", "by": -1, "default": "Not available"}},
            [(4, "Not available"), (2, 162), (0, 145), (1, "Not available"), (5, 140), (3, 134)],
        ),
        # no window: the whole partition
        (
            {"partitionBy": "$state"},
            {"$sum": "$quantity"},
            [(0, 427), (2, 427), (4, 427), (1, 378), (3, 378), (5, 378)],
        ),
    ],
)
def test_set_window_fields_cake_sales(
    db: Any, base: dict[str, Any], output: dict[str, Any], expected: list[tuple[Any, Any]]
) -> None:
    assert windows(db, {**base, "output": {"out": output}}, "out") == expected


def test_set_window_fields_add_to_set(db: Any) -> None:
    got = windows(
        db,
        {
            **STATE_BY_DATE,
            "output": {"types": {"$addToSet": "$type", "window": {"documents": ["unbounded", "current"]}}},
        },
        "types",
    )
    assert [(i, sorted(v)) for i, v in got] == [
        (4, ["strawberry"]),
        (0, ["chocolate", "strawberry"]),
        (2, ["chocolate", "strawberry", "vanilla"]),
        (5, ["strawberry"]),
        (3, ["strawberry", "vanilla"]),
        (1, ["chocolate", "strawberry", "vanilla"]),
    ]


def test_set_window_fields_by_year(db: Any) -> None:
    # MongoDB's examples partition by {$year: "$orderDate"}; here the year is a field of the documents
    docs = [{**d, "year": d["orderDate"].year} for d in CAKE_SALES]
    spec = {"partitionBy": "$year", "sortBy": {"orderDate": 1}}
    assert windows(
        db,
        {
            **spec,
            "output": {
                "cumulativeQuantityForYear": {"$sum": "$quantity", "window": {"documents": ["unbounded", "current"]}}
            },
        },
        "cumulativeQuantityForYear",
        docs,
    ) == [
        (5, 134),
        (4, 296),
        (3, 104),
        (0, 224),
        (2, 145),
        (1, 285),
    ]
    assert windows(
        db,
        {**spec, "output": {"averageQuantity": {"$avg": "$quantity", "window": {"documents": [-1, 0]}}}},
        "averageQuantity",
        docs,
    ) == [
        (5, 134),
        (4, 148),
        (3, 104),
        (0, 112),
        (2, 145),
        (1, 142.5),
    ]
    # several outputs at once, a nested output path
    fill(db, "stg_cake_sales", docs)
    res = agg(
        db,
        "stg_cake_sales",
        [
            {
                "$setWindowFields": {
                    **spec,
                    "output": {"stats.total": {"$sum": "$quantity"}, "stats.max": {"$max": "$quantity"}},
                }
            }
        ],
    )
    assert [(d["_id"], d["stats"]) for d in res] == [
        (5, {"total": 296, "max": 162}),
        (4, {"total": 296, "max": 162}),
        (3, {"total": 224, "max": 120}),
        (0, {"total": 224, "max": 120}),
        (2, {"total": 285, "max": 145}),
        (1, {"total": 285, "max": 145}),
    ]


def test_set_window_fields_rank_ties(db: Any) -> None:
    docs = [{"_id": i, "v": v} for i, v in enumerate([10, 20, 20, 30])]
    spec = {"sortBy": {"v": 1}}
    assert windows(db, {**spec, "output": {"r": {"$rank": {}}}}, "r", docs) == [(0, 1), (1, 2), (2, 2), (3, 4)]
    assert windows(db, {**spec, "output": {"r": {"$denseRank": {}}}}, "r", docs) == [(0, 1), (1, 2), (2, 2), (3, 3)]
    assert windows(db, {**spec, "output": {"r": {"$documentNumber": {}}}}, "r", docs) == [
        (0, 1),
        (1, 2),
        (2, 3),
        (3, 4),
    ]


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        ("invalid", 9),
        ({"sortBy": "invalid", "output": {}}, 14),
        ({"output": "invalid"}, 14),
        ({"what_is_this": 1, "output": {}}, 40415),
        ({"sortBy": {"a": 1}}, 40414),
        ({"sortBy": {"ts": 1}, "output": {"v": {"abcde": 1}}}, 9),
        ({"output": {"v": {}}}, 9),
        ({"output": {"v": {"$summ": "$x"}}}, 9),
        ({"output": {"v": {"$sum": "$a", "window": {"documents": [1, -1]}}}, "sortBy": {"a": 1}}, 5339900),
        ({"output": {"v": {"$sum": "$a", "window": {"documents": ["current", -1]}}}, "sortBy": {"a": 1}}, 5339900),
        ({"output": {"v": {"$sum": "$a", "window": {"documents": ["unbounded", "current"]}}}}, 5339901),
        ({"output": {"v": {"$sum": "$a", "window": {"range": ["unbounded", "unbounded"]}}}}, 5339902),
        ({"sortBy": {"a": 1, "b": 1}, "output": {"v": {"$sum": "$a", "window": {"range": [-1, 1]}}}}, 5339902),
        ({"sortBy": {"a": 1}, "output": {"v": {"$sum": "$a", "window": {"documents": [{"$const": "current"}, 3]}}}}, 9),
        ({"output": {"v": {"$rank": {}}}}, 5371602),
        ({"sortBy": {"a": 1, "b": 1}, "output": {"v": {"$documentNumber": {}}}}, 5371602),
        ({"sortBy": {"a": 1}, "output": {"v": {"$rank": {}, "window": {"documents": [-1, 1]}}}}, 5371601),
        ({"output": {"v": {"$shift": {"output": "$a", "by": 1}}}}, 9),
        ({"sortBy": {"a": 1}, "output": {"v": {"$shift": {"output": "$a", "by": 1.5}}}}, 9),
        ({"output": {"a": {"$sum": 1}, "a.b": {"$sum": 1}}}, 6307900),
        ({"output": {"v": {"$stdDevPop": "$a"}}}, 238),
    ],
)
def test_set_window_fields_errors(db: Any, spec: Any, code: int) -> None:
    fill(db, "stg_src", [{"_id": 1, "a": 1, "b": 1}])
    assert error_code(db, "stg_src", [{"$setWindowFields": spec}]) == code


def test_set_window_fields_range_needs_numbers(db: Any) -> None:
    fill(db, "stg_src", [{"_id": 1, "a": "x"}])
    spec = {"sortBy": {"a": 1}, "output": {"v": {"$sum": 1, "window": {"range": [-1, 1]}}}}
    assert error_code(db, "stg_src", [{"$setWindowFields": spec}]) == 5429413


def test_merge_pipeline_replace_with_new(db: Any) -> None:
    fill(db, "stg_src", [{"_id": 1, "a": 5}, {"_id": 2, "a": 6}])
    fill(db, "stg_dst", [{"_id": 1, "old": True}])
    agg(
        db,
        "stg_src",
        [{"$merge": {"into": "stg_dst", "whenMatched": [{"$replaceWith": "$$new"}], "whenNotMatched": "discard"}}],
    )
    assert list(db.stg_dst.find()) == [{"_id": 1, "a": 5}]
