"""Document validation and collMod (engine patch 0017), through pymongo, with MongoDB 5.0's semantics:
`create` with a `validator` ($jsonSchema or a query expression), `validationLevel` and
`validationAction`; inserts, updates, upserts, replacements and findAndModify failing the validator
(121 DocumentValidationFailure "Document failed validation", with errInfo); `bypassDocumentValidation`;
`listCollections` options; `collMod`; `$jsonSchema` as a query operator; MongoDB's documentation
examples with their documented answers, and the error codes of bad options and schemas."""

from __future__ import annotations

from typing import Any

import pytest
from bson import Int64, ObjectId
from pymongo.errors import BulkWriteError, OperationFailure, WriteError

DOCUMENT_VALIDATION_FAILURE = 121


def fresh(db: Any, name: str, **options: Any) -> Any:
    """Creates the collection `name` anew, with the given create options."""
    db.drop_collection(name)
    return db.create_collection(name, **options)


def options_of(db: Any, name: str) -> dict[str, Any]:
    infos = list(db.list_collections(filter={"name": name}))
    assert len(infos) == 1
    return infos[0]["options"]  # type: ignore[no-any-return]


# The "students" collection of MongoDB's "Specify JSON Schema Validation" page.
STUDENTS_SCHEMA = {
    "$jsonSchema": {
        "bsonType": "object",
        "title": "Student Object Validation",
        "required": ["address", "major", "name", "year"],
        "properties": {
            "name": {"bsonType": "string", "description": "'name' must be a string and is required"},
            "year": {
                "bsonType": "int",
                "minimum": 2017,
                "maximum": 3017,
                "description": "'year' must be an integer in [ 2017, 3017 ] and is required",
            },
            "gpa": {"bsonType": ["double"], "description": "'gpa' must be a double if the field exists"},
        },
    }
}


def test_json_schema_students_example(db: Any) -> None:
    students = fresh(db, "students", validator=STUDENTS_SCHEMA)

    # gpa is an integer: the documented failure and its errInfo
    with pytest.raises(WriteError) as e:
        students.insert_one(
            {
                "_id": 1,
                "name": "Alice",
                "year": 2019,
                "major": "History",
                "gpa": 3,
                "address": {"city": "NYC", "street": "33rd Street"},
            }
        )
    assert e.value.code == DOCUMENT_VALIDATION_FAILURE
    assert e.value.details["errmsg"] == "Document failed validation"
    assert e.value.details["errInfo"] == {
        "failingDocumentId": 1,
        "details": {
            "operatorName": "$jsonSchema",
            "title": "Student Object Validation",
            "schemaRulesNotSatisfied": [
                {
                    "operatorName": "properties",
                    "propertiesNotSatisfied": [
                        {
                            "propertyName": "gpa",
                            "description": "'gpa' must be a double if the field exists",
                            "details": [
                                {
                                    "operatorName": "bsonType",
                                    "specifiedAs": {"bsonType": ["double"]},
                                    "reason": "type did not match",
                                    "consideredValue": 3,
                                    "consideredType": "int",
                                }
                            ],
                        }
                    ],
                }
            ],
        },
    }

    # with a double gpa the document is valid
    students.insert_one(
        {
            "_id": 1,
            "name": "Alice",
            "year": 2019,
            "major": "History",
            "gpa": 3.0,
            "address": {"city": "NYC", "street": "33rd Street"},
        }
    )
    assert students.count_documents({}) == 1

    # a missing required field: the "required" rule names it
    with pytest.raises(WriteError) as e:
        students.insert_one({"_id": 2, "name": "Bob", "year": 2020, "address": {}})
    rules = e.value.details["errInfo"]["details"]["schemaRulesNotSatisfied"]
    assert {
        "operatorName": "required",
        "specifiedAs": {"required": ["address", "major", "name", "year"]},
        "missingProperties": ["major"],
    } in rules

    # year out of [2017, 3017]
    with pytest.raises(WriteError) as e:
        students.insert_one({"_id": 3, "name": "Carl", "year": 2016, "major": "Art", "address": {}})
    assert e.value.code == DOCUMENT_VALIDATION_FAILURE


