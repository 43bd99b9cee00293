"""Geometry engine for areas: GeoJSON parsing with clear problems, metric projection, and edge snapping.

Storage and overlays work in WGS-84 degrees (so shared vertices stay bit-identical to what is stored);
lengths and areas are measured after projecting to the metric CRS of the place
(:func:`geo_service.crs.metric_epsg`: UTM, or CGCS2000 Gauss–Krüger inside China).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from geo_service.coords import lonlat_message
from geo_service.crs import metres_per_degree
from geo_service.crs import metric_epsg_for as metric_epsg_for  # moved to crs; kept for code written before
from geo_service.geojson import Geometry
from geo_service.i18n import Message, message

if TYPE_CHECKING:
    from scipy.spatial import cKDTree

# WGS-84 ellipsoid, for metres per degree near a latitude.
# A vertex or edge this close to a reference boundary lies on it (floating point puts a point on a diagonal
# edge up to ~1e-9 m off): it is shared with that neighbour and snapping leaves it there.
_ON_EDGE_M = 1e-6
_REASON = re.compile(r"^(?P<reason>.*?)\[(?P<x>[-+\deE.naif]+) (?P<y>[-+\deE.naif]+)\]")


class GeometryProblem(ValueError):
    """A geometry that cannot be used: a stable ``problem`` id, a catalogue ``message`` and an optional WGS-84
    location (lon, lat)."""

    def __init__(self, problem: str, message: Message, location: tuple[float, float] | None = None) -> None:
        super().__init__(str(message))
        self.problem = problem
        self.message = message
        self.location = location


# -- GeoJSON in ---------------------------------------------------------------------------------------------


def count_positions(geometry: Any) -> int:
    """How many positions a GeoJSON Polygon / MultiPolygon dict holds (malformed parts count as found). A
    cheap walk over the coordinate lists, so vertex limits are checked before any array or shape is built."""
    if not isinstance(geometry, dict):
        return 0
    coords = geometry.get("coordinates")
    depth = 2 if geometry.get("type") == "MultiPolygon" else 1
    level = [coords]
    for _ in range(depth):  # down to the rings: lists of positions
        level = [child for item in level if isinstance(item, list) for child in item]
    return sum(len(ring) for ring in level if isinstance(ring, list))


def _where(polygon: int | None, ring: int) -> Message:
    if polygon is None:
        return message("grid.where.ring", ring=ring)
    return message("grid.where.part_ring", part=polygon, ring=ring)


def _ring(coords: Any, where: Message) -> np.ndarray:
    if not isinstance(coords, list | tuple) or len(coords) == 0:
        raise GeometryProblem("invalid_geometry", message("grid.invalid_geometry.ring_not_list", where=where))
    try:
        array = np.array([[_number(p[0]), _number(p[1])] for p in coords], dtype=np.float64)
    except (TypeError, ValueError, IndexError, KeyError, OverflowError):
        raise GeometryProblem(
            "invalid_geometry", message("grid.invalid_geometry.positions", where=where)
        ) from None
    bad = ~(np.isfinite(array).all(axis=1) & (np.abs(array[:, 0]) <= 180) & (np.abs(array[:, 1]) <= 90))
    if bad.any():
        lon, lat = array[int(np.argmax(bad))]
        reason = lonlat_message(lon, lat)
        location = (lon, lat) if math.isfinite(lon) and math.isfinite(lat) else None
        raise GeometryProblem(
            "invalid_coordinates", message("grid.invalid_coordinates", where=where, reason=reason), location
        )
    if len(array) < 4:
        raise GeometryProblem(
            "invalid_ring",
            message("grid.invalid_ring.too_short", where=where),
            tuple(array[0]) if len(array) else None,
        )
    if not np.array_equal(array[0], array[-1]):
        raise GeometryProblem(
            "invalid_ring", message("grid.invalid_ring.not_closed", where=where), tuple(array[0])
        )
    return array


def _number(value: Any) -> float:
    """A JSON number as float; booleans and text are not coordinates."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError("not a number")
    return float(value)


def _polygon(rings: Any, part: int | None) -> shapely.Polygon:
    if not isinstance(rings, list | tuple) or len(rings) == 0:
        where = message("grid.where.polygon") if part is None else message("grid.where.part", part=part)
        raise GeometryProblem("invalid_geometry", message("grid.invalid_geometry.no_ring", where=where))
    arrays = [_ring(r, _where(part, i)) for i, r in enumerate(rings)]
    return shapely.Polygon(arrays[0], arrays[1:])


