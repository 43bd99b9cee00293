"""Life circles over HTTP: one point's answer, profiles, area coverage and gaps (all public reads)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from geo_service.api import params
from geo_service.api.deps import get_db
from geo_service.api.models import life_circle as ml
from geo_service.api.openapi import answers
from geo_service.db.pool import Database
from geo_service.life_circle import service
from geo_service.life_circle.answers import Coverage, CoverageGaps, LifeCircle, ProfileSummary
from geo_service.life_circle.service import LifeCircleContext

router = APIRouter(prefix="/api", tags=["life circles"])


async def life_circle_context(request: Request) -> LifeCircleContext:
    return request.app.state.life_circle_context


Ctx = Annotated[LifeCircleContext, Depends(life_circle_context)]


@router.get("/life-circle", response_model=None, responses=answers(ml.LifeCircle))
def life_circle(
    ctx: Ctx,
    lon: float = Query(..., description="longitude, degrees"),
    lat: float = Query(..., description="latitude, degrees"),
    profile: str | None = Query(None, description="gb50180 (default), walk45, elderly, or your own"),
    crs: str = Query("wgs84"),
    db: Database = Depends(get_db),
) -> LifeCircle:
    """Per level (5/10/15 minutes), each required category `reached` or `missing`, with the nearest facility
    (even beyond the threshold) and its walking time and distance along the network."""
    return service.life_circle(db, ctx, lon, lat, profile, crs)


@router.get("/life-circle/profiles", response_model=None, responses=answers(ml.Profiles))
def profiles(ctx: Ctx) -> list[ProfileSummary]:
    """Every profile with its levels, thresholds and required categories."""
    return service.profiles(ctx)


@router.get("/life-circle/profiles/{profile_id}", response_model=None, responses=answers(ml.ProfileSummary))
def profile(ctx: Ctx, profile_id: str) -> ProfileSummary:
    return service.profile_summary(ctx, profile_id)


@router.get("/coverage", response_model=None, responses=answers(ml.Coverage))
async def coverage(
    ctx: Ctx,
    level: str = Query("community", description="district, street, community or grid"),
    profile: str | None = Query(None),
    minutes: float | None = Query(
        None, description="one level of the profile (default: each category at its tightest)"
    ),
    db: Database = Depends(get_db),
) -> Coverage:
    """Every area of `level` with the household-weighted share of its homes reaching each category."""
    return await run_in_threadpool(service.coverage, db, ctx, level, profile, minutes)


@router.get("/coverage/gaps", response_model=None, responses=answers(ml.CoverageGaps))
async def coverage_gaps(
    ctx: Ctx,
    category: str = Query(..., description="a facility category the profile requires"),
    profile: str | None = Query(None),
    minutes: float | None = Query(None),
    bbox: str | None = Query(None, description="minlon,minlat,maxlon,maxlat"),
    db: Database = Depends(get_db),
) -> CoverageGaps:
    """Homes that miss the category within its threshold, and the H3 cells they fall in."""
    return await run_in_threadpool(service.gaps, db, ctx, category, profile, minutes, params.bbox(bbox))
