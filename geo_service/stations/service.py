"""Rest stations: validated writes with versions, reads, service circles and the nearest open station.

Writes check everything before touching the database (422 naming the problem, nothing written): a GeoJSON
Point Feature, a known ``kind`` and ``amenities`` from the vocabulary, ``opening_hours`` in OpenStreetMap
syntax. Each write bumps ``version`` (the ETag); an ``If-Match`` naming an older version gets 412. The
station's service circles (5/10/15 walking minutes) are drawn in the same transaction.

The nearest search runs **one** bounded walk from the caller and reads the walking time of every candidate
station from it (:func:`nearest_stations`), so the ranking is by exact network time, not distance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, NotRequired
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from pydantic import Field
from typing_extensions import TypedDict  # pydantic documents the answers on Python 3.11

from geo_service import feature_input, walking
from geo_service.auth import Principal
from geo_service.clock import Clock
from geo_service.db.cache import RevisionCache
from geo_service.db.pool import Database
from geo_service.db.revisions import watch_of
from geo_service.errors import InvalidInput, NotFound
from geo_service.feature_input import feature_properties
from geo_service.geojson import Feature, FeatureCollection, Geometry
from geo_service.stations import hours, inspections
from geo_service.stations.context import StationContext
from geo_service.store import audit
from geo_service.store import stations as store
from geo_service.store.stations import StationRow
from geo_service.walking import WalkNetwork, current_network, run_search

_TEXT_FIELDS = {"manager": 200, "contact": 200, "address": 500}
_RESERVED = {
    "id",
    "version",
    "created_at",
    "updated_at",
    "updated_by",
    "walk_seconds",
    "walk_distance_m",
    "open_now",
    "route",
    "minutes",
    "lon",
    "lat",
    "last_inspection",
}


class NearestOrigin(TypedDict):
    lon: float
    lat: float
    snapped: Annotated[list[float], Field(description="[lon, lat] of the point on the walking network")]
    snap_distance_m: float


class NearestStations(FeatureCollection):
    """Stations ordered by walking time, each with ``walk_seconds``, ``walk_distance_m``, ``minutes``,
    ``open_now`` (and ``route``, a LineString, when asked)."""

    origin: NearestOrigin
    at: Annotated[str, Field(description="ISO 8601 instant open_now refers to")]
    searched_minutes: float


class Walk(TypedDict):
    """What a nearest station's properties add: the walk to it, and whether it is open at the time asked."""

    walk_seconds: float
    walk_distance_m: float
    minutes: float
    open_now: bool | None
    route: NotRequired[Geometry]  # a LineString, when asked


# -- validation --------------------------------------------------------------------------------------------


def validate(
    ctx: StationContext, feature: Any, crs: str | None, current: StationRow | None = None
) -> tuple[store.StationFields, tuple[float, float]]:
    """A station Feature → (fields for the store, WGS-84 point). With ``current`` (an update), omitted
    properties and geometry keep their values."""
    props = feature_properties(feature, "station")
    if current is not None:
        merged = {k: current.get(k) for k in ("name", "kind", "amenities", "opening_hours", *_TEXT_FIELDS)}
        merged.update(current.get("properties") or {})
        merged.update(props)
        props = merged
    if feature.get("geometry") is None and current is not None:
        point = (float(current["lon"]), float(current["lat"]))
    else:
        point = feature_input.point(feature.get("geometry"), crs)
    name = feature_input.text(props, "name", 200)
    if not name:
        raise InvalidInput("station.name_required")
    kind = props.get("kind")
    if kind not in ctx.vocabulary.kinds:
        raise InvalidInput("station.unknown_kind", kind=str(kind), kinds=list(ctx.vocabulary.kinds))
    amenities = props.get("amenities") or []
    if isinstance(amenities, str):
        amenities = [a.strip() for a in amenities.split(",") if a.strip()]
    if not isinstance(amenities, list) or not all(isinstance(a, str) for a in amenities):
        raise InvalidInput("station.amenities_not_a_list")
    unknown = sorted(set(amenities) - set(ctx.vocabulary.amenities))
    if unknown:
        raise InvalidInput("station.unknown_amenities", unknown=unknown)
    known = {"name", "kind", "amenities", "opening_hours", *_TEXT_FIELDS, *_RESERVED}
    fields = store.StationFields(
        name=name,
        kind=kind,
        amenities=sorted(set(amenities), key=list(ctx.vocabulary.amenities).index),
        opening_hours=hours.check(props.get("opening_hours")),
        manager=feature_input.text(props, "manager", _TEXT_FIELDS["manager"]),
        contact=feature_input.text(props, "contact", _TEXT_FIELDS["contact"]),
        address=feature_input.text(props, "address", _TEXT_FIELDS["address"]),
        properties={k: v for k, v in props.items() if k not in known},
    )
    return fields, point


