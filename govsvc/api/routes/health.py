"""Health, readiness and metrics: for orchestrators and Prometheus, no token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from govsvc.api.deps import ServiceDep
from govsvc.api.metrics import CONTENT_TYPE

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@router.get("/readyz", summary="Database reachable, bundle compiled, key loaded")
def readyz(service: ServiceDep) -> JSONResponse:
    checks = service.readiness()
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", summary="Prometheus metrics")
def metrics(request: Request, service: ServiceDep) -> Response:
    body = request.app.state.metrics.render(service.ledger_state)
    return Response(body, media_type=CONTENT_TYPE)
