"""Liveness and readiness for load balancers and orchestrators (no authentication)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["Health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers HTTP."""
    return {"status": "ok"}


@router.get("/health/ready")
async def ready(request: Request) -> JSONResponse:
    """Readiness: the metadata store answers and the job workers, supervisor and scheduler run;
    503 with the failing checks otherwise."""
    check = request.app.state.readiness
    checks: dict[str, bool] = check() if check is not None else {}
    ok = bool(checks) and all(checks.values())
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)
