"""Differential test of the engine's index pushdown (engine/patches): the same random documents and
the same random queries on two engines built from the same binary, one with pushdown and one with
`--test-disable-pushdown` (every filter evaluated by the handler over the whole collection). Their
answers must be identical, byte for byte, for every query (ties of a sort aside).

Documents mix every type the engine stores (int32, int64, doubles with -0 and fractions, strings,
booleans, null, ObjectIds, dates, arrays of those, embedded documents, missing fields); filters
mix what the pushdown serves (equality, `$eq`, `$in` on `_id` and on indexed fields, ranges with
numbers near 2^60, doubles, strings and dates, several fields) with what it must leave alone
(`$ne`, `$exists`, dotted paths, `$or`, unindexed fields); sorts on `_id`, on the indexed `g`
(served in index order when the filter brackets it) and on `h` (second in its index), with and
without limits. Among equal sort values MongoDB promises no order, so there the answers must hold
the same documents (or, cut by a limit, documents that match). `DDS_PUSHDOWN_QUERIES` sets how
many (default 10,000); the seed is fixed.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bson
from bson import Int64, ObjectId
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient

from tests.helpers import bare_engine

QUERIES = int(os.environ.get("DDS_PUSHDOWN_QUERIES", "10000"))
DOCUMENTS = 200
OIDS = [ObjectId(f"{i:024x}") for i in range(1, 4)]
DATES = [datetime(2026, 1, d, tzinfo=UTC) for d in (1, 2)]


def scalar(rng: random.Random) -> Any:
    return rng.choice(
        [
            rng.randint(-3, 8),
            Int64(rng.randint(-3, 8)),
            float(rng.randint(-3, 8)),
            rng.choice([0.5, 5.5, -0.0, 0.0, 1e21, float(2**60)]),
            Int64(2**60),
            rng.choice(["5", "a", "b", "", 'q"<>']),
            rng.choice([True, False]),
            None,
            rng.choice(OIDS),
            rng.choice(DATES),
        ]
    )


def bound(rng: random.Random) -> Any:
    """A range bound: mostly of the types a value index orders (numbers, strings, dates)."""
    if rng.random() < 0.8:
        numbers = [rng.uniform(-4, 9), rng.randint(-3, 8), Int64(2**60 + rng.randint(-2, 2))]
        return rng.choice([*numbers, "5", "a", "b", *DATES])
    return scalar(rng)


def value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.15:
        return [scalar(rng) for _ in range(rng.randint(0, 3))]
    if roll < 0.22:
        return {"a": scalar(rng)}
    return scalar(rng)


def document(rng: random.Random, i: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"_id": rng.choice([i, Int64(i), f"s{i}", float(i) + 0.5])}
    for field in ("g", "h", "k"):
        if rng.random() < 0.85:
            doc[field] = value(rng)
    return doc


def condition(rng: random.Random, ids: list[Any]) -> dict[str, Any]:
    field = rng.choice(["g", "g", "h", "k", "_id"])
    pick = (lambda: rng.choice(ids)) if field == "_id" else (lambda: value(rng))
    kind = rng.random()
    if kind < 0.35:
        return {field: pick()}
    if kind < 0.45:
        return {field: {"$eq": pick()}}
    if kind < 0.65:
        return {field: {"$in": [pick() for _ in range(rng.randint(1, 4))]}}
    if kind < 0.72:
        ops = rng.sample(["$gt", "$gte", "$lt", "$lte"], rng.choice([1, 1, 2]))
        return {field: {op: bound(rng) for op in ops}}
    if kind < 0.74:
        return {field: {"$in": []}}
    if kind < 0.78:
        return {field: {"$ne": pick()}}
    if kind < 0.84:
        return {field: {"$exists": rng.choice([True, False])}}
    if kind < 0.9:
        return {f"{field}.a": scalar(rng)}
    return {"$or": [{field: pick()}, {rng.choice(["g", "k"]): scalar(rng)}]}


def query(rng: random.Random, ids: list[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A filter of one to three conditions, and find options (a sort always comes with a limit)."""
    flt: dict[str, Any] = {}
    for _ in range(rng.choice([1, 1, 2, 3])):
        flt.update(condition(rng, ids))
    options: dict[str, Any] = {}
    roll = rng.random()
    if roll < 0.45:
        options = {"sort": [(rng.choice(["_id", "g", "g", "h"]), rng.choice([1, -1]))]}
        if roll < 0.35:
            options["limit"] = rng.randint(1, 5)
    return flt, options