def parse_polygonal(geometry: Any, max_vertices: int | None = None) -> shapely.MultiPolygon:
    """A GeoJSON Polygon or MultiPolygon (WGS-84 lon/lat) as a shapely MultiPolygon.

    Raises
    ------
    GeometryProblem
        Wrong type, malformed positions, NaN / out-of-range / swapped coordinates, unclosed or short rings,
        more than ``max_vertices`` positions (counted before any array is built). Self-intersections are
        *not* raised here: :func:`validity_problem` locates them.
    """
    if isinstance(geometry, str):
        try:
            geometry = json.loads(geometry)
        except (ValueError, RecursionError):
            raise GeometryProblem("invalid_geometry", message("grid.invalid_geometry.json")) from None
    if not isinstance(geometry, dict):
        raise GeometryProblem("invalid_geometry", message("grid.invalid_geometry.not_object"))
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind in ("Polygon", "MultiPolygon") and max_vertices is not None:
        count = count_positions(geometry)
        if count > max_vertices:
            raise GeometryProblem(
                "too_many_vertices", message("grid.too_many_vertices", count=count, limit=max_vertices)
            )
    if kind == "Polygon":
        return shapely.MultiPolygon([_polygon(coords, None)])
    if kind == "MultiPolygon":
        if not isinstance(coords, list | tuple) or len(coords) == 0:
            raise GeometryProblem("invalid_geometry", message("grid.invalid_geometry.empty_multipolygon"))
        return shapely.MultiPolygon([_polygon(p, i) for i, p in enumerate(coords)])
    raise GeometryProblem("invalid_geometry", message("grid.invalid_geometry", kind=str(kind)[:40]))


def as_multipolygon(geom: BaseGeometry) -> shapely.MultiPolygon:
    """Polygonal parts of ``geom`` as one MultiPolygon (lines and points from overlays are dropped)."""
    if isinstance(geom, shapely.MultiPolygon):
        return geom
    if isinstance(geom, shapely.Polygon):
        return shapely.MultiPolygon([geom]) if not geom.is_empty else shapely.MultiPolygon()
    parts = [g for g in shapely.get_parts(geom) if isinstance(g, shapely.Polygon | shapely.MultiPolygon)]
    polys: list[shapely.Polygon] = []
    for part in parts:
        polys.extend(shapely.get_parts(part) if isinstance(part, shapely.MultiPolygon) else [part])
    return shapely.MultiPolygon([p for p in polys if not p.is_empty])


# GEOS's reasons for an invalid polygon → our message codes (anything else keeps GEOS's English text).
_GEOS_REASONS = {
    "Too few points": "grid.invalid_ring.too_few_points",
    "Hole lies outside shell": "grid.invalid_ring.hole_outside",
    "Holes are nested": "grid.invalid_ring.nested_holes",
    "Interior is disconnected": "grid.invalid_ring.disconnected_interior",
    "Nested shells": "grid.invalid_ring.nested_shells",
    "Duplicate Rings": "grid.invalid_ring.duplicate_rings",
    "Invalid Coordinate": "grid.invalid_ring.invalid_coordinate",
}


def validity_problem(geom: BaseGeometry) -> GeometryProblem | None:
    """Why ``geom`` is not a valid polygon, with the WGS-84 location GEOS reports, or None when valid."""
    if shapely.is_valid(geom):
        return None
    reason = shapely.is_valid_reason(geom)
    match = _REASON.match(reason)
    location = None
    text = reason
    if match:
        text = match.group("reason")
        try:
            location = (float(match.group("x")), float(match.group("y")))
        except ValueError:
            location = None
    text = text.strip()
    if "Self-intersection" in text:
        if location is None:
            return GeometryProblem("self_intersection", message("grid.self_intersection.unlocated"))
        return GeometryProblem(
            "self_intersection",
            message("grid.self_intersection", lon=f"{location[0]:.7f}", lat=f"{location[1]:.7f}"),
            location,
        )
    code = _GEOS_REASONS.get(text)
    if code is not None:
        return GeometryProblem("invalid_ring", message(code), location)
    return GeometryProblem("invalid_ring", message("grid.invalid_ring", reason=text[:200]), location)