# -- rendering ---------------------------------------------------------------------------------------------


def as_feature(ctx: StationContext, row: StationRow, extra: Mapping[str, object] | None = None) -> Feature:
    kind = ctx.vocabulary.kinds.get(row["kind"])
    properties = {
        "id": row["id"],
        "name": row["name"],
        "kind": row["kind"],
        "kind_name": {"zh": kind.name_zh, "en": kind.name_en} if kind else None,
        "amenities": list(row["amenities"] or []),
        "opening_hours": row["opening_hours"],
        "manager": row["manager"],
        "contact": row["contact"],
        "address": row["address"],
        "version": row["version"],
        "updated_at": row["updated_at"].isoformat() if row.get("updated_at") else None,
        **(row.get("properties") or {}),
        **(extra or {}),
    }
    return {
        "type": "Feature",
        "id": row["id"],
        "geometry": {"type": "Point", "coordinates": [round(row["lon"], 7), round(row["lat"], 7)]},
        "properties": properties,
    }


# -- writes ------------------------------------------------------------------------------------------------


def _circles(
    ctx: StationContext, network: WalkNetwork, lon: float, lat: float
) -> list[tuple[float, float, float, bytes]]:
    """The service circles of a station at (lon, lat); none when it is too far from the network."""
    speed = ctx.walking.speed_kmh
    try:
        contours = walking.isochrones(
            network, [[lon, lat]], ctx.settings.circle_minutes, speed, "wgs84", settings=ctx.walking
        )
    except InvalidInput:
        return []
    return [(float(c.minutes or 0), speed, c.area_m2, shapely.to_wkb(c.geometry)) for c in contours]


def create_station(
    db: Database, ctx: StationContext, feature: Any, principal: Principal, crs: str | None = None
) -> Feature:
    fields, (lon, lat) = validate(ctx, feature, crs)
    network = current_network(db, ctx.walking)
    circles = _circles(ctx, network, lon, lat)
    with db.cursor() as cur:
        row = store.insert(cur, fields, lon, lat, principal.actor)
        store.replace_circles(cur, row["id"], row["version"], network.revision, circles)
        audit.record(
            cur,
            actor=principal.actor,
            role=principal.role,
            action="create",
            entity="station",
            entity_id=row["id"],
            detail={"name": row["name"], "kind": row["kind"]},
        )
    return as_feature(ctx, row, {"service_circles": len(circles)})


def update_station(
    db: Database,
    ctx: StationContext,
    station_id: int,
    feature: Any,
    principal: Principal,
    if_match: int | None = None,
    crs: str | None = None,
) -> Feature:
    network = current_network(db, ctx.walking)
    asked = feature_input.version_asked(feature, if_match)
    with db.cursor() as cur:
        current = store.get(cur, station_id, for_update=True)
        if current is None:
            raise NotFound("station.not_found", station_id=station_id)
        feature_input.check_version(current, asked, "station")
        fields, (lon, lat) = validate(ctx, feature, crs, current)
        row = store.update(cur, station_id, fields, lon, lat, principal.actor)
        store.replace_circles(
            cur, station_id, row["version"], network.revision, _circles(ctx, network, lon, lat)
        )
        audit.record(
            cur,
            actor=principal.actor,
            role=principal.role,
            action="update",
            entity="station",
            entity_id=station_id,
            detail={"version": row["version"]},
        )
    return as_feature(ctx, row)


def delete_station(db: Database, station_id: int, principal: Principal, if_match: int | None = None) -> None:
    with db.cursor() as cur:
        current = store.get(cur, station_id, for_update=True)
        if current is None:
            raise NotFound("station.not_found", station_id=station_id)
        feature_input.check_version(current, if_match, "station")
        store.delete(cur, station_id)
        audit.record(
            cur,
            actor=principal.actor,
            role=principal.role,
            action="delete",
            entity="station",
            entity_id=station_id,
            detail={"name": current["name"], "version": current["version"]},
        )