def test_list_collections_shows_the_validation_options(db: Any) -> None:
    fresh(db, "students", validator=STUDENTS_SCHEMA)
    # level and action are shown only when set, as MongoDB does
    assert options_of(db, "students") == {"validator": STUDENTS_SCHEMA}

    fresh(db, "lc", validator={"a": {"$gt": 1}}, validationLevel="moderate", validationAction="warn")
    assert options_of(db, "lc") == {
        "validator": {"a": {"$gt": 1}},
        "validationLevel": "moderate",
        "validationAction": "warn",
    }

    # an empty validator is no validator
    fresh(db, "lc2", validator={})
    assert options_of(db, "lc2") == {}


def test_query_operator_validator_contacts_example(db: Any) -> None:
    """MongoDB's "Specify Validation With Query Operators" example ($or of query operators)."""
    contacts = fresh(
        db,
        "contacts",
        validator={
            "$or": [
                {"phone": {"$type": "string"}},
                {"email": {"$regex": r"@mongodb\.com$"}},
                {"status": {"$in": ["Unknown", "Incomplete"]}},
            ]
        },
    )
    contacts.insert_one({"name": "Amanda", "status": "Updated", "phone": "+1 555 0100"})
    contacts.insert_one({"name": "Xi", "email": "xi@mongodb.com"})
    contacts.insert_one({"name": "Yo", "status": "Unknown"})

    with pytest.raises(WriteError) as e:
        contacts.insert_one({"name": "Amanda", "status": "Updated"})
    assert e.value.code == DOCUMENT_VALIDATION_FAILURE
    assert e.value.details["errInfo"]["details"]["operatorName"] == "$or"
    assert contacts.count_documents({}) == 3


def test_expr_validator_orders_example(db: Any) -> None:
    """The $expr validator of MongoDB's documentation (totalWithVAT = total * (1 + VAT))."""
    orders = fresh(
        db,
        "orders",
        validator={"$expr": {"$eq": ["$totalWithVAT", {"$multiply": ["$total", {"$sum": [1, "$VAT"]}]}]}},
    )
    orders.insert_one({"total": 100, "VAT": 0.25, "totalWithVAT": 125})

    with pytest.raises(WriteError) as e:
        orders.insert_one({"_id": 7, "total": 100, "VAT": 0.25, "totalWithVAT": 120})
    assert e.value.code == DOCUMENT_VALIDATION_FAILURE
    assert e.value.details["errInfo"] == {
        "failingDocumentId": 7,
        "details": {
            "operatorName": "$expr",
            "specifiedAs": {"$expr": {"$eq": ["$totalWithVAT", {"$multiply": ["$total", {"$sum": [1, "$VAT"]}]}]}},
            "reason": "expression did not match",
            "expressionResult": False,
        },
    }


def test_and_of_json_schema_and_expr(db: Any) -> None:
    """A validator mixing $jsonSchema and $expr under $and."""
    sales = fresh(
        db,
        "sales",
        validator={
            "$and": [
                {"$expr": {"$lt": ["$discountedPrice", "$price"]}},
                {"$jsonSchema": {"required": ["price"], "properties": {"price": {"bsonType": "number"}}}},
            ]
        },
    )
    sales.insert_one({"price": 10, "discountedPrice": 8})

    for bad in ({"price": 10, "discountedPrice": 12}, {"price": "10", "discountedPrice": "1"}):
        with pytest.raises(WriteError) as e:
            sales.insert_one(bad)
        assert e.value.code == DOCUMENT_VALIDATION_FAILURE
    assert sales.count_documents({}) == 1


