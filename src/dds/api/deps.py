"""Dependencies shared by the routers: the runtime and the calling project."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from dds.errors import Forbidden, Unauthorized
from dds.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def caller_project(request: Request, rt: RuntimeDep) -> str:
    """The project the credentials belong to (401 if none are valid)."""
    from dds.services import iam

    project = iam.authenticate(rt, request)
    if project is None:
        raise Unauthorized()
    return project


def current_project(project_id: Annotated[str, Path()], caller: Annotated[str, Depends(caller_project)]) -> str:
    """The path's project, which must be the caller's (403 otherwise)."""
    if project_id != caller:
        raise Forbidden("The project ID in the URL does not match the credentials.")
    return project_id


ProjectDep = Annotated[str, Depends(current_project)]
