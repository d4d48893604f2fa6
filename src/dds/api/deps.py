"""Dependencies shared by the routers: the parts and the calling project."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from dds.core.errors import AuthenticationFailed, Forbidden
from dds.iam.signature import is_signed
from dds.parts import Parts
from dds.services import iam


def get_parts(request: Request) -> Parts:
    parts: Parts = request.app.state.parts
    return parts


PartsDep = Annotated[Parts, Depends(get_parts)]


async def caller_project(request: Request, parts: PartsDep) -> str:
    """The project the credentials belong to (401 if none are valid).

    A signed request's signature covers the body, so the body is read here
    (Starlette caches it for the route) before the check runs off the event loop.
    """
    if is_signed(request.headers.get("authorization")):
        request.state.raw_body = await request.body()
    project = await run_in_threadpool(iam.authenticate, parts, request)
    if project is None:
        raise AuthenticationFailed()
    return project


def current_project(project_id: Annotated[str, Path()], caller: Annotated[str, Depends(caller_project)]) -> str:
    """The path's project, which must be the caller's (403 otherwise).

    Resources of other projects are then invisible: services look rows up by
    (project_id, id) and answer 404 for anything outside the caller's project.
    """
    if project_id != caller:
        raise Forbidden("The project ID in the URL does not match the credentials.")
    return project_id


ProjectDep = Annotated[str, Depends(current_project)]
CallerDep = Annotated[str, Depends(caller_project)]
