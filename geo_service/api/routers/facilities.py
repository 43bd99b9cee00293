"""Facilities over HTTP: public reads, planner writes (add or correct a POI) with ETag / If-Match."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response

from geo_service.api import params
from geo_service.api.deps import get_db, require_role
from geo_service.api.etags import etag, require_if_match
from geo_service.api.models import facilities as mf
from geo_service.api.models.common import Term
from geo_service.api.openapi import answers, feature_body
from geo_service.auth import Principal
from geo_service.db.pool import Database
from geo_service.facilities import service
from geo_service.geojson import Feature, FeatureCollection
from geo_service.osm.rules import FacilityRules

IF_MATCH = 'the ETag you read, e.g. "3" (required: 428 without it, 412 when stale)'
router = APIRouter(prefix="/api/facilities", tags=["facilities"])
planner = require_role("planner")


async def facility_rules(request: Request) -> FacilityRules:
    return request.app.state.facility_rules


Rules = Annotated[FacilityRules, Depends(facility_rules)]


@router.get("/categories", response_model=None, responses=answers(mf.FacilityCategories))
def categories(rules: Rules) -> mf.FacilityCategories:
    """The facility categories (stable ids) with Chinese and English names."""
    terms = [Term(id=c.id, name_zh=c.zh, name_en=c.en) for c in rules.categories]
    return mf.FacilityCategories(categories=terms)


@router.get("", response_model=None, responses=answers(mf.FacilityCollection))
def list_facilities(
    rules: Rules,
    category: str | None = Query(None, description="comma-separated categories"),
    bbox: str | None = Query(None, description="minlon,minlat,maxlon,maxlat"),
    source: str | None = Query(None, description="osm or planner"),
    limit: int = Query(1000),
    offset: Annotated[params.RowOffset, Query()] = 0,
    db: Database = Depends(get_db),
) -> FeatureCollection:
    return service.list_facilities(
        db, rules, params.words(category), params.bbox(bbox), source, limit, offset
    )


@router.post(
    "",
    status_code=201,
    openapi_extra={"requestBody": feature_body(mf.FacilityInput)},
    response_model=None,
    responses=answers(mf.FacilityFeature, 201),
)
def create_facility(
    rules: Rules,
    response: Response,
    feature: Any = Body(...),
    crs: str | None = Query(None),
    principal: Principal = Depends(planner),
    db: Database = Depends(get_db),
) -> Feature:
    """Add a facility (planner): a Point Feature with `category` and `name` (other properties become tags)."""
    out = service.create_facility(db, rules, feature, principal, crs)
    response.headers["ETag"] = etag(out["properties"]["version"])
    response.headers["Location"] = f"/api/facilities/{out['id']}"
    return out


@router.get("/{facility_id:int}", response_model=None, responses=answers(mf.FacilityFeature))
def get_facility(
    rules: Rules, facility_id: params.PathId, response: Response, db: Database = Depends(get_db)
) -> Feature:
    out = service.get_facility(db, rules, facility_id)
    response.headers["ETag"] = etag(out["properties"]["version"])
    return out


@router.put(
    "/{facility_id:int}",
    openapi_extra={"requestBody": feature_body(mf.FacilityInput)},
    response_model=None,
    responses=answers(mf.FacilityFeature),
)
def update_facility(
    rules: Rules,
    facility_id: params.PathId,
    response: Response,
    feature: Any = Body(...),
    if_match: str | None = Header(None, description=IF_MATCH),
    crs: str | None = Query(None),
    principal: Principal = Depends(planner),
    db: Database = Depends(get_db),
) -> Feature:
    """Correct a facility (planner); an imported one keeps the correction across re-imports."""
    out = service.update_facility(db, rules, facility_id, feature, principal, require_if_match(if_match), crs)
    response.headers["ETag"] = etag(out["properties"]["version"])
    return out


@router.delete("/{facility_id:int}", status_code=204)
def delete_facility(
    facility_id: params.PathId,
    if_match: str | None = Header(None, description=IF_MATCH),
    principal: Principal = Depends(planner),
    db: Database = Depends(get_db),
) -> Response:
    service.delete_facility(db, facility_id, principal, require_if_match(if_match))
    return Response(status_code=204)
