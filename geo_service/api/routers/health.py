"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from geo_service.api.deps import get_db
from geo_service.db import migrate
from geo_service.db.pool import Database, DatabaseUnavailable

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (says nothing about the database)."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(db: Database = Depends(get_db)) -> JSONResponse:
    """200 when the database answers and carries every migration, else 503."""
    try:
        applied = migrate.applied_version(db)
    except DatabaseUnavailable as exc:
        return JSONResponse({"detail": f"database unavailable: {exc}"}, status_code=503)
    latest = migrate.latest_version()
    if applied < latest:
        return JSONResponse(
            {"detail": f"database not migrated (at {applied}, need {latest})"}, status_code=503
        )
    return JSONResponse({"status": "ready", "schema_version": applied})


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    """No icon: an empty answer keeps browsers from logging a 404 on every page."""
    return Response(status_code=204)
