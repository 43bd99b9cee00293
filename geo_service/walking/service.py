"""Walking: isochrones, routes and travel-time matrices on the current pedestrian network.

Public interface (stations, life circles, siting and the guide map build on it)::

    isochrones(db, origins, minutes, speed_kmh=None, crs="wgs84") -> list[Contour]
    isochrones(db, origins, distances_m=[300, 500, 1000])          # distance contours (no step penalty)
    route(db, start, end, speed_kmh=None, crs="wgs84") -> Route
    travel_matrix(db, sources, targets, max_seconds, speed_kmh=None) -> TravelMatrix

Points are ``(lon, lat)`` in ``crs`` (WGS-84 by default; GCJ-02/BD-09/CGCS2000 are converted with
:mod:`geo_service.coords`). Every point snaps to the nearest point of the nearest walkable edge; one
farther than ``GEO_SERVICE_WALK_MAX_SNAP_M`` (300 m) is refused with :class:`InvalidInput` saying how far it is.
Times are at ``speed_kmh`` on level ground; steps cost ``steps_factor`` times their length.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, cast

import numpy as np
import orjson
import shapely
from shapely.geometry.base import BaseGeometry
from typing_extensions import TypedDict  # pydantic documents these answers on Python 3.11

from geo_service.coords import lonlat_problem, normalise_crs, to_wgs84_arrays
from geo_service.db.pool import Database
from geo_service.errors import InvalidInput
from geo_service.geojson import Feature, FeatureCollection, Geometry
from geo_service.i18n import message
from geo_service.settings import WalkingSettings
from geo_service.walking import paths
from geo_service.walking.geojson import geometry_json
from geo_service.walking.graph import Components, WalkGraph
from geo_service.walking.isochrone import contour_polygons, reached_edges
from geo_service.walking.network import Located, Search, Sources, WalkNetwork, current_network, run_search


class ContourProperties(TypedDict):
    area_m2: float
    minutes: NotRequired[float]  # a time contour
    distance_m: NotRequired[float]  # a distance contour


class RouteProperties(TypedDict):
    walk_seconds: float
    distance_m: float
    minutes: float
    snap_distance_m: list[float]  # start, end: how far each point was from the network


class StreetPiece(TypedDict):
    """A reachable piece of a street: the walking seconds at its two ends."""

    edge_id: int
    name: str | None
    steps: bool
    from_seconds: float
    to_seconds: float


class ReachableStreets(FeatureCollection):
    """Street pieces reachable in time (LineStrings, properties a :class:`StreetPiece`)."""

    minutes: float


class NetworkDataset(TypedDict):
    name: str
    srid: int
    nodes: int
    edges: int
    length_km: float
    steps_edges: int
    components: Components
    bbox: list[float]


class NetworkSummary(TypedDict):
    """The walking network in memory, per dataset."""

    revision: int
    datasets: list[NetworkDataset]


def _mapping(geometry: BaseGeometry) -> Geometry:
    return cast(Geometry, shapely.geometry.mapping(geometry))


@dataclass(frozen=True)
class Contour:
    """One isochrone contour: the area reachable within ``minutes`` (or ``distance_m``).

    ``geometry`` is a (Multi)Polygon in WGS-84 lon/lat with holes kept; ``area_m2`` is measured in the
    network's metric CRS; ``decimals``: what its coordinates are rounded to (None: not rounded).
    """

    minutes: float | None
    distance_m: float | None
    geometry: BaseGeometry
    area_m2: float
    decimals: int | None = None

    def geometry_json(self) -> bytes:
        """The GeoJSON of ``geometry`` as bytes, written straight from its coordinate arrays (the same JSON as
        ``shapely.to_geojson``, a few times faster for rounded outlines)."""
        return geometry_json(self.geometry, self.decimals)

    def properties(self) -> ContourProperties:
        properties: ContourProperties = {"area_m2": round(self.area_m2, 1)}
        if self.minutes is not None:
            properties["minutes"] = self.minutes
        if self.distance_m is not None:
            properties["distance_m"] = self.distance_m
        return properties

    def as_feature(self) -> Feature:
        return {
            "type": "Feature",
            "properties": dict(self.properties()),
            "geometry": _mapping(self.geometry),
        }


def contours_json(contours: Sequence[Contour], extra: dict[str, Any]) -> bytes:
    """The contours as a GeoJSON FeatureCollection with the members ``extra`` first, as bytes: the geometries
    written straight from their coordinate arrays (:meth:`Contour.geometry_json`) rather than turned into
    nested Python tuples first, the same JSON at a fraction of the cost."""
    features = [
        b'{"type":"Feature","properties":'
        + orjson.dumps(c.properties())
        + b',"geometry":'
        + c.geometry_json()
        + b"}"
        for c in contours
    ]
    head = orjson.dumps({"type": "FeatureCollection", **extra})
    return head[:-1] + b',"features":[' + b",".join(features) + b"]}"


@dataclass(frozen=True)
class Route:
    """A walking route: WGS-84 LineString from the snapped start to the snapped end."""

    geometry: shapely.LineString
    walk_seconds: float
    distance_m: float
    snap_distance_m: tuple[float, float]

    def as_feature(self) -> Feature:
        properties: RouteProperties = {
            "walk_seconds": round(self.walk_seconds, 1),
            "distance_m": round(self.distance_m, 1),
            "minutes": round(self.walk_seconds / 60.0, 1),
            "snap_distance_m": [round(d, 1) for d in self.snap_distance_m],
        }
        return {"type": "Feature", "geometry": _mapping(self.geometry), "properties": dict(properties)}


@dataclass(frozen=True)
class TravelMatrix:
    """Sparse walking times: ``seconds[k]`` from source ``rows[k]`` to target ``cols[k]``, only pairs within
    the limit. ``source_snapped``/``target_snapped`` are False for points too far from the network."""

    rows: np.ndarray
    cols: np.ndarray
    seconds: np.ndarray
    n_sources: int
    n_targets: int
    source_snapped: np.ndarray
    target_snapped: np.ndarray


def speed_mps(speed_kmh: float | None, settings: WalkingSettings) -> float:
    """Metres per second for ``speed_kmh`` (the configured default when None), checked against the limits."""
    speed = settings.speed_kmh if speed_kmh is None else float(speed_kmh)
    if not np.isfinite(speed) or not settings.min_speed_kmh <= speed <= settings.max_speed_kmh:
        raise InvalidInput(
            "walking.speed_range",
            low=settings.min_speed_kmh,
            high=settings.max_speed_kmh,
            speed_kmh=str(speed_kmh),
        )
    return speed / 3.6


def wgs84_points(points: Sequence[Sequence[float]], crs: str | None, what: str = "point") -> np.ndarray:
    """``[[lon, lat], ...]`` in ``crs`` → an (n, 2) WGS-84 array; :class:`InvalidInput` naming a bad one."""
    crs = normalise_crs(crs)
    array = np.empty((len(points), 2))
    for i, point in enumerate(points):
        if not isinstance(point, list | tuple | np.ndarray) or len(point) != 2:
            raise InvalidInput(
                "walking.not_a_point", what=message(f"walking.what.{what}"), index=i, point=repr(point)[:100]
            )
        problem = lonlat_problem(point[0], point[1])
        if problem is not None:
            raise InvalidInput(
                "walking.bad_point", what=message(f"walking.what.{what}"), index=i, problem=problem
            )
        array[i] = float(point[0]), float(point[1])
    lon, lat = to_wgs84_arrays(array[:, 0], array[:, 1], crs)
    return np.column_stack([lon, lat])


def _too_far(network: WalkNetwork, lon: float, lat: float, what: str, max_snap_m: float) -> InvalidInput:
    """The 422 for a point too far from every walkable edge (or for no network at all)."""
    distance = network.nearest_edge_distance_m(lon, lat)
    if distance is None:
        return InvalidInput("walking.no_network")
    params: dict[str, Any] = {
        "what": message(f"walking.what.{what}"),
        "lon": f"{lon:.6f}",
        "lat": f"{lat:.6f}",
        "distance_m": f"{distance:,.0f}",
        "max_m": f"{max_snap_m:,.0f}",
    }
    if abs(lon) <= 90:
        swapped = network.nearest_edge_distance_m(lat, lon)
        if swapped is not None and swapped <= max_snap_m:
            return InvalidInput("walking.too_far_swapped", **params)
    return InvalidInput("walking.too_far", **params)


def snap_points(
    network: WalkNetwork,
    lonlat: np.ndarray,
    settings: WalkingSettings,
    what: str = "point",
    require: bool = True,
) -> Located:
    """Snap WGS-84 points; with ``require``, the first one too far from the network is refused (422)."""
    located = network.snap(lonlat[:, 0], lonlat[:, 1], settings.max_snap_m)
    if require:
        missing = np.flatnonzero(located.graph_index < 0)
        if missing.size:
            lon, lat = lonlat[missing[0]]
            raise _too_far(network, float(lon), float(lat), what, settings.max_snap_m)
    return located


def _one_graph(network: WalkNetwork, located: Located) -> WalkGraph:
    graphs = np.unique(located.graph_index)
    if graphs.shape[0] != 1:
        raise InvalidInput("walking.different_networks")
    return network.graphs[int(graphs[0])]


def sources_of(located: Located, which: np.ndarray | None = None) -> Sources:
    """Search sources for (a subset of) snapped points, labelled by their position in ``located``."""
    idx = np.arange(located.edge.shape[0]) if which is None else np.asarray(which)
    return Sources(located.edge[idx], located.frac[idx], idx.astype(np.int64), located.x[idx], located.y[idx])


def _levels(
    minutes: Sequence[float] | None, distances_m: Sequence[float] | None, settings: WalkingSettings
) -> tuple[list[float], str]:
    values = distances_m if distances_m else minutes
    kind = "distance" if distances_m else "time"
    if not values:
        raise InvalidInput("walking.no_contour")
    if len(values) > settings.max_contours:
        raise InvalidInput("walking.too_many_contours", max_contours=settings.max_contours, count=len(values))
    out = []
    for value in values:
        v = float(value)
        upper = (
            settings.max_minutes
            if kind == "time"
            else settings.max_minutes * 60 * settings.max_speed_kmh / 3.6
        )
        if not np.isfinite(v) or v <= 0 or v > upper:
            if kind == "time":
                raise InvalidInput("walking.contour_minutes_range", value=str(value), upper=f"{upper:g}")
            raise InvalidInput("walking.contour_metres_range", value=str(value), upper=f"{upper:g}")
        out.append(v)
    return sorted(set(out)), kind


def isochrones(
    db: Database | WalkNetwork,
    origins: Sequence[Sequence[float]],
    minutes: Sequence[float] | None = None,
    speed_kmh: float | None = None,
    crs: str | None = "wgs84",
    distances_m: Sequence[float] | None = None,
    settings: WalkingSettings | None = None,
    *,
    simplify_m: float | None = None,
    decimals: int | None = None,
) -> list[Contour]:
    """Walking isochrones around ``origins`` (their union), one :class:`Contour` per level, ascending.

    ``minutes`` at ``speed_kmh`` (steps slower), or ``distances_m`` of walking (steps at their length).
    Outlines are simplified by ``simplify_m`` (metres, at most half a raster cell; default a configured
    fraction of it) and coordinates rounded to ``decimals`` (default ``coordinate_decimals``).
    """
    settings = settings or WalkingSettings()
    network = db if isinstance(db, WalkNetwork) else current_network(db, settings)
    if not origins:
        raise InvalidInput("walking.no_origin")
    if len(origins) > settings.max_origins:
        raise InvalidInput("walking.too_many_origins", max_origins=settings.max_origins, count=len(origins))
    levels, kind = _levels(minutes, distances_m, settings)
    speed = speed_mps(speed_kmh, settings)
    lonlat = wgs84_points(origins, crs, "origin")
    located = snap_points(network, lonlat, settings, "origin")
    graph = _one_graph(network, located)
    # time contours search effective metres (steps slower); distance contours search plain metres
    cost_levels = [lv * 60.0 * speed for lv in levels] if kind == "time" else list(levels)
    costs = graph.costs(kind)
    sources = sources_of(located)
    rounded_to = settings.coordinate_decimals if decimals is None else decimals
    with run_search(graph, sources, max(cost_levels), kind=kind) as found:
        edges = reached_edges(
            found.touched, found.n_touched, graph.indptr, graph.adj_edge, found.space.edge_mark, sources.edge
        )
        contours = contour_polygons(
            graph,
            found.dist,
            edges,
            sources.edge,
            sources.frac,
            np.column_stack([sources.x, sources.y]),
            cost_levels,
            settings.cell_m,
            settings.corridor_m,
            settings.max_cells_side,
            edge_cost=costs,
            unproject=graph.unproject,
            simplify_m=simplify_m,
            simplify_cells=settings.simplify_cells,
            decimals=rounded_to,
        )
    return [
        Contour(
            minutes=level if kind == "time" else None,
            distance_m=level if kind == "distance" else None,
            geometry=geom,
            area_m2=area,
            decimals=rounded_to,
        )
        for level, (geom, area) in zip(levels, contours, strict=True)
    ]


def reachable_streets(
    db: Database | WalkNetwork,
    origins: Sequence[Sequence[float]],
    minutes: float,
    speed_kmh: float | None = None,
    crs: str | None = "wgs84",
    settings: WalkingSettings | None = None,
) -> ReachableStreets:
    """The street pieces reachable within ``minutes`` (a GeoJSON FeatureCollection of LineStrings, WGS-84),
    each with the walking seconds at its two ends: the network itself rather than an area around it."""
    settings = settings or WalkingSettings()
    network = db if isinstance(db, WalkNetwork) else current_network(db, settings)
    levels, _ = _levels([minutes], None, settings)
    speed = speed_mps(speed_kmh, settings)
    located = snap_points(network, wgs84_points(origins, crs, "origin"), settings, "origin")
    graph = _one_graph(network, located)
    sources = sources_of(located)
    limit = levels[0] * 60.0 * speed
    features: list[Feature] = []
    with run_search(graph, sources, limit) as found:
        edges = reached_edges(
            found.touched, found.n_touched, graph.indptr, graph.adj_edge, found.space.edge_mark, sources.edge
        )
        for e in edges.tolist():
            for a, b, t_a, t_b in paths.reachable_pieces(found, e, limit):
                coords = paths.edge_slice(graph, e, a, b)
                lon, lat = graph.unproject(coords[:, 0], coords[:, 1])
                piece: StreetPiece = {
                    "edge_id": int(graph.edge_id[e]),
                    "name": graph.edge_name[e],
                    "steps": bool(graph.edge_steps[e]),
                    "from_seconds": round(t_a / speed, 1),
                    "to_seconds": round(t_b / speed, 1),
                }
                features.append(
                    {
                        "type": "Feature",
                        "id": f"{int(graph.edge_id[e])}:{a:.3f}",
                        "geometry": {
                            "type": "LineString",
                            "coordinates": np.round(np.column_stack([lon, lat]), 7).tolist(),
                        },
                        "properties": dict(piece),
                    }
                )
    return {"type": "FeatureCollection", "minutes": levels[0], "features": features}


def route(
    db: Database | WalkNetwork,
    start: Sequence[float],
    end: Sequence[float],
    speed_kmh: float | None = None,
    crs: str | None = "wgs84",
    settings: WalkingSettings | None = None,
) -> Route:
    """The quickest walking route from ``start`` to ``end`` (422 when there is none within the limit)."""
    settings = settings or WalkingSettings()
    network = db if isinstance(db, WalkNetwork) else current_network(db, settings)
    speed = speed_mps(speed_kmh, settings)
    lonlat = wgs84_points([start, end], crs)
    located = snap_points(network, lonlat, settings)
    graph = _one_graph(network, located)
    src, dst = sources_of(located, np.array([0])), sources_of(located, np.array([1]))
    e = int(dst.edge[0])
    goal = np.array([graph.edge_u[e], graph.edge_v[e]])
    with run_search(graph, src, settings.max_route_km * 1000.0 * 10, goal=goal) as found:
        best = paths.best_arrival(found, dst.edge, dst.frac)
        if not np.isfinite(best.cost[0]):
            raise InvalidInput("walking.no_route")
        coords, metres = paths.path_to(found, int(dst.edge[0]), float(dst.frac[0]), best, 0)
    line = shapely.LineString(np.column_stack(graph.unproject(coords[:, 0], coords[:, 1])))
    return Route(
        line,
        float(best.cost[0]) / speed,
        metres,
        (float(located.distance_m[0]), float(located.distance_m[1])),
    )


def travel_matrix(
    db: Database | WalkNetwork,
    sources: np.ndarray,
    targets: np.ndarray,
    max_seconds: float,
    speed_kmh: float | None = None,
    settings: WalkingSettings | None = None,
) -> TravelMatrix:
    """Walking seconds from every source to every target within ``max_seconds`` (bounded searches, one per
    source). ``sources``/``targets`` are (n, 2) WGS-84 lon/lat arrays; points too far from the network are
    flagged, not refused."""
    settings = settings or WalkingSettings()
    network = db if isinstance(db, WalkNetwork) else current_network(db, settings)
    sources = np.asarray(sources, float).reshape(-1, 2)
    targets = np.asarray(targets, float).reshape(-1, 2)
    if sources.shape[0] * targets.shape[0] > settings.matrix_max_pairs:
        raise InvalidInput("walking.matrix_too_large", max_pairs=f"{settings.matrix_max_pairs:,}")
    if not np.isfinite(max_seconds) or max_seconds <= 0:
        raise InvalidInput("walking.max_seconds_positive")
    speed = speed_mps(speed_kmh, settings)
    src = snap_points(network, sources, settings, require=False)
    dst = snap_points(network, targets, settings, require=False)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    secs: list[np.ndarray] = []
    limit = float(max_seconds) * speed
    for gi, graph in enumerate(network.graphs):
        target_idx = np.flatnonzero(dst.graph_index == gi)
        source_idx = np.flatnonzero(src.graph_index == gi)
        if not target_idx.size or not source_idx.size:
            continue
        t_edge, t_frac = dst.edge[target_idx], dst.frac[target_idx]
        for i in source_idx:
            with run_search(graph, sources_of(src, np.array([i])), limit) as found:
                cost = paths.best_arrival(found, t_edge, t_frac).cost
            hit = np.flatnonzero(cost <= limit)
            rows.append(np.full(hit.shape[0], i, np.int64))
            cols.append(target_idx[hit])
            secs.append(cost[hit] / speed)
    cat = lambda parts, dtype: np.concatenate(parts) if parts else np.empty(0, dtype)  # noqa: E731
    return TravelMatrix(
        cat(rows, np.int64),
        cat(cols, np.int64),
        cat(secs, float),
        sources.shape[0],
        targets.shape[0],
        src.graph_index >= 0,
        dst.graph_index >= 0,
    )


def network_summary(db: Database | WalkNetwork, settings: WalkingSettings | None = None) -> NetworkSummary:
    """Per dataset: nodes, edges, total metres, metric CRS and connected pieces (kept, never dropped)."""
    network = db if isinstance(db, WalkNetwork) else current_network(db, settings)
    return {
        "revision": network.revision,
        "datasets": [
            {
                "name": g.name,
                "srid": g.srid,
                "nodes": g.n_nodes,
                "edges": g.n_edges,
                "length_km": round(float(g.edge_len_m.sum()) / 1000.0, 3),
                "steps_edges": int(g.edge_steps.sum()),
                "components": g.components,
                "bbox": list(g.bbox),
            }
            for g in network.graphs
        ],
    }


__all__ = ["Contour", "Route", "Search", "TravelMatrix", "isochrones", "route", "travel_matrix"]
