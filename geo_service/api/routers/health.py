"""Liveness and readiness."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from geo_service.api.deps import get_db
from geo_service.api.errors import error_response
from geo_service.db import migrate
from geo_service.db.pool import Database, DatabaseUnavailable

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (says nothing about the database)."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request, db: Database = Depends(get_db)) -> JSONResponse:
    """200 when the database answers and carries every migration, else 503."""
    try:
        applied = migrate.applied_version(db)
    except DatabaseUnavailable as exc:
        log.warning("not ready: %s", exc)
        return error_response(request, 503, "db.unavailable", headers={"Retry-After": "5"})
    latest = migrate.latest_version()
    if applied < latest:
        return error_response(request, 503, "db.not_migrated", {"applied": applied, "latest": latest})
    return JSONResponse({"status": "ready", "schema_version": applied})


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    """No icon: an empty answer keeps browsers from logging a 404 on every page."""
    return Response(status_code=204)
