"""Which replies wait for a standby's copy (`gateway/durability.py`), read from the raw command."""

from __future__ import annotations

from typing import Any

import bson
import pytest

from dds.gateway.durability import Concern, _standbys_for_majority, concern_of, unsatisfiable
from dds.gateway.fields import Fields
from dds.gateway.members import WRITE_COMMANDS


def _concern(command: str, **fields: Any) -> Concern | None:
    return concern_of(command, Fields(bson.encode({command: "c", **fields, "$db": "test"})), WRITE_COMMANDS)


@pytest.mark.parametrize(
    ("command", "fields", "expected"),
    [
        ("insert", {}, Concern(None)),  # MongoDB 5's default write concern is majority
        ("insert", {"writeConcern": {"w": "majority"}}, Concern(None)),
        ("update", {"writeConcern": {"w": "majority", "wtimeout": 1500}}, Concern(1.5)),
        ("delete", {"writeConcern": {"w": 2, "wtimeout": 0}}, Concern(None)),  # 0: no limit
        ("findAndModify", {"writeConcern": {"w": 1}}, None),
        ("insert", {"writeConcern": {"w": 0}}, None),
        ("insert", {"writeConcern": {"j": True}}, Concern(None)),
        ("createIndexes", {}, Concern(None)),
        ("find", {}, None),
        ("find", {"readConcern": {"level": "local"}}, None),
        ("aggregate", {"readConcern": {"level": "majority"}}, Concern(None, read=True)),
        ("count", {"readConcern": {"level": "majority"}}, Concern(None, read=True)),
        ("ping", {"writeConcern": {"w": "majority"}}, None),
    ],
)
def test_concern_of(command: str, fields: dict[str, Any], expected: Concern | None) -> None:
    assert _concern(command, **fields) == expected


def test_a_majority_counts_the_members_that_vote() -> None:
    assert [_standbys_for_majority(["s"] * n) for n in (0, 2, 4, 6)] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("command", "w", "members", "code"),
    [
        ("insert", 2, 1, 100),
        ("insert", 3, 3, None),
        ("createIndexes", 4, 3, 100),
        ("aggregate", 2, 1, 100),  # $out / $merge
        ("update", "dc1", 3, 79),
        ("delete", "majority", 1, None),
        ("insert", True, 1, None),
        ("find", 5, 1, None),
    ],
)
def test_unsatisfiable_write_concerns(command: str, w: Any, members: int, code: int | None) -> None:
    body = Fields(bson.encode({command: "c", "writeConcern": {"w": w}, "$db": "test"}))
    error = unsatisfiable(command, body, members, WRITE_COMMANDS)
    assert (error or {}).get("code") == code