def refresh_service_circles(db: Database, ctx: StationContext) -> int:
    """Redraw every station's circles that are missing or stale (another network revision, station version,
    contour set or speed); returns how many stations were redrawn."""
    network = current_network(db, ctx.walking)
    with db.cursor() as cur:
        stale = store.stale_circle_stations(
            cur, network.revision, ctx.settings.circle_minutes, ctx.walking.speed_kmh
        )
    for row in stale:
        circles = _circles(ctx, network, row["lon"], row["lat"])
        with db.cursor() as cur:
            current = store.get(cur, row["id"], for_update=True)
            if current is not None and current["version"] == row["version"]:
                store.replace_circles(cur, row["id"], row["version"], network.revision, circles)
    return len(stale)


# -- reads -------------------------------------------------------------------------------------------------


def get_station(db: Database, ctx: StationContext, station_id: int) -> Feature:
    with db.cursor() as cur:
        row = store.get(cur, station_id)
        if row is None:
            raise NotFound("station.not_found", station_id=station_id)
        circles = store.circles(cur, station_id)
    return as_feature(
        ctx,
        row,
        {
            "service_circles": [
                {"minutes": c["minutes"], "area_m2": round(c["area_m2"], 1)} for c in circles
            ],
            "last_inspection": inspections.last_inspections(db, [station_id]).get(station_id),
        },
    )


def list_stations(
    db: Database,
    ctx: StationContext,
    kind: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> FeatureCollection:
    with db.cursor() as cur:
        rows = store.list_stations(cur, kind, bbox, ctx.settings.max_stations_listed)
    return {
        "type": "FeatureCollection",
        "features": _with_last_inspection(db, [as_feature(ctx, r) for r in rows]),
    }


def _with_last_inspection(db: Database, features: list[Feature]) -> list[Feature]:
    """Each station's last regular inspection (public part: when, open as published, what was missing)."""
    last = inspections.last_inspections(db, [int(f["properties"]["id"]) for f in features])
    for f in features:
        f["properties"]["last_inspection"] = last.get(int(f["properties"]["id"]))
    return features


def service_circles(db: Database, station_id: int) -> FeatureCollection:
    with db.cursor() as cur:
        if store.get(cur, station_id) is None:
            raise NotFound("station.not_found", station_id=station_id)
        rows = store.circles(cur, station_id)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": r["geometry"],
                "properties": {
                    "station_id": r["station_id"],
                    "minutes": r["minutes"],
                    "area_m2": round(r["area_m2"], 1),
                    "speed_kmh": r["speed_kmh"],
                    "network_revision": r["network_revision"],
                },
            }
            for r in rows
        ],
    }


@dataclass(frozen=True)
class _StationIndex:
    """Every station snapped onto the network, for one (stations, network) revision pair."""

    key: tuple[int, int]
    rows: list[StationRow]
    graph_index: np.ndarray
    edge: np.ndarray
    frac: np.ndarray


_INDEX: RevisionCache[_StationIndex] = RevisionCache()


def _station_index(db: Database, ctx: StationContext, network: WalkNetwork) -> _StationIndex:
    key = (watch_of(db).revision("stations"), network.revision)

    def build() -> _StationIndex:
        with db.cursor() as cur:
            rows = store.list_stations(cur, limit=10_000_000)
        lonlat = np.array([[r["lon"], r["lat"]] for r in rows], float).reshape(-1, 2)
        located = network.snap(lonlat[:, 0], lonlat[:, 1], ctx.walking.max_snap_m)
        return _StationIndex(key, rows, located.graph_index, located.edge, located.frac)

    return _INDEX.get(db, key, build)


