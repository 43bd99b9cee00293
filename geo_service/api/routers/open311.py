"""Open311 GeoReport v2 under ``/open311/v2/``: ``.json`` or ``.xml`` on every resource.

Errors here take the spec's shape (``[{"code", "description"}]`` or ``<errors>``), not ``{"detail"}``: a route
class turns every error raised on these routes into it, with the spec's status codes (404 missing, 403 api_key,
409 an address that cannot place a request by itself, 400 anything else). Descriptions, service names and
notes are in the negotiated language (``Accept-Language``; zh-CN by default).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from geo_service.api.deps import incident_context, optional_principal
from geo_service.api.errors import language_of, status_for
from geo_service.api.models import open311 as mo
from geo_service.api.models.open311 import georeport
from geo_service.api.routers.tiles import base_url
from geo_service.auth import Principal
from geo_service.db.pool import DatabaseUnavailable
from geo_service.errors import BadRequest, NotFound, ServiceError, TooManyRequests, UnsupportedMediaType
from geo_service.i18n import render_all, translate
from geo_service.incidents.context import IncidentContext
from geo_service.open311 import service
from geo_service.open311.render import FORMATS, render, render_errors

Ctx = Annotated[IncidentContext, Depends(incident_context)]
Caller = Annotated[Principal | None, Depends(optional_principal)]
ApiKey = Annotated[
    str | None, Query(description="a dispatcher token: requests come with their text and exact point")
]
log = logging.getLogger(__name__)


def _status(exc: Exception) -> int:
    """The spec's statuses: 404 missing, 403 for keys and tokens, 409 for an address that cannot place a
    request by itself, 413 for a photo too large, 400 for anything else the caller got wrong; 429/503 (with
    Retry-After) keep theirs."""
    status = exc.status_code if isinstance(exc, HTTPException) else status_for(exc) or 400
    if status == 401:
        return 403
    return status if status in (403, 404, 405, 409, 413, 429, 503) else 400


class Open311Route(APIRoute):
    """Routes whose errors are Open311 error documents in the requested format."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def open311_handler(request: Request) -> Response:
            fmt = request.path_params.get("fmt", "json")
            language = language_of(request)
            try:
                if fmt not in FORMATS:
                    raise NotFound("open311.format_not_served", format=fmt)
                return await handler(request)
            except ServiceError as exc:
                response = render_errors(fmt, _status(exc), [_description(exc, language)])
                if isinstance(exc, TooManyRequests):
                    response.headers["Retry-After"] = str(int(exc.retry_after_s + 0.999))
                return response
            except HTTPException as exc:
                return render_errors(fmt, _status(exc), [str(exc.detail)])
            except RequestValidationError as exc:
                problems = [
                    translate(
                        "open311.invalid_parameter",
                        language,
                        {"field": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg")},
                    )
                    for e in exc.errors()
                ]
                return render_errors(fmt, 400, problems or [translate("request.malformed", language)])
            except DatabaseUnavailable as exc:
                log.warning("database unavailable: %s", exc)
                return render_errors(fmt, exc.status, [translate(exc.code, language)])

        return open311_handler


def _description(exc: ServiceError, language: str) -> str:
    """An error's text in ``language``; a refused address lists its best candidates (the spec's error element
    has only a description)."""
    text = exc.message.render(language)
    candidates = exc.extra.get("candidates") or []
    if candidates:
        listed = [
            translate(
                "open311.candidate",
                language,
                {
                    "name": c["name"],
                    "precision": translate(f"geocode.precision.{c['precision']}", language),
                    "lon": c["lon"],
                    "lat": c["lat"],
                },
            )
            for c in candidates[:5]
        ]
        text += translate("open311.candidates", language, {"candidates": listed})
    return text


router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311Route)


def _render(
    fmt: str, root: str, value: Any, request: Request, status_code: int = 200, private: bool | None = None
) -> Response:
    """``value`` with its messages (notes, notices) in the caller's language, in ``fmt``."""
    return render(fmt, root, render_all(value, language_of(request)), status_code, private=private)


