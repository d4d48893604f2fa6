"""The FastAPI application: routers, error rendering, runtime lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from dds import __version__
from dds.api import errors
from dds.api.routes import backups, catalog, identity, instances, jobs, versions
from dds.runtime import Runtime


def create_app(runtime: Runtime, *, manage_runtime: bool = True) -> FastAPI:
    """`manage_runtime` starts and stops the runtime with the app (the `serve` path)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage_runtime:
            runtime.start()
        try:
            yield
        finally:
            if manage_runtime:
                runtime.stop()

    app = FastAPI(
        title="Document Database Service", version=__version__, lifespan=lifespan, docs_url="/docs", redoc_url=None
    )
    app.state.runtime = runtime
    errors.install(app)
    app.include_router(identity.router)  # before `/{version}` and `/v3/{project_id}/...`
    # backups first: its /instances/backups and /instances/recovery must win over /instances/{instance_id}
    for module in (backups, catalog, instances, jobs):
        app.include_router(module.router)
    app.include_router(versions.router)  # last: `/{version}` must not shadow other routes
    return app