# One case per $jsonSchema keyword: (schema of field "v" or of the document, a valid document, an invalid one).
KEYWORD_CASES = [
    ("bsonType-int", {"properties": {"v": {"bsonType": "int"}}}, {"v": 1}, {"v": 1.5}),
    ("bsonType-long", {"properties": {"v": {"bsonType": "long"}}}, {"v": Int64(1)}, {"v": 1}),
    ("bsonType-double", {"properties": {"v": {"bsonType": "double"}}}, {"v": 1.5}, {"v": 1}),
    ("bsonType-number", {"properties": {"v": {"bsonType": "number"}}}, {"v": Int64(5)}, {"v": "5"}),
    ("bsonType-string", {"properties": {"v": {"bsonType": "string"}}}, {"v": "x"}, {"v": 1}),
    ("bsonType-object", {"properties": {"v": {"bsonType": "object"}}}, {"v": {"a": 1}}, {"v": [1]}),
    ("bsonType-array", {"properties": {"v": {"bsonType": "array"}}}, {"v": [1]}, {"v": {"a": 1}}),
    ("bsonType-bool", {"properties": {"v": {"bsonType": "bool"}}}, {"v": True}, {"v": 1}),
    ("bsonType-objectId", {"properties": {"v": {"bsonType": "objectId"}}}, {"v": ObjectId()}, {"v": "x"}),
    ("bsonType-null", {"properties": {"v": {"bsonType": "null"}}}, {"v": None}, {"v": 0}),
    ("bsonType-list", {"properties": {"v": {"bsonType": ["string", "null"]}}}, {"v": None}, {"v": 0}),
    ("type-number", {"properties": {"v": {"type": "number"}}}, {"v": 2.5}, {"v": "2"}),
    ("type-boolean", {"properties": {"v": {"type": "boolean"}}}, {"v": False}, {"v": "false"}),
    ("required", {"required": ["v"]}, {"v": 1}, {"w": 1}),
    (
        "properties-nested",
        {"properties": {"v": {"properties": {"a": {"bsonType": "int"}}}}},
        {"v": {"a": 1}},
        {"v": {"a": "1"}},
    ),
    (
        "additionalProperties-false",
        {"properties": {"_id": {}, "v": {}}, "additionalProperties": False},
        {"v": 1},
        {"v": 1, "w": 2},
    ),
    (
        "additionalProperties-schema",
        {"properties": {"_id": {}}, "additionalProperties": {"bsonType": "int"}},
        {"v": 1, "w": 2},
        {"v": 1, "w": "2"},
    ),
    ("minimum", {"properties": {"v": {"minimum": 5}}}, {"v": 5}, {"v": 4}),
    ("maximum", {"properties": {"v": {"maximum": 5}}}, {"v": 5.0}, {"v": 6}),
    ("exclusiveMinimum", {"properties": {"v": {"minimum": 5, "exclusiveMinimum": True}}}, {"v": 6}, {"v": 5}),
    ("exclusiveMaximum", {"properties": {"v": {"maximum": 5, "exclusiveMaximum": True}}}, {"v": 4}, {"v": 5}),
    ("minLength", {"properties": {"v": {"minLength": 2}}}, {"v": "ab"}, {"v": "a"}),
    ("maxLength", {"properties": {"v": {"maxLength": 2}}}, {"v": "éé"}, {"v": "abc"}),
    ("pattern", {"properties": {"v": {"pattern": "^[a-z]+$"}}}, {"v": "abc"}, {"v": "ab1"}),
    ("enum", {"properties": {"v": {"enum": ["a", 1]}}}, {"v": 1.0}, {"v": "b"}),
    (
        "enum-object-any-field-order",
        {"properties": {"v": {"enum": [{"a": 1, "b": 2}]}}},
        {"v": {"b": 2, "a": 1}},
        {"v": {"a": 1}},
    ),
    ("items-schema", {"properties": {"v": {"items": {"bsonType": "int"}}}}, {"v": [1, 2]}, {"v": [1, "2"]}),
    (
        "items-array",
        {"properties": {"v": {"items": [{"bsonType": "int"}, {"bsonType": "string"}]}}},
        {"v": [1, "a", None]},
        {"v": ["a", 1]},
    ),
    ("additionalItems", {"properties": {"v": {"items": [{}], "additionalItems": False}}}, {"v": [1]}, {"v": [1, 2]}),
    ("minItems", {"properties": {"v": {"minItems": 2}}}, {"v": [1, 2]}, {"v": [1]}),
    ("maxItems", {"properties": {"v": {"maxItems": 1}}}, {"v": [1]}, {"v": [1, 2]}),
    ("uniqueItems", {"properties": {"v": {"uniqueItems": True}}}, {"v": [1, 2]}, {"v": [1, 1.0]}),
    ("minProperties", {"minProperties": 3}, {"v": 1, "w": 2}, {"v": 1}),
    ("maxProperties", {"maxProperties": 2}, {"v": 1}, {"v": 1, "w": 2}),
    (
        "description-title-ignored",
        {"title": "t", "description": "d", "properties": {"v": {"description": "x"}}},
        {"v": 1},
        None,
    ),
    ("allOf", {"properties": {"v": {"allOf": [{"minimum": 1}, {"maximum": 3}]}}}, {"v": 2}, {"v": 4}),
    ("anyOf", {"properties": {"v": {"anyOf": [{"bsonType": "string"}, {"minimum": 3}]}}}, {"v": "x"}, {"v": 2}),
    ("oneOf", {"properties": {"v": {"oneOf": [{"minimum": 1}, {"maximum": 3}]}}}, {"v": 5}, {"v": 2}),
    ("not", {"properties": {"v": {"not": {"bsonType": "string"}}}}, {"v": 1}, {"v": "x"}),
    ("dependencies", {"dependencies": {"v": ["w"]}}, {"v": 1, "w": 2}, {"v": 1}),
    ("top-level-bsonType", {"bsonType": "array"}, None, {"v": 1}),
]