RANKS = {type(None): 1, int: 2, Int64: 2, float: 2, str: 3, dict: 4, list: 5, ObjectId: 7, bool: 8, datetime: 9}


def rank(v: Any) -> tuple[Any, ...]:
    """MongoDB's order of one scalar (or embedded document) value, as a comparable tuple."""
    if isinstance(v, dict):
        return (4, tuple((k, rank(x)) for k, x in v.items()))
    return (RANKS[type(v)], v if v is not None else 0)


def sort_key(doc: dict[str, Any], field: str, direction: int) -> tuple[Any, ...]:
    """The key MongoDB sorts a document by: missing is null, an array by its least (ascending) or
    greatest (descending) element, an empty array before everything."""
    v = doc.get(field)
    if isinstance(v, list):
        if not v:
            return (0, 0)
        return min(map(rank, v)) if direction == 1 else max(map(rank, v))
    return rank(v)


def same_sorted(got: list[bytes], want: list[bytes], matching: list[bytes], sort: tuple[str, int]) -> bool:
    """Both lists in the sort's order, and the same documents but among equal sort keys (MongoDB
    promises no order among those, and a limit may end among them): got's are all matches."""
    field, direction = sort
    keys = [sort_key(bson.decode(d), field, direction) for d in got]
    if keys != [sort_key(bson.decode(d), field, direction) for d in want]:
        return False
    if any(d not in matching for d in got):
        return False
    last = keys[-1] if keys else None
    return sorted(d for d, k in zip(got, keys, strict=True) if k != last) == sorted(
        d for d in want if sort_key(bson.decode(d), field, direction) != last
    ) and len(got) == len(want)


@contextlib.contextmanager
def engine(tmp: Path, *flags: str) -> Iterator[MongoClient[RawBSONDocument]]:
    """A bare engine (the project's build, SQLite backend) on its own data directory."""
    (tmp / "data").mkdir(parents=True)
    with bare_engine(
        tmp, "--handler=sqlite", f"--sqlite-url=file:{tmp / 'data'}/", *flags, document_class=RawBSONDocument
    ) as client:
        yield client


def test_pushdown_answers_exactly_as_the_handler_alone(tmp_path: Path) -> None:
    rng = random.Random(20261207)
    docs = [document(rng, i) for i in range(DOCUMENTS)]
    ids = [d["_id"] for d in docs] + [9999, "nope"]
    with engine(tmp_path / "pushdown") as fast, engine(tmp_path / "plain", "--test-disable-pushdown") as plain:
        for client in (fast, plain):
            coll = client.app.c
            coll.insert_many(docs)
            coll.create_index("g")
            coll.create_index([("h", 1), ("g", 1)])
        served = 0
        for n in range(QUERIES):
            flt, options = query(rng, ids)
            got = [d.raw for d in fast.app.c.find(flt, **options)]
            want = [d.raw for d in plain.app.c.find(flt, **options)]
            if "sort" not in options:  # no order is promised without a sort
                got, want = sorted(got), sorted(want)
            if "sort" in options and options["sort"][0][0] != "_id":  # _id is unique: no ties
                matching = [d.raw for d in plain.app.c.find(flt)]
                same = same_sorted(got, want, matching, options["sort"][0])
            else:
                same = got == want
            assert same, (n, flt, options, [bson.decode(x) for x in want], [bson.decode(x) for x in got])
            served += bool(want)
            if n % 10 == 0:
                assert fast.app.c.count_documents(flt) == plain.app.c.count_documents(flt), (n, flt)
        plan = fast.app.command("explain", {"find": "c", "filter": {"g": 5}})
        assert "USING INDEX" in str(plan["queryPlanner"]), plan
        assert plan["queryPlanner"]["indexName"] == "g_1", plan
        plan = fast.app.command("explain", {"find": "c", "filter": {"g": {"$gt": 5}}, "sort": {"g": -1}})
        assert plan["queryPlanner"]["indexName"] == "g_1" and plan["sortPushdown"], plan
    print(f"\n{QUERIES} queries, {served} with results: identical with and without pushdown")
