"""Liveness and readiness."""

from __future__ import annotations

import time

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from geo_service.api.errors import error_response
from geo_service.api.models import common as mc
from geo_service.api.openapi import answers
from geo_service.db import readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", responses=answers(mc.Health))
async def healthz() -> dict[str, str]:
    """The process is up. Touches nothing else (no database, no dependency), and runs on the event loop
    itself, so it answers even while every worker thread waits on a stalled database."""
    return {"status": "ok"}


@router.get("/readyz", responses=answers(mc.Ready))
async def readyz(request: Request) -> JSONResponse:
    """200 when the database answers within ``GEO_SERVICE_READINESS_TIMEOUT_S``, carries every migration and
    can write (disk not full), else 503 with the code of what is wrong."""
    state, asked = request.app.state, time.monotonic()
    # Readiness checks get threads of their own: when every request thread waits on a stalled database,
    # /readyz must still answer within its deadline rather than queue behind them. Concurrent checks share
    # one look at the database (readiness.check).
    limiter = getattr(state, "readiness_threads", None)
    if limiter is None:
        limiter = state.readiness_threads = anyio.CapacityLimiter(8)
    result = await anyio.to_thread.run_sync(
        readiness.check, state.db, state.db_settings, asked, limiter=limiter
    )
    if result.ready:
        return JSONResponse({"status": "ready", "schema_version": result.schema_version})
    headers = {"Retry-After": "5"} if result.code != "db.not_migrated" else None
    return error_response(request, 503, result.code or "db.unavailable", result.params, headers=headers)


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    """No icon: an empty answer keeps browsers from logging a 404 on every page."""
    return Response(status_code=204)
