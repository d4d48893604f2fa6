"""The one place that renders errors as DDS bodies."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dds.core.errors import DDSError, InternalError, InvalidParameter, NotFound

log = logging.getLogger(__name__)


def body(exc: DDSError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


def install(app: FastAPI) -> None:
    @app.exception_handler(DDSError)
    async def _dds(_: Request, exc: DDSError) -> JSONResponse:
        return body(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        in_body = bool(first.get("loc")) and first["loc"][0] == "body"
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if in_body and media != "application/json":
            given = f"got {media!r}" if media else "no Content-Type was sent"
            return body(
                InvalidParameter(f"The request body must be JSON with Content-Type: application/json ({given}).")
            )
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return body(InvalidParameter(f"Invalid parameter {where}: {first.get('msg', 'invalid')}."))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return body(NotFound("The requested URL was not found."))
        err = DDSError(str(exc.detail))
        err.status = exc.status_code
        err.code = "DBS.200022" if exc.status_code < 500 else "DBS.200001"
        return body(err)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return body(InternalError())
