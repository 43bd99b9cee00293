"""Siting over HTTP: choose new sites (MCLP, LSCP, p-median) on walking catchments."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from geo_service.api.deps import get_db, get_siting_settings, get_walking_settings, require_role
from geo_service.api.models import siting as msi
from geo_service.api.openapi import answers, model_body
from geo_service.auth import Principal
from geo_service.db.pool import Database
from geo_service.feature_input import cycle_collection_paused, parse_json
from geo_service.settings import SitingSettings, WalkingSettings
from geo_service.siting import service
from geo_service.siting.model import SitingAnswer, SitingRequest

router = APIRouter(prefix="/api", tags=["siting"])


def _request(data: bytes) -> SitingRequest:
    """The body as a :class:`SitingRequest` (strict: no lax coercion); 422 naming every bad field."""
    try:
        return SitingRequest.model_validate(parse_json(data))
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None


@router.post(
    "/siting",
    openapi_extra={"requestBody": model_body(SitingRequest)},
    response_model=None,
    responses=answers(msi.SitingAnswer),
)
async def siting(
    request: Request,
    db: Database = Depends(get_db),
    _principal: Principal = Depends(require_role("planner")),
    settings: SitingSettings = Depends(get_siting_settings),
    walking: WalkingSettings = Depends(get_walking_settings),
) -> SitingAnswer:
    """(Planner.) Where to open new sites so that the most people reach one on foot within ``minutes``.

    ``method``: ``mclp`` (at most ``k`` new sites covering the most demand), ``lscp`` (fewest new sites
    covering every demand point some site can reach), ``p-median`` (at most ``k`` new sites minimising the
    weighted walk). Omitted ``candidates`` are community/service-centre facilities, omitted ``demand`` the
    residences weighted by households, omitted ``fixed`` the existing rest stations. ``time_limit_s`` bounds
    the whole request: past it the best answer so far comes back with ``optimal: false`` and its gap, or 503
    ``siting.time_limit`` when no answer exists yet. The answer says whether the solver proved the choice
    optimal and, if not, the MIP gap."""
    data = await request.body()

    def work() -> SitingAnswer:  # parsing, validation and solving off the event loop
        with cycle_collection_paused():
            asked = _request(data)
        return service.site(db, asked, settings, walking=walking).as_dict()

    return await run_in_threadpool(work)
