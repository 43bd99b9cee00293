"""Life circles: what a point reaches, how well each area's homes are served, and who is left out.

Public interface::

    life_circle(db, ctx, lon, lat, profile=None, crs="wgs84") -> dict    # GET /api/life-circle
    coverage(db, ctx, level="community", profile=None, minutes=None) -> dict   # GET /api/coverage (reads only)
    refresh_coverage_layer(db, ctx, level="community", profile=None) -> int    # background job: area_coverage
    gaps(db, ctx, category, profile=None, minutes=None) -> dict           # GET /api/coverage/gaps

Everything is computed from the current network, facilities, residences and areas, and recomputed when any
of their revisions moves (``data_revisions``): a facility added through the API changes the next answer.
Homes snap onto the network like query points; a home farther than the snapping limit reaches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import h3
import numpy as np

from geo_service import walking
from geo_service.db.cache import RevisionCache
from geo_service.db.pool import Database
from geo_service.db.revisions import watch_of
from geo_service.errors import InvalidInput, NotFound
from geo_service.geojson import Feature
from geo_service.grids.geometry import to_geojson
from geo_service.grids.model import LEVELS
from geo_service.life_circle.answers import (
    CategoryReach,
    Coverage,
    CoverageGaps,
    LevelReach,
    LifeCircle,
    NearestFacility,
    ProfileSummary,
)
from geo_service.life_circle.profiles import Level, Profile, load_profiles
from geo_service.life_circle.reach import Facilities, ReachIndex
from geo_service.locate.service import current_index
from geo_service.osm.rules import FacilityRules
from geo_service.settings import LifeCircleSettings, WalkingSettings
from geo_service.store import facilities as facility_store
from geo_service.store import residences as residence_store
from geo_service.walking import Located, current_network

_EPS = 1e-6  # a facility exactly at the threshold counts as reached (float sums of edge lengths)


@dataclass(frozen=True)
class LifeCircleContext:
    settings: LifeCircleSettings
    walking: WalkingSettings
    profiles: dict[str, Profile]
    labels: dict[str, dict[str, str]]

    @classmethod
    def create(
        cls,
        settings: LifeCircleSettings | None = None,
        walking_cfg: WalkingSettings | None = None,
        facility_rules: FacilityRules | None = None,
    ) -> LifeCircleContext:
        settings = settings or LifeCircleSettings()
        rules = facility_rules or FacilityRules.load(None)
        categories = {c.id for c in rules.categories}
        profiles = load_profiles(settings.profiles_dir, categories)
        if settings.default_profile not in profiles:
            raise ValueError(f"default life-circle profile {settings.default_profile!r} is not defined")
        labels = {c.id: {"zh": c.zh, "en": c.en} for c in rules.categories}
        return cls(settings, walking_cfg or WalkingSettings(), profiles, labels)

    def profile(self, profile_id: str | None) -> Profile:
        pid = profile_id or self.settings.default_profile
        profile = self.profiles.get(pid)
        if profile is None:
            raise InvalidInput("life_circle.unknown_profile", profile=pid, known=sorted(self.profiles))
        return profile


# -- cached state ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Homes:
    id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    households: np.ndarray
    address: list[str | None]
    located: Located


_REVISIONS = ("network", "facilities", "residences", "areas")
_REACH: RevisionCache[ReachIndex] = RevisionCache()
_HOMES: RevisionCache[Homes] = RevisionCache()
_COVERAGE: dict[tuple[str, str, float | None], RevisionCache[_Coverage]] = {}


def _revisions(db: Database) -> dict[str, int]:
    return watch_of(db).revisions(_REVISIONS)


def reach_index(db: Database, ctx: LifeCircleContext, revisions: dict[str, int] | None = None) -> ReachIndex:
    """Facilities on the current network, rebuilt when the network or the facilities change."""
    revisions = revisions or _revisions(db)
    network = current_network(db, ctx.walking)
    key = (network.revision, revisions["facilities"])

    def build() -> ReachIndex:
        with db.cursor(dict_rows=False) as cur:
            rows = facility_store.live(cur)
        return ReachIndex.build(
            key, network, Facilities.from_rows(rows), ctx.walking.max_snap_m, ctx.settings.reach_max_m
        )

    return _REACH.get(db, key, build)


def homes(db: Database, ctx: LifeCircleContext, revisions: dict[str, int] | None = None) -> Homes:
    """Every residence snapped onto the current network (rebuilt when either changes)."""
    revisions = revisions or _revisions(db)
    network = current_network(db, ctx.walking)

    def build() -> Homes:
        with db.cursor(dict_rows=False) as cur:
            rows = residence_store.homes(cur)
        lon = np.array([r[1] for r in rows], float)
        lat = np.array([r[2] for r in rows], float)
        return Homes(
            id=np.array([r[0] for r in rows], np.int64),
            lon=lon,
            lat=lat,
            households=np.array([r[3] for r in rows], float),
            address=[r[4] for r in rows],
            located=network.snap(lon, lat, ctx.walking.max_snap_m),
        )

    return _HOMES.get(db, (network.revision, revisions["residences"]), build)


# -- one point ---------------------------------------------------------------------------------------------


def _seconds(profile: Profile, cost: float, metres: float) -> float:
    return (cost if profile.kind == "time" else metres) / profile.speed_mps


def life_circle(
    db: Database,
    ctx: LifeCircleContext,
    lon: float,
    lat: float,
    profile: str | None = None,
    crs: str | None = "wgs84",
) -> LifeCircle:
    """Per level of the profile, each required category: reached or missing, and the nearest facility
    (reported even beyond the threshold, when one is within the reach limit)."""
    prof = ctx.profile(profile)
    point = walking.wgs84_points([[lon, lat]], crs)
    index = reach_index(db, ctx)
    located = walking.snap_points(index.network, point, ctx.walking)
    fac = index.facilities
    reach = {
        c: index.points(located, c, prof.kind) for c in prof.categories
    }  # once, though levels share some
    levels: list[LevelReach] = []
    for level in prof.levels:
        limit = prof.limit_m(level)
        categories: list[CategoryReach] = []
        for category in level.categories:
            got = reach[category]
            cost, metres, f = float(got.cost[0]), float(got.metres[0]), int(got.facility[0])
            nearest: NearestFacility | None = None
            if f >= 0:
                nearest = {
                    "id": int(fac.id[f]),
                    "name": fac.name[f],
                    "category": category,
                    "lon": round(float(fac.lon[f]), 7),
                    "lat": round(float(fac.lat[f]), 7),
                    "walk_seconds": round(_seconds(prof, cost, metres), 1),
                    "walk_distance_m": round(metres, 1),
                }
            categories.append(
                {
                    "category": category,
                    "label": ctx.labels.get(category),
                    "status": "reached" if f >= 0 and cost <= limit + _EPS else "missing",
                    "nearest": nearest,
                }
            )
        levels.append(
            {
                "minutes": level.minutes,
                "max_distance_m": prof.max_distance_m(level),
                "name": level.name,
                "categories": categories,
            }
        )
    return {
        "profile": prof.id,
        "threshold": prof.threshold,
        "speed_kmh": prof.speed_kmh,
        "lon": float(point[0, 0]),
        "lat": float(point[0, 1]),
        "snap_distance_m": round(float(located.distance_m[0]), 1),
        "levels": levels,
    }


# -- coverage of areas -------------------------------------------------------------------------------------


def _reached_homes(
    db: Database, ctx: LifeCircleContext, prof: Profile, revisions: dict[str, int]
) -> tuple[Homes, dict[tuple[float, str], np.ndarray], dict[str, Any]]:
    """Homes, and per (level minutes, category) a boolean per home: reached within that level's threshold."""
    index = reach_index(db, ctx, revisions)
    home = homes(db, ctx, revisions)
    by_category = {c: index.points(home.located, c, prof.kind) for c in prof.categories}
    reached = {
        (level.minutes, c): by_category[c].cost <= prof.limit_m(level) + _EPS
        for level in prof.levels
        for c in level.categories
    }
    return home, reached, by_category


