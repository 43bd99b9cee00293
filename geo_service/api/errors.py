"""Exceptions → HTTP responses, in one table. Every error body is ``{"detail": ...}``."""

from __future__ import annotations

import logging

import psycopg2
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo_service import errors
from geo_service.db.cluster import ClusterError
from geo_service.db.pool import DatabaseUnavailable

log = logging.getLogger(__name__)

STATUS: dict[type[Exception], int] = {
    errors.BadRequest: 400,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.InvalidInput: 422,
    errors.ServiceUnavailable: 503,
    DatabaseUnavailable: 503,
    ClusterError: 503,
}


def _status_for(exc: Exception) -> int | None:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return None


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(errors.ServiceError)
    async def _service_error(_request: Request, exc: errors.ServiceError) -> JSONResponse:
        body = {**jsonable_encoder(exc.extra), "detail": jsonable_encoder(exc.detail)}
        return JSONResponse(body, status_code=_status_for(exc) or 400)

    @app.exception_handler(DatabaseUnavailable)
    @app.exception_handler(ClusterError)
    async def _unavailable(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": f"database unavailable: {exc}"}, status_code=503,
                            headers={"Retry-After": "5"})  # fmt: skip

    @app.exception_handler(psycopg2.errors.QueryCanceled)
    async def _timeout(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": "the query took too long and was cancelled"}, status_code=503)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append({"loc": loc, "msg": err.get("msg"), "type": err.get("type")})
        return JSONResponse({"detail": jsonable_encoder(problems)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse({"detail": "internal error"}, status_code=500)
