"""The wire models are the SDK's: same names, same fields; the OpenAPI document types every body."""

from __future__ import annotations

import huaweicloudsdkdds.v3.model as sdk

from dds.api.app import create_app
from dds.wire import models
from dds.wire.base import Wire


def _wire_models() -> list[type[Wire]]:
    return [m for m in vars(models).values() if isinstance(m, type) and issubclass(m, Wire) and m is not Wire]


def test_every_wire_model_has_the_sdk_fields() -> None:
    found = _wire_models()
    assert len(found) > 50
    for model in found:
        declared = getattr(sdk, model.__name__)
        body_fields = {wire for wire in declared.attribute_map.values() if not wire.lower().startswith("x-")}
        assert {f.alias or name for name, f in model.model_fields.items()} == body_fields, model.__name__


def test_numbers_are_taken_where_the_sdk_declares_strings() -> None:
    flavor = models.CreateInstanceFlavorOption.model_validate({"num": 1, "size": 10, "extra": "kept"})
    assert (flavor.num, flavor.size) == ("1", "10")
    assert flavor.model_dump(exclude_none=True)["extra"] == "kept"


def test_openapi_types_request_and_response_bodies() -> None:
    schema = create_app().openapi()
    post = schema["paths"]["/v3/{project_id}/instances"]["post"]
    assert "$ref" in post["requestBody"]["content"]["application/json"]["schema"]
    assert post["responses"]["202"]["content"]["application/json"]["schema"]["$ref"].endswith("CreateInstanceResponse")
    untyped = [
        (path, method)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if path.startswith("/v3") and "{project_id}" in path
        for code, resp in op["responses"].items()
        if code.startswith("2") and code != "204" and "$ref" not in str(resp.get("content", {}))
    ]
    assert untyped == []