def _level_of(prof: Profile, minutes: float | None) -> Level | None:
    if minutes is None:
        return None
    for level in prof.levels:
        if abs(level.minutes - minutes) < 1e-9:
            return level
    raise InvalidInput(
        "life_circle.no_such_level",
        profile=prof.id,
        minutes=f"{minutes:g}",
        levels=[f"{lv.minutes:g}" for lv in prof.levels],
    )


def coverage(
    db: Database,
    ctx: LifeCircleContext,
    level: str = "community",
    profile: str | None = None,
    minutes: float | None = None,
) -> Coverage:
    """Every current area of ``level`` with its household-weighted share of homes reaching each category.

    ``categories`` holds, per category, the share within its tightest required threshold (or within the
    ``minutes`` level's when given); ``levels`` holds every level's shares; ``score`` is the mean share over
    every (level, category) the profile requires.
    """
    if level not in LEVELS:
        raise InvalidInput("life_circle.unknown_level", levels=list(LEVELS))
    prof = ctx.profile(profile)
    chosen = _level_of(prof, minutes)
    return _cached_coverage(db, ctx, prof, level, chosen).result


def coverage_revisions(db: Database) -> tuple[int, ...]:
    """The revisions coverage depends on (network, facilities, residences, areas): a background job's trigger."""
    return tuple(_revisions(db).values())


