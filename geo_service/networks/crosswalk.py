"""The crosswalk engine: a network's cells against the unified grids, by area, by households, and where their
boundaries nearly meet.

Pure functions of geometries (WGS-84 degrees) and homes; no database. :mod:`geo_service.networks.service`
reads the inputs and shapes the answers.

Area shares
    Every (cell, grid) pair whose interiors meet: the area of their intersection (m², in the metric CRS of the
    place, :func:`geo_service.grids.geometry.metric_epsg_for`) over the cell's area. The part of a cell outside
    every grid is reported on its own (``grid`` = -1).
Household shares (areal interpolation weighted by homes)
    Each home (a residence point with its households) goes to exactly one cell and one grid: among those that
    cover it (``ST_Covers``: the boundary counts), the one with the **lowest code** in code-point order
    (``COLLATE "C"``) — the tie rule of ``/api/locate``. A home on a shared edge or vertex therefore counts once
    on each side. A cell's household share in a grid is the households of its homes that went to that grid over
    the households of all its homes; a home in the cell and in no grid counts as outside.
Boundary mismatches
    A stretch of network boundary that runs within ``tolerance_m`` of a unified boundary, nearly parallel to it
    (within ``PARALLEL_DEG``), without following it (farther than ``follow_m``), over at least
    ``min_length_m``: reported with the unified line to adopt (its vertices are the unified boundary's own).
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from geo_service.crs import metres_per_degree, metric_epsg_for
from geo_service.grids.geometry import to_metric
from geo_service.locate.lattice import sorted_unique
from geo_service.networks.clip import clipped_areas, convex, simple_rings

PARALLEL_DEG = 20.0  # a network segment counts as running along a unified one within this angle
_MIN_PIECE_M = 1e-3
OUTSIDE = -1


@dataclass(frozen=True)
class Homes:
    """Residence points (WGS-84) and their households."""

    lon: np.ndarray
    lat: np.ndarray
    households: np.ndarray

    @classmethod
    def empty(cls) -> Homes:
        return cls(np.empty(0), np.empty(0), np.empty(0))


@dataclass
class Pairs:
    """One row per (cell, grid) that share area or households; ``grid`` is :data:`OUTSIDE` for the part of a
    cell (area or homes) outside every grid."""

    cell: np.ndarray
    grid: np.ndarray
    area_m2: np.ndarray
    households: np.ndarray
    geoms: np.ndarray | None = None  # the intersection pieces (WGS-84), when asked for

    def __len__(self) -> int:
        return len(self.cell)


@dataclass
class Mismatch:
    """A stretch of network boundary near a unified boundary that it does not follow.

    ``line`` is the network's boundary and ``snapped`` the unified boundary to adopt instead (WGS-84).
    ``cells`` and ``grids`` index the inputs: the cells on either side of the stretch and the grids on
    either side of the snapped line.
    """

    line: shapely.LineString
    snapped: shapely.LineString
    length_m: float
    offset_m: float
    cells: list[int]
    grids: list[int]


@dataclass
class Crosswalk:
    """The crosswalk of ``cells`` against ``grids`` (indices into the inputs)."""

    cell_area_m2: np.ndarray
    cell_households: np.ndarray
    pairs: Pairs
    mismatches: list[Mismatch]
    epsg: int
    seconds: dict[str, float] = field(default_factory=dict)


# -- homes --------------------------------------------------------------------------------------------------


def code_rank(codes: np.ndarray) -> np.ndarray:
    """Rank of each code in code-point order (Python's str order, PostgreSQL's ``COLLATE "C"``)."""
    order = np.argsort(np.asarray(codes, dtype=object), kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


class PointBuckets:
    """Points sorted into square buckets, to find those inside boxes without making a geometry per point."""

    def __init__(self, lon: np.ndarray, lat: np.ndarray, size: float) -> None:
        self.lon, self.lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        self.size = size if size > 0 and math.isfinite(size) else 1.0
        self.x0 = float(self.lon.min()) if len(self.lon) else 0.0
        self.y0 = float(self.lat.min()) if len(self.lat) else 0.0
        i = ((self.lon - self.x0) // self.size).astype(np.int64)
        j = ((self.lat - self.y0) // self.size).astype(np.int64)
        self.nx = int(i.max()) + 1 if len(i) else 1
        self.ny = int(j.max()) + 1 if len(j) else 1
        key = j * self.nx + i
        self.order = np.argsort(key, kind="stable")
        self.keys = key[self.order]

    def in_boxes(self, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(box, point) index pairs of the points inside (or on) each box (rows xmin, ymin, xmax, ymax)."""
        empty = np.empty(0, dtype=np.int64)
        if len(self.lon) == 0 or len(bounds) == 0:
            return empty, empty
        i0 = np.clip((bounds[:, 0] - self.x0) // self.size, 0, self.nx - 1).astype(np.int64)
        i1 = np.clip((bounds[:, 2] - self.x0) // self.size, 0, self.nx - 1).astype(np.int64)
        j0 = np.clip((bounds[:, 1] - self.y0) // self.size, 0, self.ny - 1).astype(np.int64)
        j1 = np.clip((bounds[:, 3] - self.y0) // self.size, 0, self.ny - 1).astype(np.int64)
        # one row of buckets per (box, j): a run of consecutive keys, so one slice of the sorted points
        rows = j1 - j0 + 1
        box = np.repeat(np.arange(len(bounds)), rows)
        j = np.repeat(j0, rows) + (np.arange(rows.sum()) - np.repeat(np.cumsum(rows) - rows, rows))
        start = np.searchsorted(self.keys, j * self.nx + i0[box], side="left")
        end = np.searchsorted(self.keys, j * self.nx + i1[box], side="right")
        counts = end - start
        box = np.repeat(box, counts)
        at = np.repeat(start, counts) + (
            np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        )
        point = self.order[at]
        x, y = self.lon[point], self.lat[point]
        inside = (x >= bounds[box, 0]) & (x <= bounds[box, 2]) & (y >= bounds[box, 1]) & (y <= bounds[box, 3])
        return box[inside], point[inside]


def bucket_size(geoms: np.ndarray) -> float:
    """A bucket edge for :class:`PointBuckets` of about the median size of ``geoms``' boxes (degrees)."""
    if len(geoms) == 0:
        return 1.0
    bounds = shapely.bounds(geoms)
    return float(np.median(np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])))


def assign_points(
    geoms: np.ndarray,
    rank: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    buckets: PointBuckets | None = None,
) -> np.ndarray:
    """For each point, the index of the polygon covering it with the lowest ``rank`` (-1 when none does).
    ``buckets``: the points already bucketed, when the caller has them."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    out = np.full(len(lon), OUTSIDE, dtype=np.int64)
    if len(lon) == 0 or len(geoms) == 0:
        return out
    # each polygon's box picks its candidate points from the buckets, and the polygon, prepared, tells which
    # of them it covers (``intersects_xy``: a point meets a polygon when the polygon covers it, boundary
    # included) on bare coordinates — ten times faster than an STRtree's "covers" on point objects
    shapely.prepare(geoms)
    buckets = buckets or PointBuckets(lon, lat, bucket_size(geoms))
    polys, points = buckets.in_boxes(shapely.bounds(geoms))
    hit = shapely.intersects_xy(geoms[polys], lon[points], lat[points])
    polys, points = polys[hit], points[hit]
    if len(points):
        order = np.lexsort((rank[polys], points))
        points, polys = points[order], polys[order]
        first = np.ones(len(points), dtype=bool)
        first[1:] = points[1:] != points[:-1]
        out[points[first]] = polys[first]
    return out


# -- areas --------------------------------------------------------------------------------------------------


def _area_pairs(
    cells: np.ndarray,
    grids: np.ndarray,
    epsg: int,
    cells_m: np.ndarray | None = None,
    with_pieces: bool = False,
) -> tuple[np.ndarray, ...]:
    """(cell, grid, area m², piece) of every pair whose interiors meet. An exact overlay runs on the stored
    WGS-84 coordinates, where neighbours share their edges exactly (projecting first would bend a long edge
    away from a neighbour's vertex lying on it and leave micro-slivers between polygons that only touch); only
    the pieces are projected to be measured.

    Without ``with_pieces``, the area of a pair where one polygon is convex (and both are one part without
    holes) is measured by clipping in the metric CRS (:mod:`geo_service.networks.clip`), with no piece (None);
    a clipped area under a thousandth of the smaller polygon (or 0.01 m²) goes to the overlay, which alone
    tells a pair that only touches from a sliver. ``cells_m``: the cells in the metric CRS, when
    the caller has them."""
    if len(cells) == 0 or len(grids) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0), np.empty(0, dtype=object)
    tree = shapely.STRtree(grids)
    ci, gi = tree.query(cells, predicate="intersects")
    # a cell inside a grid (or a grid inside a cell) is its own piece: no overlay needed
    shapely.prepare(grids)
    shapely.prepare(cells)
    cell_inside = shapely.covers(grids[gi], cells[ci])
    grid_inside = ~cell_inside & shapely.covers(cells[ci], grids[gi])
    pieces = np.empty(len(ci), dtype=object)
    pieces[cell_inside] = cells[ci[cell_inside]]
    pieces[grid_inside] = grids[gi[grid_inside]]
    rest = ~(cell_inside | grid_inside)
    area = np.full(len(ci), np.nan)
    if not with_pieces and rest.any():
        cells_m = to_metric(cells, epsg) if cells_m is None else cells_m
        grids_m = to_metric(grids, epsg)
        coords, offsets, simple = simple_rings(np.concatenate([cells_m, grids_m]))
        is_convex = convex(coords, offsets) & simple
        gk = gi + len(cells)  # grids follow the cells in the ring arrays
        fast = rest & simple[ci] & simple[gk] & (is_convex[ci] | is_convex[gk])
        subject = np.where(is_convex[gk], ci, gk)[fast]
        clip = np.where(is_convex[gk], gk, ci)[fast]
        clipped = clipped_areas(coords, offsets, subject, clip)
        smaller = np.minimum(shapely.area(cells_m[ci[fast]]), shapely.area(grids_m[gi[fast]]))
        # an edge straight in degrees bows off the same edge straight in metres (a third of a millimetre
        # over 150 m, growing with the square of the length): a pair that only touches in degrees may clip
        # to a sliver of about length × bow here, so small areas are left to the exact overlay
        sure = clipped > np.maximum(smaller * 1e-3, 1e-2)  # NaN (overflow) is not sure
        which = np.flatnonzero(fast)[sure]
        area[which] = clipped[sure]
        rest[which] = False
    pieces[rest] = shapely.intersection(cells[ci[rest]], grids[gi[rest]])
    measured = np.isfinite(area)
    polygonal = measured | (shapely.area(pieces) > 0)  # pairs that only touch along an edge share no area
    unmeasured = polygonal & ~measured
    area[unmeasured] = shapely.area(to_metric(pieces[unmeasured], epsg))
    return ci[polygonal], gi[polygonal], area[polygonal], pieces[polygonal]


def crosswalk(
    cell_codes: np.ndarray,
    cell_geoms: np.ndarray,
    grid_codes: np.ndarray,
    grid_geoms: np.ndarray,
    homes: Homes,
    *,
    tolerance_m: float,
    follow_m: float,
    min_length_m: float,
    with_mismatches: bool = True,
    with_pieces: bool = False,
) -> Crosswalk:
    """The crosswalk of network cells against unified grids (both WGS-84 polygon arrays with their codes).

    Returns
    -------
    Crosswalk
        Cell areas (m²) and households, the (cell, grid) pairs, and the boundary mismatches.
    """
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    cell_geoms = np.asarray(cell_geoms, dtype=object)
    grid_geoms = np.asarray(grid_geoms, dtype=object)
    # prepared once, before any thread reads them (preparing mutates the geometry objects)
    shapely.prepare(cell_geoms)
    shapely.prepare(grid_geoms)
    # the mismatch search needs neither areas nor homes: it runs beside them (GEOS releases the GIL)
    search = None
    if with_mismatches and len(grid_geoms) and len(cell_geoms):
        pool = ThreadPoolExecutor(max_workers=1)
        search = pool.submit(_timed_mismatches, cell_geoms, grid_geoms, tolerance_m, follow_m, min_length_m)
        pool.shutdown(wait=False)
    epsg = metric_epsg_for(list(cell_geoms)) if len(cell_geoms) else 3857
    cells_m = to_metric(cell_geoms, epsg)
    cell_area = shapely.area(cells_m)
    ci, gi, area, pieces = _area_pairs(cell_geoms, grid_geoms, epsg, cells_m, with_pieces)
    seconds["areas"] = time.perf_counter() - started

    started = time.perf_counter()
    buckets = PointBuckets(homes.lon, homes.lat, bucket_size(cell_geoms))
    home_cell = assign_points(cell_geoms, code_rank(cell_codes), homes.lon, homes.lat, buckets)
    inside = home_cell != OUTSIDE
    home_grid = assign_points(grid_geoms, code_rank(grid_codes), homes.lon, homes.lat, buckets)[inside]
    hh = homes.households[inside]
    cell_households = np.bincount(home_cell[inside], weights=hh, minlength=len(cell_geoms))
    seconds["households"] = time.perf_counter() - started

    # one row per (cell, grid): the area pairs, the household pairs, and each cell's outside part
    n_grids = len(grid_geoms) + 1  # slot 0 = outside
    area_key = ci * n_grids + (gi + 1)
    outside_area = cell_area - np.bincount(ci, weights=area, minlength=len(cell_geoms))
    outside_cells = np.flatnonzero(outside_area > np.maximum(cell_area * 1e-6, 0.01))  # projection noise
    home_key = home_cell[inside] * n_grids + (home_grid + 1)
    # sorted, then first of each run: a plain np.unique (numpy ≥ 2.3) hashes first, ~15× slower on many keys
    keys = sorted_unique(np.concatenate([area_key, outside_cells * n_grids, home_key]))
    pair_area = np.zeros(len(keys))
    pair_area[np.searchsorted(keys, area_key)] = area
    pair_area[np.searchsorted(keys, outside_cells * n_grids)] = outside_area[outside_cells]
    pair_households = np.zeros(len(keys))
    np.add.at(pair_households, np.searchsorted(keys, home_key), hh)
    pair_geoms = None
    if with_pieces:
        pair_geoms = np.full(len(keys), None, dtype=object)
        pair_geoms[np.searchsorted(keys, area_key)] = pieces
    pairs = Pairs(keys // n_grids, keys % n_grids - 1, pair_area, pair_households, pair_geoms)

    found: list[Mismatch] = []
    if search is not None:
        found, seconds["mismatches"] = search.result()
    return Crosswalk(cell_area, cell_households, pairs, found, epsg, seconds)


def _timed_mismatches(
    cell_geoms: np.ndarray, grid_geoms: np.ndarray, tolerance_m: float, follow_m: float, min_length_m: float
) -> tuple[list[Mismatch], float]:
    started = time.perf_counter()
    found = mismatches(
        cell_geoms, grid_geoms, tolerance_m=tolerance_m, follow_m=follow_m, min_length_m=min_length_m
    )
    return found, time.perf_counter() - started


# -- boundary mismatches ------------------------------------------------------------------------------------


def boundary_segments(geoms: np.ndarray) -> np.ndarray:
    """Every distinct ring segment of polygonal ``geoms`` as rows (x0, y0, x1, y1), each once whichever way
    round and whichever polygon it came from; zero-length segments dropped."""
    parts = shapely.get_parts(np.asarray(geoms, dtype=object))
    rings = shapely.get_rings(parts)
    coords, index = shapely.get_coordinates(rings, return_index=True)
    if len(coords) < 2:
        return np.empty((0, 4))
    same = index[1:] == index[:-1]
    seg = np.hstack([coords[:-1][same], coords[1:][same]])
    swap = (seg[:, 0] > seg[:, 2]) | ((seg[:, 0] == seg[:, 2]) & (seg[:, 1] > seg[:, 3]))
    seg[swap] = seg[swap][:, [2, 3, 0, 1]]
    seg = seg[(seg[:, 0] != seg[:, 2]) | (seg[:, 1] != seg[:, 3])]
    return _unique_rows(seg) if len(seg) else seg


def _unique_rows(rows: np.ndarray) -> np.ndarray:
    """The distinct rows of a float array, sorted (``np.unique(axis=0)`` without its slow generic path)."""
    order = np.lexsort(rows.T[::-1])
    rows = rows[order]
    keep = np.ones(len(rows), dtype=bool)
    keep[1:] = np.any(rows[1:] != rows[:-1], axis=1)
    return rows[keep]


def _linear(f0: np.ndarray, f1: np.ndarray, lo: Any, hi: Any) -> tuple[np.ndarray, np.ndarray]:
    """The t-interval where lo ≤ f0 + f1·t ≤ hi (empty when start > end)."""
    flat = np.abs(f1) < 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (lo - f0) / f1
        t2 = (hi - f0) / f1
    start = np.where(flat, np.where((f0 >= lo) & (f0 <= hi), -np.inf, np.inf), np.minimum(t1, t2))
    end = np.where(flat, np.where((f0 >= lo) & (f0 <= hi), np.inf, -np.inf), np.maximum(t1, t2))
    return start, end


def _disc(p0: np.ndarray, d: np.ndarray, c: np.ndarray, r: float) -> tuple[np.ndarray, np.ndarray]:
    """The t-interval where |p0 + t·d − c| ≤ r."""
    w = p0 - c
    a = np.einsum("ij,ij->i", d, d)
    b = np.einsum("ij,ij->i", w, d)
    cc = np.einsum("ij,ij->i", w, w) - r * r
    disc = b * b - a * cc
    root = np.sqrt(np.maximum(disc, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        start, end = (-b - root) / a, (-b + root) / a
    empty = (disc < 0) | (a <= 0)
    return np.where(empty, np.inf, start), np.where(empty, -np.inf, end)


def near_intervals(n_seg: np.ndarray, u_seg: np.ndarray, r: float) -> tuple[np.ndarray, np.ndarray]:
    """For segment pairs (rows of metric x0, y0, x1, y1), the parameter interval [start, end] ⊂ [0, 1] of the
    first segment lying within ``r`` metres of the second (start > end when none does). The set of points
    within ``r`` of a segment is convex (a capsule), so its meet with a segment is one interval: the hull of
    its meets with the capsule's rectangle and its two end discs."""
    p0, p1 = n_seg[:, :2], n_seg[:, 2:]
    q0, q1 = u_seg[:, :2], u_seg[:, 2:]
    d = p1 - p0
    e = q1 - q0
    length = np.hypot(e[:, 0], e[:, 1])
    along_dir = e / length[:, None]
    normal = np.column_stack([-along_dir[:, 1], along_dir[:, 0]])
    w = p0 - q0
    a_start, a_end = _linear(
        np.einsum("ij,ij->i", w, along_dir), np.einsum("ij,ij->i", d, along_dir), 0.0, length
    )
    c_start, c_end = _linear(np.einsum("ij,ij->i", w, normal), np.einsum("ij,ij->i", d, normal), -r, r)
    rect_start, rect_end = np.maximum(a_start, c_start), np.minimum(a_end, c_end)
    d0_start, d0_end = _disc(p0, d, q0, r)
    d1_start, d1_end = _disc(p0, d, q1, r)
    starts = np.column_stack([rect_start, d0_start, d1_start])
    ends = np.column_stack([rect_end, d0_end, d1_end])
    nonempty = starts <= ends
    start = np.where(nonempty, starts, np.inf).min(axis=1)
    end = np.where(nonempty, ends, -np.inf).max(axis=1)
    return np.maximum(start, 0.0), np.minimum(end, 1.0)


def _union(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _subtract(
    keep: list[tuple[float, float]], remove: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    out = []
    for start, end in keep:
        pieces = [(start, end)]
        for r0, r1 in remove:
            pieces = [q for a, b in pieces for q in ((a, min(b, r0)), (max(a, r1), b)) if q[1] > q[0]]
        out.extend(pieces)
    return out


def _points_on(seg_deg: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The points at parameters ``t`` of segments in degrees (their exact end vertices at 0 and 1)."""
    a, b = seg_deg[:, :2], seg_deg[:, 2:]
    inner = a + np.clip(t, 0.0, 1.0)[:, None] * (b - a)
    return np.where((t <= 0.0)[:, None], a, np.where((t >= 1.0)[:, None], b, inner))


def mismatches(
    cell_geoms: np.ndarray,
    grid_geoms: np.ndarray,
    *,
    tolerance_m: float,
    follow_m: float,
    min_length_m: float,
) -> list[Mismatch]:
    """Stretches of the cells' boundaries near the grids' boundaries that do not follow them (see the module
    docstring). Lengths and distances are measured on a local equirectangular frame (metres per degree at
    the middle latitude), which is within a fraction of a percent over a city."""
    n_deg = boundary_segments(cell_geoms)
    u_deg = boundary_segments(grid_geoms)
    if len(n_deg) == 0 or len(u_deg) == 0:
        return []
    lat0 = float(np.mean(np.concatenate([n_deg[:, [1, 3]].ravel(), u_deg[:, [1, 3]].ravel()])))
    kx, ky = metres_per_degree(lat0)
    scale = np.array([kx, ky, kx, ky])
    n_m, u_m = n_deg * scale, u_deg * scale
    u_lines = shapely.linestrings(u_m.reshape(-1, 2, 2))
    u_tree = shapely.STRtree(u_lines)
    pad = tolerance_m
    boxes = shapely.box(
        np.minimum(n_m[:, 0], n_m[:, 2]) - pad,
        np.minimum(n_m[:, 1], n_m[:, 3]) - pad,
        np.maximum(n_m[:, 0], n_m[:, 2]) + pad,
        np.maximum(n_m[:, 1], n_m[:, 3]) + pad,
    )
    ni, ui = u_tree.query(boxes)
    if len(ni) == 0:
        return []
    near_start, near_end = near_intervals(n_m[ni], u_m[ui], tolerance_m)
    follow_start, follow_end = near_intervals(n_m[ni], u_m[ui], follow_m)
    dn = n_m[ni, 2:] - n_m[ni, :2]
    du = u_m[ui, 2:] - u_m[ui, :2]
    sin = np.abs(dn[:, 0] * du[:, 1] - dn[:, 1] * du[:, 0]) / (np.hypot(*dn.T) * np.hypot(*du.T))
    parallel = sin <= math.sin(math.radians(PARALLEL_DEG))
    near = parallel & (near_start < near_end)
    if not near.any():
        return []
    # per network segment: (union of its near intervals) minus (union of its follow intervals), by a sweep
    # over the interval ends sorted by (segment, t): inside the result while some near interval is open
    # and no follow interval is
    follows = parallel & (follow_start < follow_end)
    seg = np.concatenate([ni[near], ni[near], ni[follows], ni[follows]])
    t = np.concatenate([near_start[near], near_end[near], follow_start[follows], follow_end[follows]])
    n_near, n_follow = int(near.sum()), int(follows.sum())
    d_near = np.concatenate([np.ones(n_near), -np.ones(n_near), np.zeros(2 * n_follow)])
    d_follow = np.concatenate([np.zeros(2 * n_near), np.ones(n_follow), -np.ones(n_follow)])
    order = np.lexsort((-(d_near + d_follow), t, seg))  # at one t, opening before closing
    seg, t = seg[order], t[order]
    open_near, open_follow = np.cumsum(d_near[order]), np.cumsum(d_follow[order])
    n_length = np.hypot(*(n_m[:, 2:] - n_m[:, :2]).T)
    take = (seg[:-1] == seg[1:]) & (open_near[:-1] > 0.5) & (open_follow[:-1] < 0.5)
    take &= (t[1:] - t[:-1]) * n_length[seg[:-1]] > _MIN_PIECE_M
    k = np.flatnonzero(take)
    if len(k) == 0:
        return []
    which, t0, t1 = seg[k], t[k], t[k + 1]
    pieces = shapely.linestrings(
        np.stack([_points_on(n_deg[which], t0), _points_on(n_deg[which], t1)], axis=1)
    )
    runs = _split_at_junctions(shapely.get_parts(shapely.line_merge(shapely.multilinestrings(pieces))), n_deg)  # type: ignore[arg-type]  # shapely's stubs: an array in, yet Point | ndarray out
    lengths = shapely.length(shapely.transform(runs, lambda xy: xy * scale[:2]))
    long_enough = lengths >= max(min_length_m, _MIN_PIECE_M)
    runs, lengths = runs[long_enough], lengths[long_enough]
    if len(runs) == 0:
        return []
    snapped, offsets = _snap_lines(runs, u_deg, u_m, u_tree, scale, tolerance_m)
    touch = 1e-3 / max(kx, ky)  # a millimetre, in degrees
    cells = _along(shapely.boundary(np.asarray(cell_geoms, dtype=object)), runs, touch)
    grids = _along(shapely.boundary(np.asarray(grid_geoms, dtype=object)), snapped, touch)
    return [
        Mismatch(runs[k], snapped[k], float(lengths[k]), float(offsets[k]), cells[k], grids[k])
        for k in range(len(runs))
    ]


def _split_at_junctions(runs: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """``runs`` cut at the network's junctions (vertices where three or more of its boundary segments meet),
    so that each reported stretch lies between the same cells."""
    ends = np.vstack([segments[:, :2], segments[:, 2:]])
    ends = ends[np.lexsort(ends.T[::-1])]
    new = np.ones(len(ends), dtype=bool)
    new[1:] = np.any(ends[1:] != ends[:-1], axis=1)
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, len(ends)))
    junctions = ends[starts[counts >= 3]]
    coords, owner = shapely.get_coordinates(runs, return_index=True)
    if len(coords) == 0 or len(junctions) == 0:
        return runs
    # a vertex is a junction when it is one of the junction points exactly: (x, y) as one complex number,
    # compared for equality in one sorted pass
    is_junction = np.isin(coords[:, 0] + 1j * coords[:, 1], junctions[:, 0] + 1j * junctions[:, 1])
    first = np.ones(len(coords), dtype=bool)
    first[1:] = owner[1:] != owner[:-1]
    last = np.ones(len(coords), dtype=bool)
    last[:-1] = owner[1:] != owner[:-1]
    cut = is_junction & ~first & ~last
    # every cut vertex ends one piece and starts the next: repeat it, and number the pieces
    repeat = np.where(cut, 2, 1)
    out_coords = np.repeat(coords, repeat, axis=0)
    starts = np.repeat(first | cut, repeat)
    starts[np.cumsum(repeat)[cut] - 1] = True  # the repeated copy opens the next piece
    starts[np.cumsum(repeat)[cut] - 2] = False
    starts[np.flatnonzero(np.repeat(first, repeat))] = True
    piece = np.cumsum(starts) - 1
    return shapely.linestrings(out_coords, indices=piece)  # type: ignore[return-value]  # an array (stubs)


def _along(boundaries: np.ndarray, lines: np.ndarray, distance: float) -> list[list[int]]:
    """For each line, the polygons whose boundary passes within ``distance`` of its midpoint, by index."""
    mids = shapely.line_interpolate_point(lines, 0.5, normalized=True)
    line_i, poly_i = shapely.STRtree(boundaries).query(mids, predicate="dwithin", distance=distance)
    # grouped by line: sorted once, then sliced as Python lists (np.split into an array per line cost more
    # than the query on large networks)
    order = np.lexsort((poly_i, line_i))
    line_i, values = line_i[order], poly_i[order].tolist()
    cuts = np.searchsorted(line_i, np.arange(len(lines) + 1)).tolist()
    return [values[cuts[k] : cuts[k + 1]] for k in range(len(lines))]


def _snap_lines(
    runs: np.ndarray,
    u_deg: np.ndarray,
    u_m: np.ndarray,
    u_tree: shapely.STRtree,
    scale: np.ndarray,
    tolerance_m: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The unified boundary along each run (degrees) and the largest distance between the two (Hausdorff, m).

    Each vertex of a run moves to the nearest point of a unified segment running nearly parallel to the run
    there (so a run's end on a crossing unified edge moves along to the one it follows, not onto the crossing
    one); the unified vertices within ``tolerance_m`` of the run, strictly between its ends, join it in order.
    The snapped line's vertices are thus the unified boundary's own or points on its segments.
    """
    coords, owner = shapely.get_coordinates(runs, return_index=True)
    metric = coords * scale[:2]
    runs_m = shapely.transform(runs, lambda xy: xy * scale[:2])
    first = np.ones(len(coords), dtype=bool)
    first[1:] = owner[1:] != owner[:-1]
    last = np.ones(len(coords), dtype=bool)
    last[:-1] = owner[1:] != owner[:-1]
    # the run's direction on either side of each vertex
    step = np.zeros_like(metric)
    step[:-1] = metric[1:] - metric[:-1]
    after = np.where(last[:, None], np.nan, step)
    before = np.full_like(metric, np.nan)
    before[1:] = np.where(first[1:, None], np.nan, step[:-1])
    vertices = shapely.points(metric)
    at_vertex = shapely.line_locate_point(runs_m[owner], vertices)
    vi, si = u_tree.query(vertices, predicate="dwithin", distance=tolerance_m * 1.5)
    du = u_m[si, 2:] - u_m[si, :2]
    limit = math.sin(math.radians(PARALLEL_DEG))

    def parallel(direction: np.ndarray) -> np.ndarray:
        cross = np.abs(direction[:, 0] * du[:, 1] - direction[:, 1] * du[:, 0])
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = cross / (np.hypot(*direction.T) * np.hypot(*du.T))
        return ratio <= limit  # NaN (no segment on that side) compares False

    ok = parallel(before[vi]) | parallel(after[vi])
    vi, si, du = vi[ok], si[ok], du[ok]
    t = np.clip(np.einsum("ij,ij->i", metric[vi] - u_m[si, :2], du) / np.einsum("ij,ij->i", du, du), 0.0, 1.0)
    distance = np.hypot(*(u_m[si, :2] + t[:, None] * du - metric[vi]).T)
    order = np.lexsort((distance, vi))
    vi, si, t = vi[order], si[order], t[order]
    best = np.ones(len(vi), dtype=bool)
    best[1:] = vi[1:] != vi[:-1]
    moved = coords.copy()
    moved[vi[best]] = _points_on(u_deg[si[best]], t[best])
    # unified vertices along each run, strictly between its ends
    run_of, at_of, xy_of = [owner], [at_vertex], [moved]
    ri, sj = u_tree.query(runs_m, predicate="dwithin", distance=tolerance_m)
    if len(ri):
        pairs = _unique_rows(
            np.column_stack([np.concatenate([ri, ri]), np.vstack([u_deg[sj, :2], u_deg[sj, 2:]])])
        )
        cand_run, cand = pairs[:, 0].astype(np.int64), pairs[:, 1:]
        points = shapely.points(cand * scale[:2])
        at = shapely.line_locate_point(runs_m[cand_run], points)
        near = shapely.distance(runs_m[cand_run], points) <= tolerance_m
        inside = (at > 0) & (at < shapely.length(runs_m[cand_run])) & near
        run_of.append(cand_run[inside])
        at_of.append(at[inside])
        xy_of.append(cand[inside])
    run_all, at_all, xy_all = np.concatenate(run_of), np.concatenate(at_of), np.vstack(xy_of)
    order = np.lexsort((at_all, run_all))
    run_all, xy_all = run_all[order], xy_all[order]
    keep = np.ones(len(run_all), dtype=bool)
    keep[1:] = (run_all[1:] != run_all[:-1]) | np.any(xy_all[1:] != xy_all[:-1], axis=1)
    run_all, xy_all = run_all[keep], xy_all[keep]
    counts = np.bincount(run_all, minlength=len(runs))
    short = np.flatnonzero(counts < 2)
    if len(short):  # everything collapsed onto one point: keep the run's own ends
        drop = np.isin(run_all, short)
        ends = np.isin(owner, short) & (first | last)
        run_all = np.concatenate([run_all[~drop], owner[ends]])
        xy_all = np.vstack([xy_all[~drop], coords[ends]])
        order = np.argsort(run_all, kind="stable")
        run_all, xy_all = run_all[order], xy_all[order]
    snapped = shapely.linestrings(xy_all, indices=run_all)
    snapped_m = shapely.transform(snapped, lambda xy: xy * scale[:2])
    return snapped, shapely.hausdorff_distance(runs_m, snapped_m)  # type: ignore[return-value]  # arrays