@pytest.mark.parametrize(
    ("schema", "valid", "invalid"),
    [pytest.param(s, v, i, id=name) for name, s, v, i in KEYWORD_CASES],
)
def test_json_schema_keywords(db: Any, schema: dict[str, Any], valid: Any, invalid: Any) -> None:
    coll = fresh(db, "kw", validator={"$jsonSchema": schema})
    if valid is not None:
        coll.insert_one(dict(valid))
    if invalid is not None:
        with pytest.raises(WriteError) as e:
            coll.insert_one(dict(invalid))
        assert e.value.code == DOCUMENT_VALIDATION_FAILURE
    assert coll.count_documents({}) == (1 if valid is not None else 0)


def test_json_schema_query_operator_inventory_example(db: Any) -> None:
    """The $jsonSchema query operator page: find conforming and (with $nor) non-conforming documents."""
    myschema = {
        "required": ["item", "qty", "instock"],
        "properties": {
            "item": {"bsonType": "string"},
            "qty": {"bsonType": "int"},
            "size": {
                "bsonType": "object",
                "required": ["uom"],
                "properties": {
                    "uom": {"bsonType": "string"},
                    "h": {"bsonType": "double"},
                    "w": {"bsonType": "double"},
                },
            },
            "instock": {"bsonType": "bool"},
        },
    }
    inventory = fresh(db, "inventory")
    inventory.insert_many(
        [
            {"item": "journal", "qty": 25, "size": {"h": 14, "w": 21, "uom": "cm"}, "instock": True},
            {"item": "notebook", "qty": 50, "size": {"h": 8.5, "w": 11, "uom": "in"}, "instock": True},
            {"item": "paper", "qty": 100, "size": {"h": 8.5, "w": 11, "uom": "in"}, "instock": 1},
            {"item": "planner", "qty": 75, "size": {"h": 22.85, "w": 30, "uom": "cm"}, "instock": 1},
            {"item": "postcard", "qty": 45, "size": {"h": 10, "w": 15.25, "uom": "cm"}, "instock": True},
            {"item": "apple", "qty": 45, "status": "A", "instock": True},
            {"item": "pears", "qty": 50, "status": "A", "instock": True},
        ]
    )
    assert sorted(d["item"] for d in inventory.find({"$jsonSchema": myschema})) == ["apple", "pears"]
    assert sorted(d["item"] for d in inventory.find({"$nor": [{"$jsonSchema": myschema}]})) == [
        "journal",
        "notebook",
        "paper",
        "planner",
        "postcard",
    ]
    assert inventory.count_documents({"$jsonSchema": myschema}) == 2