def refresh_coverage_layer(
    db: Database, ctx: LifeCircleContext, level: str = "community", profile: str | None = None
) -> int:
    """Write ``area_coverage`` (what the ``coverage`` map layer draws) for ``profile``'s areas of ``level``;
    returns the rows written. Run by the background job once per change of :func:`coverage_revisions`
    (``geo_service.background``), never by a GET: reads may be served by a read-only standby."""
    prof = ctx.profile(profile)
    computed = _cached_coverage(db, ctx, prof, level, None)
    with db.cursor() as cur:
        facility_store.replace_coverage(cur, prof.id, level, computed.rows)
    return len(computed.rows)


@dataclass(frozen=True)
class _Coverage:
    result: Coverage
    rows: list[tuple[Any, ...]]  # area_coverage rows, for the map layer


def _cached_coverage(
    db: Database, ctx: LifeCircleContext, prof: Profile, level: str, chosen: Level | None
) -> _Coverage:
    revisions = _revisions(db)
    which = (prof.id, level, None if chosen is None else chosen.minutes)
    cache = _COVERAGE.setdefault(which, RevisionCache())
    return cache.get(
        db, tuple(revisions.values()), lambda: _coverage(db, ctx, prof, level, chosen, revisions)
    )


def _coverage(
    db: Database,
    ctx: LifeCircleContext,
    prof: Profile,
    level: str,
    chosen: Level | None,
    revisions: dict[str, int],
) -> _Coverage:
    home, reached, _ = _reached_homes(db, ctx, prof, revisions)
    locate_index = current_index(db)
    level_index = locate_index.levels[level]
    position = locate_index.assign(level, home.lon, home.lat)
    n_areas = len(level_index.infos)
    inside = position >= 0
    weights = home.households
    total = np.bincount(position[inside], weights=weights[inside], minlength=n_areas)
    count = np.bincount(position[inside], minlength=n_areas)
    shares: dict[tuple[float, str], np.ndarray] = {}
    for (lv_minutes, category), ok in reached.items():
        got = np.bincount(position[inside & ok], weights=weights[inside & ok], minlength=n_areas)
        shares[(lv_minutes, category)] = np.divide(got, total, out=np.zeros(n_areas), where=total > 0)
    score = np.mean(np.vstack(list(shares.values())), axis=0) if shares else np.zeros(n_areas)
    features: list[Feature] = []
    rows: list[tuple[Any, ...]] = []
    for i, info in enumerate(level_index.infos):
        per_level = []
        for lv in prof.levels:
            per_level.append(
                {
                    "minutes": lv.minutes,
                    "max_distance_m": prof.max_distance_m(lv),
                    "categories": {c: round(float(shares[(lv.minutes, c)][i]), 4) for c in lv.categories},
                }
            )
            rows.extend(
                (
                    info.code,
                    level,
                    lv.minutes,
                    c,
                    float(total[i]),
                    float(shares[(lv.minutes, c)][i] * total[i]),
                    float(shares[(lv.minutes, c)][i]),
                    float(score[i]),
                )
                for c in lv.categories
            )
        if chosen is not None:
            flat = {c: round(float(shares[(chosen.minutes, c)][i]), 4) for c in chosen.categories}
        else:
            flat = {
                c: round(float(shares[(prof.tightest_level(c).minutes, c)][i]), 4) for c in prof.categories
            }
        features.append(
            {
                "type": "Feature",
                "id": info.code,
                "geometry": to_geojson(level_index.geoms[i]),
                "properties": {
                    "code": info.code,
                    "name": info.name,
                    "level": info.level,
                    "households": round(float(total[i]), 1),
                    "residences": int(count[i]),
                    "score": round(float(score[i]), 4),
                    "categories": flat,
                    "levels": per_level,
                },
            }
        )
    result: Coverage = {
        "type": "FeatureCollection",
        "profile": prof.id,
        "level": level,
        "minutes": None if chosen is None else chosen.minutes,
        "features": features,
    }
    return _Coverage(result, rows)


