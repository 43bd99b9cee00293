"""Open311 GeoReport v2 under ``/open311/v2/``: ``.json`` or ``.xml`` on every resource.

Errors here take the spec's shape (``[{"code", "description"}]`` or ``<errors>``), not ``{"detail"}``: a route
class turns every error raised on these routes into it, with the spec's status codes (404 missing, 403 api_key,
400 anything else).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from geo_service.api.deps import incident_context, optional_principal
from geo_service.api.errors import status_for
from geo_service.api.routers.tiles import base_url
from geo_service.auth import Principal
from geo_service.db.pool import DatabaseUnavailable
from geo_service.errors import BadRequest, NotFound, ServiceError, TooManyRequests, UnsupportedMediaType
from geo_service.incidents.context import IncidentContext
from geo_service.open311 import service
from geo_service.open311.render import FORMATS, render, render_errors

Ctx = Annotated[IncidentContext, Depends(incident_context)]
Caller = Annotated[Principal | None, Depends(optional_principal)]
ApiKey = Annotated[
    str | None, Query(description="a dispatcher token: requests come with their text and exact point")
]


def _status(exc: Exception) -> int:
    """The spec's statuses: 404 missing, 403 for keys and tokens, 400 for anything else the caller got wrong;
    429/503 (with Retry-After) keep theirs."""
    status = exc.status_code if isinstance(exc, HTTPException) else status_for(exc) or 400
    if status == 401:
        return 403
    return status if status in (403, 404, 405, 429, 503) else 400


class Open311Route(APIRoute):
    """Routes whose errors are Open311 error documents in the requested format."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def open311_handler(request: Request) -> Response:
            fmt = request.path_params.get("fmt", "json")
            try:
                if fmt not in FORMATS:
                    raise NotFound(f"format .{fmt} is not served; use .json or .xml")
                return await handler(request)
            except (ServiceError, HTTPException) as exc:
                response = render_errors(fmt, _status(exc), [str(exc.detail)])
                if isinstance(exc, TooManyRequests):
                    response.headers["Retry-After"] = str(int(exc.retry_after_s + 0.999))
                return response
            except RequestValidationError as exc:
                problems = [
                    f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
                ]
                return render_errors(fmt, 400, problems or ["invalid request"])
            except DatabaseUnavailable as exc:
                return render_errors(fmt, exc.status, [f"service temporarily unavailable: {exc}"])

        return open311_handler


router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311Route)


@router.get("/discovery.{fmt}")
def get_discovery(fmt: str, request: Request, ctx: Ctx) -> Response:
    base = f"{base_url(request)}{router.prefix}"
    return render(fmt, "discovery", service.discovery(ctx, base))


@router.get("/services.{fmt}")
def get_services(fmt: str, ctx: Ctx, jurisdiction_id: str | None = None) -> Response:
    service.check_jurisdiction(ctx, jurisdiction_id)
    return render(fmt, "services", service.service_list(ctx))


@router.get("/services/{service_code}.{fmt}")
def get_service_definition(
    service_code: str, fmt: str, ctx: Ctx, jurisdiction_id: str | None = None
) -> Response:
    service.check_jurisdiction(ctx, jurisdiction_id)
    return render(fmt, "service_definition", service.service_definition(ctx, service_code))


@router.get("/requests.{fmt}")
def get_requests(
    fmt: str,
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
    query = service.RequestQuery(service_request_id=service_request_id, service_code=service_code,
                                 start_date=start_date, end_date=end_date, status=status)  # fmt: skip
    return render(fmt, "service_requests", service.find_requests(ctx, query, full), private=full)


@router.post("/requests.{fmt}", status_code=201)
async def post_request(fmt: str, request: Request, ctx: Ctx) -> Response:
    """Form-encoded, as the spec says (``application/x-www-form-urlencoded``; multipart is accepted too)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        raise UnsupportedMediaType("send the request form-encoded (application/x-www-form-urlencoded)")
    form = await request.form()
    fields: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            raise BadRequest(f"{key}: files are not accepted; send media_url")
        fields.setdefault(key, []).append(value)
    created = await run_in_threadpool(service.create_request, ctx, fields)
    return render(fmt, "service_requests", created, status_code=201)


@router.get("/requests/{request_id}.{fmt}")
def get_request(
    request_id: str,
    fmt: str,
    ctx: Ctx,
    caller: Caller,
    jurisdiction_id: str | None = None,
    api_key: ApiKey = None,
) -> Response:
    """One request: the public form for anyone, in full for a dispatcher token (``api_key`` or bearer)."""
    service.check_jurisdiction(ctx, jurisdiction_id)
    full = service.may_read_in_full(caller or service.api_key_principal(ctx, api_key))
    return render(fmt, "service_requests", service.get_request(ctx, request_id, full), private=full)
