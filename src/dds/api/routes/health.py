"""Liveness, readiness, metrics and the API's own documentation (no authentication).

`/docs` is Swagger UI served from the `swagger-ui-bundle` package (nothing from a CDN), so it
works on a machine without internet access.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from dds.api import observe
from dds.core.errors import AuthenticationFailed

router = APIRouter(tags=["Health"])
DOCS_ASSETS = "/docs/assets"


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers HTTP."""
    return {"status": "ok"}


@router.get("/health/ready")
def ready(request: Request) -> JSONResponse:
    """Readiness: the metadata store answers and the job workers, supervisor and scheduler run;
    503 with the failing checks otherwise. A plain def: the store query must not block the loop."""
    check = request.app.state.readiness
    checks: dict[str, bool] = check() if check is not None else {}
    ok = bool(checks) and all(checks.values())
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text format (a plain def: the fleet figures read the metadata and /proc).
    With `DDS_METRICS_TOKEN` set, only `Authorization: Bearer <token>` may read them."""
    parts = request.app.state.parts
    wanted = parts.settings.metrics_token if parts is not None else None
    if wanted:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {wanted}".encode()):
            raise AuthenticationFailed("/metrics needs Authorization: Bearer <DDS_METRICS_TOKEN>")
    body = observe.scrape(parts) if parts is not None else generate_latest(REGISTRY)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@router.get("/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Document Database Service — API",
        swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
    )