# -- metric projection --------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _transformer(epsg: int, inverse: bool = False) -> Transformer:
    if inverse:
        return Transformer.from_crs(epsg, 4326, always_xy=True)
    return Transformer.from_crs(4326, epsg, always_xy=True)


def to_metric(geoms: Any, epsg: int) -> Any:
    """WGS-84 geometry (or array of them) projected to ``epsg`` (metres)."""
    transformer = _transformer(epsg)

    def project(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, project)


def area_m2(geoms: Any, epsg: int) -> Any:
    return shapely.area(to_metric(geoms, epsg))


# -- snapping -----------------------------------------------------------------------------------------------


def _project_on_segments(
    px: np.ndarray, py: np.ndarray, seg: np.ndarray, kx: float, ky: float
) -> tuple[np.ndarray, np.ndarray]:
    """For points × segments (broadcast), the parameter t ∈ [0, 1] of the nearest point and its distance (m)."""
    ax, ay, bx, by = (seg[..., i] for i in range(4))
    dx, dy = (bx - ax) * kx, (by - ay) * ky
    wx, wy = (px - ax) * kx, (py - ay) * ky
    length2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.clip(np.where(length2 > 0, (wx * dx + wy * dy) / length2, 0.0), 0.0, 1.0)
    return t, np.hypot(wx - t * dx, wy - t * dy)


def _distance_to_references(
    px: np.ndarray,
    py: np.ndarray,
    seg: np.ndarray,
    seg_tree: shapely.STRtree,
    kx: float,
    ky: float,
    reach_m: float,
) -> np.ndarray:
    """Metres from each point to the nearest reference edge (``inf`` beyond ``reach_m``)."""
    out = np.full(len(px), np.inf)
    if not len(px) or not len(seg):
        return out
    half = (reach_m / kx, reach_m / ky)
    q_pt, q_seg = seg_tree.query(shapely.box(px - half[0], py - half[1], px + half[0], py + half[1]))
    if len(q_pt):
        _, d = _project_on_segments(px[q_pt], py[q_pt], seg[q_seg], kx, ky)
        np.minimum.at(out, q_pt, d)
    return out


def _drop_kinks_on_references(
    pts: np.ndarray,
    seg: np.ndarray,
    seg_tree: shapely.STRtree,
    ref_vertices: np.ndarray,
    kx: float,
    ky: float,
) -> tuple[np.ndarray, int]:
    """``pts`` (an open ring) without the vertices that lie inside a reference edge, off its vertices, while
    both adjacent vertices lie on that same edge; and how many were dropped."""
    if len(pts) <= 3 or not len(seg):
        return pts, 0
    on_edge = _distance_to_references(pts[:, 0], pts[:, 1], seg, seg_tree, kx, ky, _ON_EDGE_M) <= _ON_EDGE_M
    candidates = np.flatnonzero(on_edge)
    if not len(candidates):
        return pts, 0
    reference = {tuple(v) for v in ref_vertices}
    keep = np.ones(len(pts), dtype=bool)
    half = (_ON_EDGE_M / kx, _ON_EDGE_M / ky)
    for i in candidates.tolist():
        if tuple(pts[i]) in reference:
            continue
        box = shapely.box(pts[i, 0] - half[0], pts[i, 1] - half[1], pts[i, 0] + half[0], pts[i, 1] + half[1])
        prev_i = next(j for j in range(i - 1, i - len(pts), -1) if keep[j % len(pts)]) % len(pts)
        next_i = (i + 1) % len(pts)
        for k in seg_tree.query(box):
            ends = np.array([pts[i], pts[prev_i], pts[next_i]])
            _, d = _project_on_segments(ends[:, 0], ends[:, 1], seg[k], kx, ky)
            if np.all(d <= _ON_EDGE_M) and not np.array_equal(pts[prev_i], pts[next_i]):
                keep[i] = False
                break
        if keep.sum() <= 3:
            break
    return pts[keep], int((~keep).sum())


