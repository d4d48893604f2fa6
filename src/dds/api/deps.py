"""Dependencies shared by the routers: the parts and the calling project."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from dds.api.cache import ReadCache
from dds.core.errors import AuthenticationFailed, Forbidden
from dds.domain import rules
from dds.iam.signature import is_signed
from dds.parts import Parts
from dds.services import iam

Q = TypeVar("Q")


async def get_parts(request: Request) -> Parts:
    parts: Parts = request.app.state.parts
    return parts


PartsDep = Annotated[Parts, Depends(get_parts)]


async def get_cache(request: Request) -> ReadCache:
    cache: ReadCache = request.app.state.read_cache
    return cache


CacheDep = Annotated[ReadCache, Depends(get_cache)]


async def caller_project(request: Request, parts: PartsDep) -> str:
    """The project the credentials belong to (401 if none are valid).

    A signed request's signature covers the body, so the body is read here
    (Starlette caches it for the route) before the check runs off the event loop.
    """
    project = iam.authenticate_cached(parts, request.headers)
    if project is not None:
        return project
    if is_signed(request.headers.get("authorization")):
        request.state.raw_body = await request.body()
    project = await run_in_threadpool(iam.authenticate, parts, request)
    if project is None:
        raise AuthenticationFailed()
    return project


async def current_project(project_id: Annotated[str, Path()], caller: Annotated[str, Depends(caller_project)]) -> str:
    """The path's project, which must be the caller's (403 otherwise).

    Resources of other projects are then invisible: services look rows up by
    (project_id, id) and answer 404 for anything outside the caller's project.
    """
    if project_id != caller:
        raise Forbidden("The project ID in the URL does not match the credentials.")
    return project_id


ProjectDep = Annotated[str, Depends(current_project)]
CallerDep = Annotated[str, Depends(caller_project)]


def query(cls: Callable[..., Q]) -> Callable[..., Awaitable[Q]]:
    """A query-string dataclass as an async dependency: FastAPI runs a plain class (a sync
    callable) in a worker thread, a hop every read would pay for nothing."""

    async def build(**fields: Any) -> Q:
        return cls(**fields)

    build.__signature__ = inspect.signature(cls)  # type: ignore[attr-defined]  # FastAPI reads the fields here
    return build


def paging(offset: str | None, limit: str | None) -> tuple[int, int]:
    """`offset`/`limit` query parameters as DDS documents them: offset >= 0, limit 1-100 (default 100)."""
    start = rules.parse_int(offset if offset is not None else 0, "offset")
    count = rules.parse_int(limit if limit is not None else 100, "limit")
    rules.check_paging(start, count)
    return start, count
