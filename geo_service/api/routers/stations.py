"""Rest stations over HTTP: public reads and nearest search, planner writes with ETag / If-Match."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response

from geo_service.api import params
from geo_service.api.deps import Compute, get_compute, get_db, require_role
from geo_service.api.etags import etag, require_if_match
from geo_service.api.models import stations as ms
from geo_service.api.openapi import answers, feature_body
from geo_service.auth import Principal
from geo_service.db.pool import Database
from geo_service.geojson import Feature, FeatureCollection
from geo_service.stations import service
from geo_service.stations.context import StationContext
from geo_service.stations.service import NearestStations
from geo_service.stations.vocabulary import VocabularyTerms

IF_MATCH = 'the ETag you read, e.g. "3" (required: 428 without it, 412 when stale)'
router = APIRouter(prefix="/api/stations", tags=["stations"])
planner = require_role("planner")

EXAMPLE = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [121.4737, 31.2304]},
    "properties": {
        "name": "南京东路暖心驿站",
        "kind": "care_station",
        "amenities": ["hot_water", "microwave", "charging", "toilet", "seating"],
        "opening_hours": "Mo-Su 07:00-21:00",
        "manager": "李点长",
        "contact": "021-12345678",
    },
}


async def station_context(request: Request) -> StationContext:
    return request.app.state.station_context


Ctx = Annotated[StationContext, Depends(station_context)]


@router.get("/vocabulary", response_model=None, responses=answers(ms.StationVocabulary))
def vocabulary(ctx: Ctx) -> VocabularyTerms:
    """Station kinds and amenities with Chinese and English names."""
    return ctx.vocabulary.as_dict()


@router.get("/nearest", response_model=None, responses=answers(ms.NearestStations))
async def nearest(
    ctx: Ctx,
    lon: float = Query(..., description="where you are: longitude, degrees"),
    lat: float = Query(..., description="latitude, degrees"),
    limit: int = Query(5, description="how many stations"),
    open_now: bool = Query(False, description="only stations open at `at` (unknown hours left out)"),
    amenities: str | None = Query(None, description="comma-separated amenities every station must offer"),
    kind: str | None = Query(None, description="comma-separated station kinds"),
    max_minutes: float | None = Query(None, description="walk at most this long, minutes (default 60)"),
    at: str | None = Query(
        None, description="ISO 8601 time for open_now (default now, deployment time zone)"
    ),
    include_route: bool = Query(False, description="add each station's walking route"),
    speed_kmh: float | None = Query(None, description="walking speed, km/h (default 4.5)"),
    crs: str = Query("wgs84", description="wgs84, gcj02, bd09 or cgcs2000"),
    db: Database = Depends(get_db),
    compute: Compute = Depends(get_compute),
) -> NearestStations:
    """Stations ordered by walking time (one network search), with `walk_seconds`, `walk_distance_m`,
    `open_now` and, with `include_route=true`, a `route` LineString."""
    wanted_amenities, kinds = params.words(amenities), params.words(kind)
    return await compute(
        lambda: service.nearest_stations(
            db,
            ctx,
            lon,
            lat,
            limit=limit,
            open_now=open_now,
            amenities=wanted_amenities,
            max_minutes=max_minutes,
            at=at,
            include_route=include_route,
            speed_kmh=speed_kmh,
            kind=kinds,
            crs=crs,
        )
    )


@router.get("", response_model=None, responses=answers(ms.StationCollection))
def list_stations(
    ctx: Ctx,
    kind: str | None = Query(None),
    bbox: str | None = Query(None, description="minlon,minlat,maxlon,maxlat"),
    db: Database = Depends(get_db),
) -> FeatureCollection:
    """Every station (FeatureCollection)."""
    return service.list_stations(db, ctx, kind, params.bbox(bbox))


@router.post(
    "",
    status_code=201,
    openapi_extra={"requestBody": feature_body(ms.StationInput, EXAMPLE)},
    response_model=None,
    responses=answers(ms.StationFeature, 201),
)
def create_station(
    ctx: Ctx,
    response: Response,
    feature: Any = Body(...),
    crs: str | None = Query(None, description="coordinates in wgs84 (default), gcj02, bd09 or cgcs2000"),
    principal: Principal = Depends(planner),
    db: Database = Depends(get_db),
) -> Feature:
    """Add a station (planner): a Point Feature with `name`, `kind`, `amenities`, `opening_hours`,
    `manager`, `contact`, `address`. Its 5/10/15-minute service circles are drawn with it."""
    out = service.create_station(db, ctx, feature, principal, crs)
    response.headers["ETag"] = etag(out["properties"]["version"])
    response.headers["Location"] = f"/api/stations/{out['id']}"
    return out


@router.get("/{station_id:int}", response_model=None, responses=answers(ms.StationFeature))
def get_station(
    ctx: Ctx, station_id: params.PathId, response: Response, db: Database = Depends(get_db)
) -> Feature:
    out = service.get_station(db, ctx, station_id)
    response.headers["ETag"] = etag(out["properties"]["version"])
    return out


@router.put(
    "/{station_id:int}",
    openapi_extra={"requestBody": feature_body(ms.StationInput)},
    response_model=None,
    responses=answers(ms.StationFeature),
)
def update_station(
    ctx: Ctx,
    station_id: params.PathId,
    response: Response,
    feature: Any = Body(...),
    if_match: str | None = Header(None, description=IF_MATCH),
    crs: str | None = Query(None),
    principal: Principal = Depends(planner),
    db: Database = Depends(get_db),
) -> Feature:
    """Change a station (planner); omitted properties and geometry keep their values."""
    out = service.update_station(db, ctx, station_id, feature, principal, require_if_match(if_match), crs)
    response.headers["ETag"] = etag(out["properties"]["version"])
    return out


@router.delete("/{station_id:int}", status_code=204)
def delete_station(
    station_id: params.PathId,
    if_match: str | None = Header(None, description=IF_MATCH),
    principal: Principal = Depends(planner),
    db: Database = Depends(get_db),
) -> Response:
    service.delete_station(db, station_id, principal, require_if_match(if_match))
    return Response(status_code=204)


@router.get("/{station_id:int}/service-circles", response_model=None, responses=answers(ms.ServiceCircles))
def service_circles(station_id: params.PathId, db: Database = Depends(get_db)) -> FeatureCollection:
    """The station's walking service circles (5/10/15 minutes)."""
    return service.service_circles(db, station_id)