def _parse_at(at: str | datetime | None, timezone: str, clock: Clock) -> datetime:
    zone = ZoneInfo(timezone)
    if at is None or at == "":
        return clock().astimezone(zone)
    if isinstance(at, datetime):
        moment = at
    else:
        try:
            moment = datetime.fromisoformat(str(at).replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput("station.bad_time", at=str(at)) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def nearest_stations(
    db: Database,
    ctx: StationContext,
    lon: float,
    lat: float,
    *,
    limit: int = 5,
    open_now: bool = False,
    amenities: list[str] | None = None,
    max_minutes: float | None = None,
    at: str | datetime | None = None,
    include_route: bool = False,
    speed_kmh: float | None = None,
    kind: list[str] | None = None,
    crs: str | None = "wgs84",
) -> NearestStations:
    """Stations ordered by walking time from (lon, lat), with ``walk_seconds`` and ``walk_distance_m``.

    ``open_now`` keeps stations whose opening hours say open at ``at`` (default now, in the deployment's
    zone; unknown hours are left out); ``amenities`` keeps stations offering all of them; ``max_minutes``
    bounds the walk (default ``GEO_SERVICE_WALK_NEAREST_MAX_MINUTES``).
    """
    wset = ctx.walking
    if not 1 <= limit <= wset.nearest_max_limit:
        raise InvalidInput("station.limit_range", max_limit=wset.nearest_max_limit)
    wanted = set(amenities or [])
    unknown = sorted(wanted - set(ctx.vocabulary.amenities))
    if unknown:
        raise InvalidInput("station.unknown_amenities", unknown=unknown)
    kinds = set(kind or [])
    if kinds - set(ctx.vocabulary.kinds):
        raise InvalidInput("station.unknown_kinds", unknown=sorted(kinds - set(ctx.vocabulary.kinds)))
    horizon = wset.nearest_max_minutes if max_minutes is None else float(max_minutes)
    if not np.isfinite(horizon) or not 0 < horizon <= wset.max_minutes:
        raise InvalidInput("station.max_minutes_range", max_minutes=f"{wset.max_minutes:g}")
    moment = _parse_at(at, ctx.timezone, ctx.clock)
    speed = walking.speed_mps(speed_kmh, wset)
    network = current_network(db, wset)
    origin = walking.wgs84_points([[lon, lat]], crs, "point")
    located = walking.snap_points(network, origin, wset, "point")
    gi = int(located.graph_index[0])
    graph = network.graphs[gi]
    index = _station_index(db, ctx, network)

    candidates = [
        i
        for i, row in enumerate(index.rows)
        if index.graph_index[i] == gi
        and wanted <= set(row["amenities"] or [])
        and (not kinds or row["kind"] in kinds)
    ]
    state = {
        i: hours.is_open(index.rows[i]["opening_hours"], moment, ctx.timezone, ctx.settings.country)
        for i in candidates
    }
    if open_now:
        candidates = [i for i in candidates if state[i] is True]
    features: list[Feature] = []
    cand = np.array(candidates, np.int64)
    limit_cost = horizon * 60.0 * speed
    with run_search(graph, walking.sources_of(located), limit_cost) as found:
        arrival = walking.best_arrival(found, index.edge[cand], index.frac[cand]) if cand.size else None
        if arrival is not None:
            order = np.argsort(arrival.cost, kind="stable")
            for j in order[:limit]:
                if not arrival.cost[j] <= limit_cost:
                    break
                row = index.rows[int(cand[j])]
                extra = Walk(
                    walk_seconds=round(float(arrival.cost[j]) / speed, 1),
                    walk_distance_m=round(float(arrival.metres[j]), 1),
                    minutes=round(float(arrival.cost[j]) / speed / 60.0, 1),
                    open_now=state[int(cand[j])],
                )
                if include_route:
                    coords, _ = walking.path_to(
                        found, int(index.edge[cand[j]]), float(index.frac[cand[j]]), arrival, int(j)
                    )
                    lons, lats = graph.unproject(coords[:, 0], coords[:, 1])
                    extra["route"] = {
                        "type": "LineString",
                        "coordinates": np.round(np.column_stack([lons, lats]), 7).tolist(),
                    }
                features.append(as_feature(ctx, row, extra))
    _with_last_inspection(db, features)
    snapped_lon, snapped_lat = graph.unproject(located.x, located.y)
    return {
        "type": "FeatureCollection",
        "features": features,
        "origin": NearestOrigin(
            lon=float(origin[0, 0]),
            lat=float(origin[0, 1]),
            snapped=[round(float(snapped_lon[0]), 7), round(float(snapped_lat[0]), 7)],
            snap_distance_m=round(float(located.distance_m[0]), 1),
        ),
        "at": moment.isoformat(),
        "searched_minutes": horizon,
    }
