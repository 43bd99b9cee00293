"""Walking over HTTP: isochrones (one origin by GET, several by POST), routes, and the network's make-up."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from geo_service import walking
from geo_service.api import params
from geo_service.api.deps import Compute, get_compute, get_db, get_walking_settings
from geo_service.api.models import walking as mw
from geo_service.api.openapi import answers
from geo_service.db.pool import Database
from geo_service.geojson import Feature
from geo_service.settings import WalkingSettings

router = APIRouter(prefix="/api", tags=["walking"])


def _collection(contours: list[walking.Contour], extra: dict[str, Any]) -> Response:
    return Response(walking.contours_json(contours, extra), media_type="application/json")


@router.get("/isochrones", responses=answers(mw.Isochrones))
async def isochrones(
    lon: float = Query(..., description="origin longitude, degrees"),
    lat: float = Query(..., description="origin latitude, degrees"),
    minutes: str | None = Query("5,10,15", description="contours in minutes, comma-separated"),
    distances_m: str | None = Query(None, description="contours in walking metres instead of minutes"),
    speed_kmh: float | None = Query(None, description="walking speed, km/h (default 4.5)"),
    crs: str = Query("wgs84", description="wgs84, gcj02, bd09 or cgcs2000"),
    precision: int | None = Query(
        None, ge=3, le=15, description="decimals of the coordinates (default 7 ≈ 1 cm)"
    ),
    simplify_m: float | None = Query(
        None, ge=0, le=50, description="outline simplification, m (at most half a raster cell; default none)"
    ),
    db: Database = Depends(get_db),
    settings: WalkingSettings = Depends(get_walking_settings),
    compute: Compute = Depends(get_compute),
) -> Response:
    """Areas reachable on foot within each contour, following the street network: one (Multi)Polygon
    per contour with `minutes` (or `distance_m`) and `area_m2`, ascending; holes kept."""
    distances = params.numbers(distances_m, "distances_m")
    contour_minutes = None if distances else params.numbers(minutes, "minutes")

    def answer() -> Response:
        contours = walking.isochrones(
            db,
            [[lon, lat]],
            contour_minutes,
            speed_kmh,
            crs,
            distances,
            settings,
            simplify_m=simplify_m,
            decimals=precision,
        )
        return _collection(contours, {"origins": [[lon, lat]]})

    return await compute(answer)


class IsochroneRequest(BaseModel):
    origins: list[list[float]] = Field(..., description="[[lon, lat], ...]; the answer is their union")
    minutes: list[float] | None = Field(default=None, description="contours in minutes")
    distances_m: list[float] | None = Field(default=None, description="contours in walking metres")
    speed_kmh: float | None = None
    crs: str = "wgs84"
    precision: int | None = Field(default=None, ge=3, le=15, description="decimals of the coordinates")
    simplify_m: float | None = Field(default=None, ge=0, le=50, description="outline simplification, m")


@router.post("/isochrones", responses=answers(mw.Isochrones))
async def isochrones_many(
    body: IsochroneRequest,
    db: Database = Depends(get_db),
    settings: WalkingSettings = Depends(get_walking_settings),
    compute: Compute = Depends(get_compute),
) -> Response:
    """The union of the isochrones of several origins (one multi-source search)."""
    minutes = body.minutes if body.minutes or body.distances_m else [5, 10, 15]

    def answer() -> Response:
        contours = walking.isochrones(
            db,
            body.origins,
            None if body.distances_m else minutes,
            body.speed_kmh,
            body.crs,
            body.distances_m,
            settings,
            simplify_m=body.simplify_m,
            decimals=body.precision,
        )
        return _collection(contours, {"origins": body.origins})

    return await compute(answer)


@router.get("/isochrones/streets", response_model=None, responses=answers(mw.ReachableStreets))
async def reachable_streets(
    lon: float = Query(..., description="origin longitude, degrees"),
    lat: float = Query(..., description="origin latitude, degrees"),
    minutes: float = Query(15, description="walking minutes"),
    speed_kmh: float | None = Query(None, description="walking speed, km/h (default 4.5)"),
    crs: str = Query("wgs84"),
    db: Database = Depends(get_db),
    settings: WalkingSettings = Depends(get_walking_settings),
    compute: Compute = Depends(get_compute),
) -> walking.ReachableStreets:
    """The street pieces reachable within `minutes`, as LineStrings with `from_seconds` and `to_seconds`
    (the walking time at each end): the network itself, with times, rather than an area."""
    return await compute(
        lambda: walking.reachable_streets(db, [[lon, lat]], minutes, speed_kmh, crs, settings)
    )


@router.get("/route", response_model=None, responses=answers(mw.WalkingRoute))
async def route(
    from_: str = Query(..., alias="from", description="start 'lon,lat'"),
    to: str = Query(..., description="end 'lon,lat'"),
    speed_kmh: float | None = Query(None, description="walking speed, km/h (default 4.5)"),
    crs: str = Query("wgs84", description="wgs84, gcj02, bd09 or cgcs2000"),
    db: Database = Depends(get_db),
    settings: WalkingSettings = Depends(get_walking_settings),
    compute: Compute = Depends(get_compute),
) -> Feature:
    """The quickest walking route: a LineString Feature with `walk_seconds` and `distance_m`."""
    start, end = params.lonlat(from_, "from"), params.lonlat(to, "to")
    return await compute(lambda: walking.route(db, start, end, speed_kmh, crs, settings).as_feature())


@router.get("/network", response_model=None, responses=answers(mw.NetworkSummary))
def network(
    db: Database = Depends(get_db), settings: WalkingSettings = Depends(get_walking_settings)
) -> walking.NetworkSummary:
    """The walking network in memory: per dataset its nodes, edges, metric CRS and connected pieces."""
    return walking.network_summary(db, settings)