def test_updates_upserts_replacements_and_find_and_modify_are_validated(db: Any) -> None:
    coll = fresh(db, "upd", validator={"$jsonSchema": {"properties": {"n": {"bsonType": "int", "minimum": 0}}}})
    coll.insert_many([{"_id": 1, "n": 1}, {"_id": 2, "n": 2}])

    with pytest.raises(WriteError) as e:
        coll.update_one({"_id": 1}, {"$set": {"n": -1}})
    assert e.value.code == DOCUMENT_VALIDATION_FAILURE
    assert e.value.details["errInfo"]["failingDocumentId"] == 1

    with pytest.raises(WriteError) as e:
        coll.replace_one({"_id": 2}, {"n": "two"})
    assert e.value.code == DOCUMENT_VALIDATION_FAILURE

    with pytest.raises(WriteError) as e:
        coll.update_one({"_id": 3}, {"$set": {"n": -3}}, upsert=True)
    assert e.value.code == DOCUMENT_VALIDATION_FAILURE

    with pytest.raises(OperationFailure) as e:
        coll.find_one_and_update({"_id": 1}, {"$inc": {"n": -5}})
    assert e.value.code == DOCUMENT_VALIDATION_FAILURE
    assert e.value.details["errmsg"] == "Document failed validation"
    assert e.value.details["codeName"] == "DocumentValidationFailure"
    assert e.value.details["errInfo"]["failingDocumentId"] == 1

    with pytest.raises(OperationFailure) as e:
        coll.find_one_and_replace({"_id": 9}, {"n": 1.5}, upsert=True)
    assert e.value.code == DOCUMENT_VALIDATION_FAILURE

    assert list(coll.find({}, sort=[("_id", 1)])) == [{"_id": 1, "n": 1}, {"_id": 2, "n": 2}]

    # valid writes still go through
    coll.update_one({"_id": 1}, {"$inc": {"n": 10}})
    coll.update_one({"_id": 4}, {"$set": {"n": 4}}, upsert=True)
    assert coll.find_one_and_update({"_id": 2}, {"$set": {"n": 20}}, return_document=True) == {"_id": 2, "n": 20}
    assert sorted(d["n"] for d in coll.find()) == [4, 11, 20]


def test_update_many_reports_the_failing_update_and_stops_when_ordered(db: Any) -> None:
    coll = fresh(db, "updmany", validator={"n": {"$lt": 10}})
    coll.insert_many([{"_id": 1, "n": 1}, {"_id": 2, "n": 2}])

    res = db.command(
        "update",
        "updmany",
        updates=[
            {"q": {"_id": 1}, "u": {"$set": {"n": 5}}},
            {"q": {"_id": 2}, "u": {"$set": {"n": 50}}},
            {"q": {"_id": 1}, "u": {"$set": {"n": 6}}},
        ],
    )
    assert res["n"] == 1
    assert res["nModified"] == 1
    assert [(we["index"], we["code"], we["errmsg"]) for we in res["writeErrors"]] == [
        (1, DOCUMENT_VALIDATION_FAILURE, "Document failed validation")
    ]
    assert coll.find_one({"_id": 1}) == {"_id": 1, "n": 5}

    res = db.command(
        "update",
        "updmany",
        ordered=False,
        updates=[
            {"q": {"_id": 2}, "u": {"$set": {"n": 50}}},
            {"q": {"_id": 1}, "u": {"$set": {"n": 6}}},
        ],
    )
    assert res["nModified"] == 1
    assert [we["index"] for we in res["writeErrors"]] == [0]
    assert coll.find_one({"_id": 1}) == {"_id": 1, "n": 6}


