"""Oplog update entries in MongoDB's `$v: 2` diff form (what the engine and MongoDB 5+ write)
become update operators for the replay of a mongodump-layout backup."""

from __future__ import annotations

import pytest

from dds.backup.load import diff_update


def test_fields_set_inserted_and_removed() -> None:
    assert diff_update({"u": {"a": 1}, "i": {"b": {"c": 2}}, "d": {"old": False}}) == {
        "$set": {"a": 1, "b": {"c": 2}},
        "$unset": {"old": ""},
    }


def test_nested_documents_and_array_elements() -> None:
    diff = {"sx": {"u": {"y": 5}, "sz": {"d": {"w": False}}}, "sarr": {"a": True, "u1": "two"}}
    assert diff_update(diff) == {"$set": {"x.y": 5, "arr.1": "two"}, "$unset": {"x.z.w": ""}}


def test_a_resized_array_is_refused_with_its_path() -> None:
    with pytest.raises(ValueError, match="arr"):
        diff_update({"sarr": {"a": True, "l": 1}})
