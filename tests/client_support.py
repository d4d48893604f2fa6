"""Shared by the real-client tests: is the backups API registered, and are SDK models type-clean."""

from __future__ import annotations

import re
from typing import Any

from fastapi.routing import APIRoute

from dds.api.app import create_app


def _walk(routes: list[Any]) -> list[APIRoute]:
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):  # FastAPI >= 0.16x keeps included routers lazily
            found.extend(_walk(route.original_router.routes))
    return found


def api_routes() -> list[APIRoute]:
    """Every API route of the app (the routers register no prefixes)."""
    return _walk(create_app().routes)  # routes only


def has_route(path: str, method: str = "GET") -> bool:
    """True when the app registers `method path` (so tests of later issues switch on by themselves)."""
    return any(r.path == path and method in r.methods for r in api_routes())


BACKUPS = has_route("/v3/{project_id}/backups", "POST") and has_route("/v3/{project_id}/backups/download-file")
BACKUPS_REASON = "backup routes (issue 3) are not registered yet"

_LIST = re.compile(r"^list\[(.+)\]$")
_PRIMITIVE = {"str": str, "int": int, "bool": bool, "float": (int, float)}


def assert_model_types(model: Any, where: str = "") -> None:
    """Every field an SDK model declares holds the declared type (the SDK converts
    silently where it can; this catches a number sent where the API documents a string)."""
    for attr, kind in getattr(model, "openapi_types", {}).items():
        value = getattr(model, attr, None)
        if value is None or kind.startswith("dict(") or kind == "object":
            continue
        at = f"{where}.{attr}"
        if kind in _PRIMITIVE:
            assert isinstance(value, _PRIMITIVE[kind]), f"{at}: {value!r} is not {kind}"
        elif m := _LIST.match(kind):
            assert isinstance(value, list), f"{at}: not a list"
            for i, item in enumerate(value):
                if m[1] in _PRIMITIVE:
                    assert isinstance(item, _PRIMITIVE[m[1]]), f"{at}[{i}]: {item!r} is not {m[1]}"
                else:
                    assert_model_types(item, f"{at}[{i}]")
        else:
            assert hasattr(value, "openapi_types"), f"{at}: {value!r} did not parse into {kind}"
            assert_model_types(value, at)