@router.get("/discovery.{fmt}", responses=georeport(mo.Discovery))
def get_discovery(fmt: str, request: Request, ctx: Ctx) -> Response:
    base = f"{base_url(request)}{router.prefix}"
    return _render(fmt, "discovery", service.discovery(ctx, base), request)


@router.get("/services.{fmt}", responses=georeport(mo.Services))
def get_services(fmt: str, request: Request, ctx: Ctx, jurisdiction_id: str | None = None) -> Response:
    service.check_jurisdiction(ctx, jurisdiction_id)
    return _render(fmt, "services", service.service_list(ctx, language_of(request)), request)


@router.get("/services/{service_code}.{fmt}", responses=georeport(mo.ServiceDefinition))
def get_service_definition(
    service_code: str, fmt: str, request: Request, ctx: Ctx, jurisdiction_id: str | None = None
) -> Response:
    service.check_jurisdiction(ctx, jurisdiction_id)
    definition = service.service_definition(ctx, service_code, language_of(request))
    return _render(fmt, "service_definition", definition, request)


@router.get("/requests.{fmt}", responses=georeport(mo.ServiceRequests))
def get_requests(
    fmt: str,
    request: Request,
    ctx: Ctx,
    caller: Caller,
    jurisdiction_id: str | None = None,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
    api_key: ApiKey = None,
) -> Response:
    """Anyone gets the public form (no text, address, notes or photo; the point moved to its H3 cell's centre);
    a dispatcher token (``api_key`` or bearer) gets requests in full."""
    service.check_jurisdiction(ctx, jurisdiction_id)
    full = service.may_read_in_full(caller or service.api_key_principal(ctx, api_key))
    query = service.RequestQuery(
        service_request_id=service_request_id,
        service_code=service_code,
        start_date=start_date,
        end_date=end_date,
        status=status,
    )
    return _requests(fmt, ctx, service.find_requests(ctx, query, full, base_url(request)), request, full)


@router.post("/requests.{fmt}", status_code=201, responses=georeport(mo.CreatedRequests, 201))
async def post_request(fmt: str, request: Request, ctx: Ctx) -> Response:
    """Form-encoded, as the spec says (``application/x-www-form-urlencoded``); multipart is accepted too, with a
    photo in the file field ``media`` (checked and cleaned like ``POST /api/incidents/{id}/media``; a bad file
    is refused and nothing is created)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        raise UnsupportedMediaType("open311.form_encoded")
    settings = request.app.state.media_settings
    fields: dict[str, list[str]] = {}
    photos: list[bytes] = []
    async with request.form() as form:  # closed on leaving: an upload spooled to disk is a file held open
        for key, value in form.multi_items():
            if isinstance(value, str):
                fields.setdefault(key, []).append(value)
            elif key == "media" and not photos:
                photos.append(await value.read(settings.max_bytes + 1))
            else:
                raise BadRequest("open311.files_not_accepted", field=key)
    created = await run_in_threadpool(service.create_request, ctx, fields, photos, settings)
    return _render(fmt, "service_requests", created, request, status_code=201)


@router.get("/requests/{request_id}.{fmt}", responses=georeport(mo.ServiceRequests))
def get_request(
    request_id: str,
    fmt: str,
    request: Request,
    ctx: Ctx,
    caller: Caller,
    jurisdiction_id: str | None = None,
    api_key: ApiKey = None,
) -> Response:
    """One request: the public form for anyone, in full for a dispatcher token (``api_key`` or bearer)."""
    service.check_jurisdiction(ctx, jurisdiction_id)
    full = service.may_read_in_full(caller or service.api_key_principal(ctx, api_key))
    return _requests(fmt, ctx, service.get_request(ctx, request_id, full, base_url(request)), request, full)


def _requests(
    fmt: str, ctx: IncidentContext, found: list[service.ServiceRequest], request: Request, full: bool
) -> Response:
    service.localise_service_names(ctx, found, language_of(request))
    return _render(fmt, "service_requests", found, request, private=full)
