"""Exceptions → HTTP responses, in one table.

Every error body is ``{"code", "message", "detail", ...}``: ``code`` a stable dotted id, ``message`` for people
in the negotiated language (``Accept-Language``, else the deployment's ``GEO_SERVICE_API_LANGUAGE``),
``detail`` the English text or the structured detail the error carried. Database and server internals
(libpq text, socket paths) are logged, never answered.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, TypeVar, cast

import psycopg2
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from typing_extensions import TypedDict  # pydantic documents FieldProblem on Python 3.11

from geo_service import errors
from geo_service.db.cluster import ClusterError
from geo_service.db.pool import DatabaseUnavailable
from geo_service.i18n import DEFAULT_LANGUAGE, known, negotiate, render_all, translate

log = logging.getLogger(__name__)

STATUS: dict[type[Exception], int] = {
    errors.BadRequest: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.InvalidInput: 422,
    errors.PreconditionRequired: 428,
    errors.TooManyRequests: 429,
    errors.ServerBusy: 503,
    errors.ServiceUnavailable: 503,
    DatabaseUnavailable: 503,
    ClusterError: 503,
}
# Starlette's own errors (routing, methods) by status
_HTTP_CODES = {
    400: "request.malformed",
    401: "auth.missing_token",
    403: "auth.forbidden",
    404: "http.not_found",
    405: "http.method_not_allowed",
    413: "request.too_large",
    415: "request.unsupported_media_type",
}


_NUL_REFUSED = "cannot contain NUL (0x00) characters"
_REFUSED_VALUES: dict[type[Exception], str] = {
    psycopg2.errors.NumericValueOutOfRange: "input.number_out_of_range",
    psycopg2.errors.DatetimeFieldOverflow: "input.date_out_of_range",
    psycopg2.errors.UntranslatableCharacter: "input.nul_character",  # \u0000 in jsonb
}


def allowed_methods(request: Request) -> str:
    """The ``Allow`` header of a path: every method some route fully matches there (a path served by several
    routes, e.g. GET and PUT /api/grids/{code}, lists them all). Asks the routes themselves, so converters
    and included routers count as they do when routing."""
    methods = set()
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            methods.add(method)
    return ", ".join(sorted(methods))


def status_for(exc: Exception) -> int | None:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return None


def language_of(request: Request) -> str:
    """The caller's language: ``Accept-Language`` against the catalogues, else the deployment default."""
    settings = getattr(request.app.state, "api_settings", None)
    default = getattr(settings, "language", DEFAULT_LANGUAGE)
    return negotiate(request.headers.get("accept-language"), default)


T = TypeVar("T")


class FieldProblem(TypedDict):
    """One member of a body a route validates itself (an inspection) that is not valid: where and why."""

    loc: Annotated[str, Field(description="dotted path of the member, e.g. amenities.hot_water")]
    msg: Annotated[str, Field(description="English text from the validator")]


def in_language(request: Request, body: T) -> T:
    """``body`` (a service's typed answer) with every message in it (notes, state names, row errors) as text in
    the caller's language; a :class:`~geo_service.i18n.Message` member is documented as the string it becomes."""
    return cast(T, render_all(body, language_of(request)))


def error_body(
    language: str, code: str, params: dict[str, Any] | None = None, detail: Any = None, **extra: Any
) -> dict[str, Any]:
    """The JSON body of an error: ``code``, ``message`` (``language``), ``detail`` (English unless given)."""
    body: dict[str, Any] = {
        **render_all(extra, language),
        "code": code,
        "message": translate(code, language, params),
        "detail": translate(code, "en", params) if detail is None else render_all(detail, language),
    }
    return jsonable_encoder(body)


def error_response(
    request: Request,
    status: int,
    code: str,
    params: dict[str, Any] | None = None,
    detail: Any = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = error_body(language_of(request), code, params, detail, **extra)
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_problems(exc: RequestValidationError, language: str) -> list[dict[str, Any]]:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        kind = str(err.get("type", ""))
        code = f"validation.{kind}" if known(f"validation.{kind}") else "validation.other"
        params = {
            "field": loc,
            **{k: v for k, v in (err.get("ctx") or {}).items() if isinstance(v, str | int | float)},
        }
        problems.append(
            {
                "loc": loc,
                "msg": err.get("msg"),
                "type": kind,
                "code": code,
                "message": translate(code, language, params),
            }
        )
    return problems


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(errors.ServiceError)
    async def _service_error(request: Request, exc: errors.ServiceError) -> JSONResponse:
        status = status_for(exc) or 400
        headers = None
        if isinstance(exc, errors.TooManyRequests):
            headers = {"Retry-After": str(int(exc.retry_after_s + 0.999))}
        elif isinstance(exc, errors.Unauthorized):
            headers = {"WWW-Authenticate": "Bearer"}
        return error_response(request, status, exc.code, dict(exc.params), exc.detail, headers, **exc.extra)

    @app.exception_handler(DatabaseUnavailable)
    @app.exception_handler(ClusterError)
    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        # db.unavailable, db.busy, db.read_only (503) or db.disk_full (507)
        status, code = getattr(exc, "status", 503), getattr(exc, "code", "db.unavailable")
        headers = {"Retry-After": "5"} if status == 503 else None
        return error_response(request, status, code, headers=headers)

    @app.exception_handler(psycopg2.errors.NumericValueOutOfRange)
    @app.exception_handler(psycopg2.errors.DatetimeFieldOverflow)
    @app.exception_handler(psycopg2.errors.UntranslatableCharacter)
    async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
        # a value the request carried that the column cannot hold (the transaction was rolled back):
        # the inputs are checked before; this is the net for any that a check missed
        log.warning("value refused by the database: %s", exc)
        return error_response(request, 422, _REFUSED_VALUES.get(type(exc), "input.number_out_of_range"))

    @app.exception_handler(psycopg2.errors.QueryCanceled)
    async def _timeout(request: Request, exc: Exception) -> JSONResponse:
        log.warning("query cancelled: %s", exc)
        return error_response(request, 503, "db.timeout", headers={"Retry-After": "5"})

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        language = language_of(request)
        problems = _validation_problems(exc, language)
        return JSONResponse(
            error_body(language, "request.validation", {"count": len(problems)}, problems), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http.error")
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        return error_response(
            request, exc.status_code, code, {"status": exc.status_code}, detail, headers=headers
        )

    @app.exception_handler(ValueError)
    async def _value_error(request: Request, exc: ValueError) -> JSONResponse:
        if _NUL_REFUSED in str(exc):  # psycopg2 refuses NUL in text before sending it: nothing was written
            return error_response(request, 422, "input.nul_character")
        log.exception("unhandled error", exc_info=exc)
        return error_response(request, 500, "internal.error")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(request, 500, "internal.error")