def _snap_ring(
    ring: np.ndarray,
    seg: np.ndarray,
    seg_tree: shapely.STRtree,
    ref_vertices: np.ndarray,
    vertex_tree: cKDTree,
    kx: float,
    ky: float,
    tol_m: float,
) -> tuple[np.ndarray, int]:
    pts = ring[:-1].copy()
    moved = 0
    # 0. A vertex already on a reference boundary (a neighbour's vertex or edge, as the input shared it)
    #    stays where it is: moving it onto some other reference would pull this side of a shared edge away
    #    from the neighbour and open a gap (or an overlap) between areas that fitted.
    on_boundary = _distance_to_references(pts[:, 0], pts[:, 1], seg, seg_tree, kx, ky, tol_m) <= _ON_EDGE_M
    # 1. vertices onto a reference vertex within tolerance, else onto the nearest reference edge.
    scaled = np.column_stack([pts[:, 0] * kx, pts[:, 1] * ky])
    dist, idx = vertex_tree.query(scaled, distance_upper_bound=tol_m)
    near_vertex = np.isfinite(dist) & ~on_boundary
    for i in np.flatnonzero(near_vertex):
        if not np.array_equal(pts[i], ref_vertices[idx[i]]):
            pts[i] = ref_vertices[idx[i]]
            moved += 1
    rest = np.flatnonzero(~near_vertex & ~on_boundary)
    if len(rest) and len(seg):
        half = (tol_m / kx, tol_m / ky)
        boxes = shapely.box(
            pts[rest, 0] - half[0], pts[rest, 1] - half[1], pts[rest, 0] + half[0], pts[rest, 1] + half[1]
        )
        q_pt, q_seg = seg_tree.query(boxes)
        if len(q_pt):
            t, d = _project_on_segments(pts[rest[q_pt], 0], pts[rest[q_pt], 1], seg[q_seg], kx, ky)
            order = np.lexsort((d, q_pt))
            first = np.ones(len(order), dtype=bool)
            first[1:] = q_pt[order][1:] != q_pt[order][:-1]
            for k in order[first]:
                if d[k] <= tol_m and d[k] > 0:
                    i = rest[q_pt[k]]
                    a, b = seg[q_seg[k], :2], seg[q_seg[k], 2:]
                    pts[i] = a + t[k] * (b - a)
                    moved += 1
    # 1b. a vertex in the middle of a neighbour's edge whose two neighbours lie on that same edge adds nothing
    #     but a float-sized kink (it is never exactly on a diagonal edge): without it our edge is the
    #     neighbour's, bit for bit, and no hairline gap is left between them.
    pts, dropped = _drop_kinks_on_references(pts, seg, seg_tree, ref_vertices, kx, ky)
    moved += dropped
    # 2. reference vertices that lie within tolerance of one of our edges are inserted into it, so both sides
    #    of a shared boundary carry the same vertices. An edge that already runs along a reference boundary
    #    (shared with a neighbour) only takes vertices lying on it: bending it towards a vertex off it would
    #    move it off the neighbour's edge.
    closed = np.vstack([pts, pts[:1]])
    own = np.hstack([closed[:-1], closed[1:]])
    mid_x, mid_y = (own[:, 0] + own[:, 2]) / 2, (own[:, 1] + own[:, 3]) / 2
    end_on = _distance_to_references(own[:, 0], own[:, 1], seg, seg_tree, kx, ky, tol_m) <= _ON_EDGE_M
    shared_edge = (
        end_on
        & np.roll(end_on, -1)
        & (_distance_to_references(mid_x, mid_y, seg, seg_tree, kx, ky, tol_m) <= _ON_EDGE_M)
    )
    own_tree = shapely.STRtree(shapely.linestrings(own.reshape(-1, 2, 2)))  # type: ignore[arg-type]  # shapely's stubs: an array in, yet Point | ndarray out
    half = (tol_m / kx, tol_m / ky)
    rv = ref_vertices
    boxes = shapely.box(rv[:, 0] - half[0], rv[:, 1] - half[1], rv[:, 0] + half[0], rv[:, 1] + half[1])
    q_v, q_s = own_tree.query(boxes)
    inserts: dict[int, list[tuple[float, np.ndarray]]] = {}
    if len(q_v):
        t, d = _project_on_segments(rv[q_v, 0], rv[q_v, 1], own[q_s], kx, ky)
        order = np.lexsort((d, q_v))
        first = np.ones(len(order), dtype=bool)
        first[1:] = q_v[order][1:] != q_v[order][:-1]
        for k in order[first]:
            if d[k] <= tol_m and 0 < t[k] < 1 and (d[k] <= _ON_EDGE_M or not shared_edge[q_s[k]]):
                vertex = rv[q_v[k]]
                a, b = own[q_s[k], :2], own[q_s[k], 2:]
                if np.array_equal(vertex, a) or np.array_equal(vertex, b):
                    continue
                inserts.setdefault(int(q_s[k]), []).append((float(t[k]), vertex))
    if inserts:
        out = []
        for s in range(len(own)):
            out.append(own[s, :2])
            for _, vertex in sorted(inserts.get(s, []), key=lambda item: item[0]):
                out.append(vertex)
                moved += 1
        pts = np.array(out)
    # drop consecutive duplicates that snapping made
    keep = np.ones(len(pts), dtype=bool)
    keep[1:] = np.any(pts[1:] != pts[:-1], axis=1)
    pts = pts[keep]
    if len(pts) > 1 and np.array_equal(pts[0], pts[-1]):
        pts = pts[:-1]
    return np.vstack([pts, pts[:1]]), moved