def test_bulk_inserts_stop_at_the_failing_document_when_ordered(db: Any) -> None:
    coll = fresh(db, "bulk", validator={"$jsonSchema": {"required": ["name"]}})

    with pytest.raises(BulkWriteError) as e:
        coll.insert_many([{"_id": 1, "name": "a"}, {"_id": 2}, {"_id": 3, "name": "c"}])
    res = e.value.details
    assert res["nInserted"] == 1
    assert [(we["index"], we["code"]) for we in res["writeErrors"]] == [(1, DOCUMENT_VALIDATION_FAILURE)]
    assert res["writeErrors"][0]["errInfo"]["failingDocumentId"] == 2

    with pytest.raises(BulkWriteError) as e:
        coll.insert_many([{"_id": 4}, {"_id": 5, "name": "e"}, {"_id": 6}], ordered=False)
    res = e.value.details
    assert res["nInserted"] == 1
    assert [we["index"] for we in res["writeErrors"]] == [0, 2]
    assert sorted(d["_id"] for d in coll.find()) == [1, 5]


def test_validation_level_moderate_contacts_example(db: Any) -> None:
    """MongoDB's "Specify Validation Level for Existing Documents" example."""
    contacts = fresh(db, "contacts2")
    contacts.insert_many(
        [
            {"_id": 1, "name": "Anne", "phone": "+1 555 123 456", "city": "London", "status": "Complete"},
            {"_id": 2, "name": "Ivan", "city": "Vancouver"},
        ]
    )
    schema = {
        "$jsonSchema": {
            "bsonType": "object",
            "required": ["phone", "name"],
            "properties": {
                "phone": {"bsonType": "string", "description": "phone must be a string and is required"},
                "name": {"bsonType": "string", "description": "name must be a string and is required"},
            },
        }
    }

    # strict (the default): both updates fail
    assert db.command("collMod", "contacts2", validator=schema, validationLevel="strict")["ok"] == 1.0
    for _id, name in ((1, 10), (2, 20)):
        with pytest.raises(WriteError) as e:
            contacts.update_one({"_id": _id}, {"$set": {"name": name}})
        assert e.value.code == DOCUMENT_VALIDATION_FAILURE

    # moderate: a document that already violated the validator can be updated
    db.command("collMod", "contacts2", validator=schema, validationLevel="moderate")
    with pytest.raises(WriteError):
        contacts.update_one({"_id": 1}, {"$set": {"name": 10}})
    contacts.update_one({"_id": 2}, {"$set": {"name": 20}})
    assert contacts.find_one({"_id": 2}) == {"_id": 2, "name": 20, "city": "Vancouver"}

    # inserts are always validated
    with pytest.raises(WriteError):
        contacts.insert_one({"name": "Zoe"})

    # off: nothing is validated
    db.command("collMod", "contacts2", validationLevel="off")
    contacts.insert_one({"_id": 3, "name": 3})
    assert options_of(db, "contacts2") == {"validator": schema, "validationLevel": "off"}


def test_validation_action_warn_accepts_invalid_documents(db: Any) -> None:
    coll = fresh(db, "warned", validator={"$jsonSchema": {"required": ["a"]}}, validationAction="warn")
    coll.insert_one({"_id": 1, "b": 1})
    coll.update_one({"_id": 1}, {"$set": {"c": 1}})
    assert coll.find_one() == {"_id": 1, "b": 1, "c": 1}

    db.command("collMod", "warned", validationAction="error")
    with pytest.raises(WriteError):
        coll.insert_one({"_id": 2, "b": 1})


