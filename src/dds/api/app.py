"""The FastAPI application: routers, error rendering, lifecycle hooks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from dds import __version__
from dds.api import errors
from dds.api.cache import ReadCache
from dds.api.fastpath import InstanceListFastPath
from dds.api.observe import ObserveMiddleware
from dds.api.routes import (
    backups,
    catalog,
    connections,
    db_users,
    health,
    identity,
    instances,
    jobs,
    logs,
    management,
    parameters,
    pitr,
    tags,
    unsupported,
    versions,
)
from dds.parts import Parts

Hook = Callable[[], None]


def create_app(
    parts: Parts | None = None,
    *,
    on_start: Hook | None = None,
    on_stop: Hook | None = None,
    readiness: Callable[[], dict[str, bool]] | None = None,
) -> FastAPI:
    """The API over `parts`; `on_start`/`on_stop` run with the app (the composition root passes them).

    Without parts the app still lists its routes (compatibility tables are built from them).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if on_start is not None:
            on_start()
        try:
            yield
        finally:
            if on_stop is not None:
                on_stop()

    app = FastAPI(
        title="Document Database Service", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.mount(health.DOCS_ASSETS, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")
    # The web console: static files over this same API (api/console/), bundled with the package.
    app.mount("/console", StaticFiles(directory=Path(__file__).parent / "console", html=True), name="console")
    app.state.parts = parts
    app.state.read_cache = ReadCache()
    app.state.readiness = readiness
    if parts is not None:
        app.add_middleware(InstanceListFastPath, parts=parts, cache=app.state.read_cache)
    app.add_middleware(ObserveMiddleware)  # outermost: also counts what the fast path answers
    errors.install(app)
    app.include_router(health.router)  # before `/{version}`
    app.include_router(identity.router)  # before `/{version}` and `/v3/{project_id}/...`
    # backups first: its /instances/backups and /instances/recovery must win over /instances/{instance_id}
    for module in (
        backups,
        management,
        tags,
        catalog,
        instances,
        jobs,
        logs,
        connections,
        pitr,
        db_users,
        parameters,
        unsupported,
    ):
        app.include_router(module.router)
    app.include_router(versions.router)  # last: `/{version}` must not shadow other routes
    return app
