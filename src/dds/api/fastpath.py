"""The hottest read, answered before routing: `GET /v3/{project_id}/instances`.

Dashboards and Terraform poll the instance list. For a caller whose credentials are already
known (a cached token or the development token) the rendered list is served straight from the
read cache, without FastAPI's routing, dependency solving and parameter validation, which
cost more than the answer itself (bench/bench_api.py). Anything else, including every error,
goes through the application as usual, which answers it the same way.
"""

from __future__ import annotations

import re
from dataclasses import fields
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from dds.api.cache import ReadCache
from dds.api.routes.instances import cached_listing
from dds.core.errors import DDSError
from dds.parts import Parts
from dds.services import iam
from dds.services.instances import InstanceQuery

_PATH = re.compile(r"^/v3/([^/]+)/instances$")
_INT_FIELDS = {f.name for f in fields(InstanceQuery) if f.type in (int, "int")}
_FIELDS = {f.name for f in fields(InstanceQuery)}


class InstanceListFastPath:
    def __init__(self, app: ASGIApp, parts: Parts, cache: ReadCache) -> None:
        self.app, self.parts, self.cache = app, parts, cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and (m := _PATH.match(scope["path"])):
            wanted = _query(scope.get("query_string", b""))
            if wanted is not None and iam.authenticate_cached(self.parts, Headers(scope=scope)) == m[1]:
                try:
                    body = await cached_listing(self.parts, self.cache, m[1], wanted)
                except DDSError:
                    pass  # the application renders the error
                else:
                    scope["dds_fast_path"] = True  # for the metrics' route label
                    await _respond(send, body)
                    return
        await self.app(scope, receive, send)


def _query(raw: bytes) -> InstanceQuery | None:
    """The query string as the route would parse it, or None to leave it to the route."""
    wanted, seen = InstanceQuery(), set()
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if name not in _FIELDS or name in seen:
            return None
        seen.add(name)
        try:
            setattr(wanted, name, int(value) if name in _INT_FIELDS else value)
        except ValueError:
            return None
    return wanted


async def _respond(send: Send, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