def test_bypass_document_validation(db: Any) -> None:
    coll = fresh(db, "bypass", validator={"a": {"$type": "int"}})
    coll.insert_one({"_id": 1, "a": "x"}, bypass_document_validation=True)
    coll.insert_many([{"_id": 2, "a": "y"}], bypass_document_validation=True)
    coll.update_one({"_id": 1}, {"$set": {"a": "z"}}, bypass_document_validation=True)
    coll.update_one({"_id": 3}, {"$set": {"a": "w"}}, upsert=True, bypass_document_validation=True)
    coll.find_one_and_update({"_id": 2}, {"$set": {"a": "v"}}, bypassDocumentValidation=True)
    assert sorted(d["a"] for d in coll.find()) == ["v", "w", "z"]

    # aggregate accepts the option (it writes nothing without $out/$merge)
    assert len(list(coll.aggregate([{"$match": {}}], bypassDocumentValidation=True))) == 3

    with pytest.raises(WriteError):
        coll.insert_one({"_id": 4, "a": "x"})


def test_coll_mod(db: Any) -> None:
    coll = fresh(db, "cm")
    coll.insert_one({"_id": 1, "a": 1})

    # no-op
    assert db.command("collMod", "cm")["ok"] == 1.0
    assert options_of(db, "cm") == {}

    # a validator on an existing collection applies to new writes only
    db.command("collMod", "cm", validator={"a": {"$gte": 1}})
    assert options_of(db, "cm") == {"validator": {"a": {"$gte": 1}}}
    with pytest.raises(WriteError):
        coll.insert_one({"a": 0})

    db.command("collMod", "cm", validationAction="warn")
    assert options_of(db, "cm") == {"validator": {"a": {"$gte": 1}}, "validationAction": "warn"}
    coll.insert_one({"_id": 2, "a": 0})

    # an empty validator removes it
    db.command("collMod", "cm", validator={}, validationAction="error")
    assert options_of(db, "cm") == {"validationAction": "error"}
    coll.insert_one({"_id": 3, "a": -1})
    assert coll.count_documents({}) == 3


@pytest.mark.parametrize(
    ("command", "code"),
    [
        pytest.param({"collMod": "nope"}, 26, id="unknown-collection"),
        pytest.param({"collMod": "nope", "validator": {"a": 1}}, 26, id="unknown-collection-validator"),
        pytest.param({"collMod": "cmerr", "foo": 1}, 72, id="unknown-option"),
        pytest.param(
            {"collMod": "cmerr", "index": {"name": "a_1", "expireAfterSeconds": 10}}, 27, id="index-not-found"
        ),
        pytest.param({"collMod": "cmerr", "validationLevel": "lax"}, 2, id="bad-level"),
        pytest.param({"collMod": "cmerr", "validationAction": "ignore"}, 2, id="bad-action"),
        pytest.param({"collMod": "cmerr", "validationLevel": 1}, 14, id="level-not-string"),
        pytest.param({"collMod": "cmerr", "validator": 1}, 14, id="validator-not-object"),
        pytest.param({"collMod": "cmerr", "validator": {"$jsonSchema": {"foo": 1}}}, 9, id="bad-schema"),
    ],
)
def test_coll_mod_errors(db: Any, command: dict[str, Any], code: int) -> None:
    fresh(db, "cmerr")
    db.drop_collection("nope")
    with pytest.raises(OperationFailure) as e:
        db.command(command)
    assert e.value.code == code
    if code == 26:
        assert e.value.details["codeName"] == "NamespaceNotFound"
    if code == 72:
        assert e.value.details["errmsg"] == "unknown option to collMod: foo"