def gaps(
    db: Database,
    ctx: LifeCircleContext,
    category: str,
    profile: str | None = None,
    minutes: float | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> CoverageGaps:
    """Homes that miss ``category`` within its threshold (its tightest level, or the ``minutes`` level),
    and the H3 cells they fall in with the households left out."""
    prof = ctx.profile(profile)
    if category not in prof.categories:
        raise InvalidInput(
            "life_circle.category_not_required",
            profile=prof.id,
            category=category,
            categories=list(prof.categories),
        )
    chosen = _level_of(prof, minutes)
    if chosen is not None and category not in chosen.categories:
        raise InvalidInput(
            "life_circle.category_not_in_level",
            profile=prof.id,
            minutes=f"{chosen.minutes:g}",
            category=category,
        )
    level = chosen or prof.tightest_level(category)
    revisions = _revisions(db)
    home, reached, by_category = _reached_homes(db, ctx, prof, revisions)
    missing = ~reached[(level.minutes, category)]
    if bbox is not None:
        w, s, e, n = bbox
        missing &= (home.lon >= w) & (home.lon <= e) & (home.lat >= s) & (home.lat <= n)
    idx = np.flatnonzero(missing)
    got = by_category[category]
    features: list[Feature] = []
    for i in idx[: ctx.settings.max_gap_features]:
        metres = float(got.metres[i])
        features.append(
            {
                "type": "Feature",
                "id": f"residence-{int(home.id[i])}",
                "geometry": {
                    "type": "Point",
                    "coordinates": [round(float(home.lon[i]), 7), round(float(home.lat[i]), 7)],
                },
                "properties": {
                    "kind": "residence",
                    "residence_id": int(home.id[i]),
                    "households": round(float(home.households[i]), 1),
                    "address": home.address[i],
                    "on_network": bool(home.located.graph_index[i] >= 0),
                    "nearest_distance_m": round(metres, 1) if np.isfinite(metres) else None,
                },
            }
        )
    resolution = ctx.settings.h3_resolution
    cells: dict[str, list[float]] = {}
    for i in idx:
        cell = h3.latlng_to_cell(float(home.lat[i]), float(home.lon[i]), resolution)
        entry = cells.setdefault(cell, [0.0, 0])
        entry[0] += float(home.households[i])
        entry[1] += 1
    for cell, (households, count) in sorted(cells.items(), key=lambda kv: -kv[1][0]):
        ring = [[round(lng, 7), round(lat, 7)] for lat, lng in h3.cell_to_boundary(cell)]
        features.append(
            {
                "type": "Feature",
                "id": f"h3-{cell}",
                "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
                "properties": {
                    "kind": "h3_cell",
                    "h3": cell,
                    "resolution": resolution,
                    "households": round(households, 1),
                    "residences": int(count),
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "profile": prof.id,
        "category": category,
        "minutes": level.minutes,
        "max_distance_m": prof.max_distance_m(level),
        "households_missing": round(float(home.households[idx].sum()), 1),
        "households_total": round(float(home.households.sum()), 1),
        "residences_missing": int(idx.size),
        "residences_listed": min(int(idx.size), ctx.settings.max_gap_features),
        "features": features,
    }


def profiles(ctx: LifeCircleContext) -> list[ProfileSummary]:
    return [p.summary() for p in ctx.profiles.values()]


def profile_summary(ctx: LifeCircleContext, profile_id: str) -> ProfileSummary:
    if profile_id not in ctx.profiles:
        raise NotFound("life_circle.profile_not_found", profile=profile_id)
    return ctx.profiles[profile_id].summary()