def snap_to_edges(
    geom: shapely.MultiPolygon, references: Sequence[BaseGeometry], tolerance_m: float
) -> tuple[shapely.MultiPolygon, int]:
    """Snap ``geom`` (degrees) onto the boundaries of ``references`` within ``tolerance_m`` metres.

    Vertices within tolerance of a reference vertex take its exact coordinates; others within tolerance of a
    reference edge move onto it; reference vertices within tolerance of one of our edges are inserted. Our
    boundary then runs through the same vertices as each neighbour's, so adjacent areas share edges instead
    of leaving hairline gaps and overlaps. Returns the snapped geometry and how many vertices moved or were
    added; when snapping would make the polygon invalid the input comes back unchanged.
    """
    if tolerance_m <= 0 or geom.is_empty:
        return geom, 0
    minx, miny, maxx, maxy = geom.bounds
    kx, ky = metres_per_degree((miny + maxy) / 2)
    pad_x, pad_y = 2 * tolerance_m / kx, 2 * tolerance_m / ky
    window = shapely.box(minx - pad_x, miny - pad_y, maxx + pad_x, maxy + pad_y)
    # boundaries first, then clipped: clipping a polygon would add the window's own edges as "boundary"
    refs = np.asarray(references, dtype=object)
    refs = refs[shapely.intersects(refs, window)] if len(refs) else refs
    nearby = [shapely.boundary(r) if r.geom_type in ("Polygon", "MultiPolygon") else r for r in refs]
    lines = [c for c in (shapely.clip_by_rect(r, *window.bounds) for r in nearby) if not c.is_empty]
    if not lines:
        return geom, 0
    seg, ref_vertices = _lines_coords(lines)
    if len(seg) == 0:
        return geom, 0
    seg_tree = shapely.STRtree(shapely.linestrings(seg.reshape(-1, 2, 2)))  # type: ignore[arg-type]  # shapely's stubs: an array in, yet Point | ndarray out
    from scipy.spatial import cKDTree  # imported by the first snap, not at start

    vertex_tree = cKDTree(np.column_stack([ref_vertices[:, 0] * kx, ref_vertices[:, 1] * ky]))
    polygons, moved = [], 0
    for poly in shapely.get_parts(geom):
        rings = [shapely.get_coordinates(poly.exterior)] + [
            shapely.get_coordinates(r) for r in poly.interiors
        ]
        new_rings = []
        for ring in rings:
            snapped, n = _snap_ring(ring, seg, seg_tree, ref_vertices, vertex_tree, kx, ky, tolerance_m)
            moved += n
            if len(snapped) >= 4:
                new_rings.append(snapped)
            elif not new_rings:
                return geom, 0  # the shell collapsed: keep the drawing and let the checks speak
        polygons.append(shapely.Polygon(new_rings[0], new_rings[1:]))
    snapped_geom = shapely.MultiPolygon(polygons)
    if moved == 0 or not snapped_geom.is_valid:
        return geom, 0
    return snapped_geom, moved


def _lines_coords(lines: Sequence[BaseGeometry]) -> tuple[np.ndarray, np.ndarray]:
    segments, vertices = [], []
    for line in lines:
        for part in shapely.get_parts(line):
            c = shapely.get_coordinates(part)
            if len(c) >= 2:
                segments.append(np.hstack([c[:-1], c[1:]]))
                vertices.append(c)
    if not segments:
        return np.empty((0, 4)), np.empty((0, 2))
    return np.vstack(segments), np.unique(np.vstack(vertices), axis=0)


def to_geojson(geom: BaseGeometry) -> Geometry:
    """GeoJSON geometry dict with full double precision (so an export re-imports bit-identical)."""
    geometry: Geometry = json.loads(shapely.to_geojson(geom))
    return geometry