@pytest.mark.parametrize(
    ("options", "code"),
    [
        pytest.param({"validator": {"$jsonSchema": {"bsonType": "object", "foo": 1}}}, 9, id="unknown-keyword"),
        pytest.param({"validator": {"$jsonSchema": {"format": "date"}}}, 9, id="unsupported-keyword"),
        pytest.param({"validator": {"$jsonSchema": {"required": []}}}, 9, id="required-empty"),
        pytest.param({"validator": {"$jsonSchema": {"required": "a"}}}, 14, id="required-not-array"),
        pytest.param({"validator": {"$jsonSchema": {"bsonType": "integer"}}}, 2, id="unknown-bsonType"),
        pytest.param({"validator": {"$jsonSchema": {"type": "integer"}}}, 9, id="type-integer"),
        pytest.param(
            {"validator": {"$jsonSchema": {"type": "object", "bsonType": "object"}}}, 9, id="type-and-bsonType"
        ),
        pytest.param({"validator": {"$jsonSchema": {"properties": {"a": {"maximum": "5"}}}}}, 14, id="maximum-string"),
        pytest.param(
            {"validator": {"$jsonSchema": {"properties": {"a": {"minLength": -1}}}}}, 9, id="minLength-negative"
        ),
        pytest.param(
            {"validator": {"$jsonSchema": {"properties": {"a": {"exclusiveMinimum": True}}}}},
            9,
            id="exclusive-without-minimum",
        ),
        pytest.param({"validator": {"$jsonSchema": {"enum": []}}}, 9, id="enum-empty"),
        pytest.param({"validator": {"$jsonSchema": {"properties": {"a": 1}}}}, 14, id="property-not-object"),
        pytest.param({"validator": {"$jsonSchema": {"anyOf": []}}}, 2, id="anyOf-empty"),
        pytest.param({"validator": {"$jsonSchema": 1}}, 14, id="schema-not-object"),
        pytest.param({"validator": {"$foo": 1}}, 2, id="unknown-operator"),
        pytest.param({"validator": 1}, 14, id="validator-not-object"),
        pytest.param({"validationLevel": "lax"}, 2, id="bad-level"),
        pytest.param({"validationAction": "ignore"}, 2, id="bad-action"),
    ],
)
def test_create_refuses_bad_validation_options(db: Any, options: dict[str, Any], code: int) -> None:
    db.drop_collection("badopts")
    with pytest.raises(OperationFailure) as e:
        db.command("create", "badopts", **options)
    assert e.value.code == code
    assert "badopts" not in db.list_collection_names()


def test_bad_schema_message_names_the_validator(db: Any) -> None:
    db.drop_collection("badmsg")
    with pytest.raises(OperationFailure) as e:
        db.create_collection("badmsg", validator={"$jsonSchema": {"bsonType": "object", "foo": 1}})
    assert e.value.code == 9
    assert e.value.details["codeName"] == "FailedToParse"
    assert e.value.details["errmsg"] == (
        "Parsing of collection validator failed :: caused by :: Unknown $jsonSchema keyword: foo"
    )

    fresh(db, "badmsg")
    with pytest.raises(OperationFailure) as e:
        db.command("collMod", "badmsg", validator={"$jsonSchema": {"required": []}})
    assert e.value.code == 9
    assert e.value.details["errmsg"] == (
        "Parsing of collection validator failed :: caused by :: $jsonSchema keyword 'required' cannot be an empty array"
    )


def test_rename_keeps_the_validator(db: Any) -> None:
    fresh(db, "renamed_to")
    db.drop_collection("renamed_to")
    coll = fresh(db, "renamed_from", validator={"a": {"$exists": True}})
    coll.rename("renamed_to")
    assert options_of(db, "renamed_to") == {"validator": {"a": {"$exists": True}}}
    with pytest.raises(WriteError):
        db.renamed_to.insert_one({"b": 1})


def test_validation_options_survive_a_restart(db: Any, request: pytest.FixtureRequest) -> None:
    try:
        restart = request.getfixturevalue("restart_server")
    except pytest.FixtureLookupError:
        pytest.skip("needs a restart_server fixture")

    fresh(db, "persist", validator=STUDENTS_SCHEMA, validationLevel="moderate", validationAction="error")
    fresh(db, "persist2", validator={"a": {"$type": "string"}})
    db.command("collMod", "persist2", validationAction="warn")

    restart()

    assert options_of(db, "persist") == {
        "validator": STUDENTS_SCHEMA,
        "validationLevel": "moderate",
        "validationAction": "error",
    }
    assert options_of(db, "persist2") == {"validator": {"a": {"$type": "string"}}, "validationAction": "warn"}
    with pytest.raises(WriteError):
        db.persist.insert_one({"name": "x"})
    db.persist2.insert_one({"a": 1})
