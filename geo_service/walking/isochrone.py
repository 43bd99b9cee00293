"""Isochrone polygons that follow the street network.

How a contour is drawn (all in the graph's metric CRS):

1. One bounded search from every origin gives each reached node its cost (effective metres).
2. Every edge with a reached end is sampled every ``cell`` metres along its real geometry; each sample gets
   the cheaper of arriving through either end (or straight along the edge from an origin on it), so the
   reachable *part* of an edge the limit cuts through is drawn and the rest is not.
3. Each sample within the limit stamps a disc of radius ``corridor − cell`` on a raster of ``cell``-metre
   cells with ``cost + max(0, d − 1.5·cell)`` (``d`` = distance to the cell centre): walking off the street
   costs like walking on it, after a tolerance of 1.5 cells that keeps every reached node inside its contour
   whatever the raster alignment.
4. The contour at level ``T`` is the filled region ``field ≤ T`` traced by marching squares (contourpy), with
   holes: blocks, water and rail yards that no reached street comes within the corridor of stay out, and
   nothing is claimed across a river or railway without a crossing, because only reached streets stamp.

So a polygon never extends more than ``corridor`` metres from the part of the network reachable within its
time, and covers every node reachable within it. Several origins give the union (one multi-source search).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import contourpy
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo_service.jit import kernel
from geo_service.walking.graph import WalkGraph


@dataclass(frozen=True)
class RasterSpec:
    """Raster, corridor and outline simplification of one isochrone request (metres)."""

    cell_m: float
    corridor_m: float
    simplify_m: float = 0.0

    @property
    def radius_m(self) -> float:
        # a sample sits up to √½ cell from its cell's centre, and marching squares may place the boundary up
        # to one cell beyond the last cell inside: together at most the corridor (simplification, when asked,
        # may move the outline by its tolerance more)
        return self.corridor_m - (1.0 + math.sqrt(0.5)) * self.cell_m

    @property
    def slack_m(self) -> float:
        return 1.5 * self.cell_m


@kernel
def reached_edges(
    touched: np.ndarray,
    n_touched: int,
    indptr: np.ndarray,
    adj_edge: np.ndarray,
    mark: np.ndarray,
    extra: np.ndarray,
) -> np.ndarray:
    """Edges with at least one touched end, plus ``extra`` (origin edges); ``mark`` (all False) is restored."""
    count = 0
    total = extra.shape[0]
    for i in range(n_touched):
        node = touched[i]
        total += indptr[node + 1] - indptr[node]
    out = np.empty(total, np.int64)
    for i in range(extra.shape[0]):
        e = extra[i]
        if not mark[e]:
            mark[e] = True
            out[count] = e
            count += 1
    for i in range(n_touched):
        node = touched[i]
        for k in range(indptr[node], indptr[node + 1]):
            e = adj_edge[k]
            if not mark[e]:
                mark[e] = True
                out[count] = e
                count += 1
    for i in range(count):
        mark[out[i]] = False
    return out[:count]


@kernel
def _sample_cost(
    f: float,
    du: float,
    dv: float,
    cost: float,
    e: int,
    on_origin_edge: bool,
    origin_edge: np.ndarray,
    origin_frac: np.ndarray,
) -> float:
    t = du + f * cost
    t2 = dv + (1.0 - f) * cost
    if t2 < t:
        t = t2
    if on_origin_edge:  # known per edge: most samples skip the scan of the origins
        for o in range(origin_edge.shape[0]):
            if origin_edge[o] == e:
                t3 = abs(f - origin_frac[o]) * cost
                if t3 < t:
                    t = t3
    return t


@kernel
def samples(
    edges: np.ndarray,
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    edge_cost: np.ndarray,
    dist: np.ndarray,
    node_x: np.ndarray,
    node_y: np.ndarray,
    vert_offset: np.ndarray,
    vert_x: np.ndarray,
    vert_y: np.ndarray,
    line_len: np.ndarray,
    origin_edge: np.ndarray,
    origin_frac: np.ndarray,
    origin_xy: np.ndarray,
    limit: float,
    step: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float, float, float]:
    """Points every ``step`` metres (at most) along the reached edges, both ends included, with their cost;
    only those within ``limit``: the reachable part of an edge the limit cuts through, not the rest. Then
    the snapped origins themselves at cost 0, and the points' bounds (west, south, east, north).
    An edge's vertices are its u node, its interior vertices and its v node (see :mod:`.graph`)."""
    total = origin_xy.shape[0]
    for idx in range(edges.shape[0]):
        length = line_len[edges[idx]]
        total += math.ceil(length / step) + 1 if length > 0 else 1
    px = np.empty(total)
    py = np.empty(total)
    pt = np.empty(total)
    n = 0
    for idx in range(edges.shape[0]):
        e = edges[idx]
        u, v = edge_u[e], edge_v[e]
        du = dist[u]
        dv = dist[v]
        cost = edge_cost[e]
        length = line_len[e]
        on_origin_edge = False
        for o in range(origin_edge.shape[0]):
            if origin_edge[o] == e:
                on_origin_edge = True
        lo = vert_offset[e]
        n_inner = vert_offset[e + 1] - lo
        # the current segment: vertex k (at ``a_along`` metres) to vertex k + 1
        k = 0
        ax, ay = node_x[u], node_y[u]
        bx, by = (vert_x[lo], vert_y[lo]) if n_inner > 0 else (node_x[v], node_y[v])
        a_along = 0.0
        b_along = math.hypot(bx - ax, by - ay)
        n_samples = math.ceil(length / step) + 1 if length > 0 else 1
        for j in range(n_samples):
            s = length * j / (n_samples - 1) if n_samples > 1 else 0.0
            while k < n_inner and b_along < s:
                k += 1
                ax, ay, a_along = bx, by, b_along
                bx, by = (vert_x[lo + k], vert_y[lo + k]) if k < n_inner else (node_x[v], node_y[v])
                b_along = a_along + math.hypot(bx - ax, by - ay)
            f = s / length if length > 0 else 0.0
            t = _sample_cost(f, du, dv, cost, e, on_origin_edge, origin_edge, origin_frac)
            if not t <= limit:
                continue
            seg = b_along - a_along
            w = (s - a_along) / seg if seg > 0 else 0.0
            px[n] = ax + (bx - ax) * w
            py[n] = ay + (by - ay) * w
            pt[n] = t
            n += 1
    for o in range(origin_xy.shape[0]):
        px[n] = origin_xy[o, 0]
        py[n] = origin_xy[o, 1]
        pt[n] = 0.0
        n += 1
    west, south, east, north = np.inf, np.inf, -np.inf, -np.inf
    for i in range(n):
        west = min(west, px[i])
        east = max(east, px[i])
        south = min(south, py[i])
        north = max(north, py[i])
    return px[:n], py[:n], pt[:n], west, south, east, north


@kernel
def seed(
    px: np.ndarray,
    py: np.ndarray,
    pt: np.ndarray,
    seeds: np.ndarray,
    nx: int,
    x0: float,
    y0: float,
    cell: float,
    seeded: np.ndarray,
) -> tuple[int, int, int, int, int]:
    """Keep, per raster cell, the cheapest sample in it (``seeds``, flat, +inf elsewhere). Returns how many
    cells were seeded (their flat indices are ``seeded[:n]``) and the rows and columns they span (first row,
    last row, first column, last column): the dilated part of the raster is that box widened by the disc."""
    n_seeded = 0
    row_lo, row_hi, col_lo, col_hi = seeds.shape[0], -1, seeds.shape[0], -1
    for i in range(px.shape[0]):
        row = int((py[i] - y0) / cell)
        col = int((px[i] - x0) / cell)
        c = row * nx + col
        if pt[i] < seeds[c]:
            if seeds[c] == np.inf:
                seeded[n_seeded] = c
                n_seeded += 1
                row_lo = min(row_lo, row)
                row_hi = max(row_hi, row)
                col_lo = min(col_lo, col)
                col_hi = max(col_hi, col)
            seeds[c] = pt[i]
    return n_seeded, row_lo, row_hi, col_lo, col_hi


@kernel
def dilate(
    seeds: np.ndarray,
    seeded: np.ndarray,
    n_seeded: int,
    offsets: np.ndarray,
    penalty: np.ndarray,
    field: np.ndarray,
) -> None:
    """``field[c + o] = min(field[c + o], seeds[c] + penalty[o])`` over every seeded cell and disc offset (a
    min-plus dilation restricted to the cells that hold a sample; the raster margin keeps it in bounds)."""
    for s in range(n_seeded):
        c = seeded[s]
        t = seeds[c]
        for k in range(offsets.shape[0]):
            i = c + offsets[k]
            value = t + penalty[k]
            if value < field[i]:
                field[i] = value


def raster_spec(
    extent_m: float,
    cell_m: float,
    corridor_m: float,
    max_cells_side: int,
    simplify_m: float | None = None,
    simplify_cells: float = 0.0,
) -> RasterSpec:
    """The cell size for a contour set spanning ``extent_m``: the configured cell, coarser when the raster
    would exceed ``max_cells_side``; the corridor is at least 3.5 cells (so the disc reaches past the
    tolerance). Outlines are simplified by ``simplify_m`` (default ``simplify_cells`` of a cell), at most half
    a cell: marching squares keeps every reached node at least half a cell inside its contour (the 3×3 cells
    around it are all inside), so simplification never leaves one out; an outline may then reach past the
    corridor by the tolerance."""
    cell = max(cell_m, extent_m / max_cells_side)
    tolerance = simplify_cells * cell if simplify_m is None else simplify_m
    tolerance = min(max(tolerance, 0.0), 0.5 * cell)
    return RasterSpec(cell_m=cell, corridor_m=max(corridor_m, 3.5 * cell), simplify_m=tolerance)


@lru_cache(maxsize=256)
def disc(spec: RasterSpec, nx: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat offsets (row length ``nx``) of the cells within the stamp radius, and their off-street cost
    ``max(0, d − slack)`` in metres."""
    r = math.floor(spec.radius_m / spec.cell_m)
    dj, di = np.mgrid[-r : r + 1, -r : r + 1]
    d = np.hypot(di, dj).ravel() * spec.cell_m
    inside = d <= spec.radius_m
    offsets = (dj.ravel() * nx + di.ravel())[inside].astype(np.int64)
    return offsets, np.maximum(d[inside] - spec.slack_m, 0.0)


def contour_polygons(
    graph: WalkGraph,
    dist: np.ndarray,
    edges: np.ndarray,
    origin_edge: np.ndarray,
    origin_frac: np.ndarray,
    origin_xy: np.ndarray,
    levels: list[float],
    cell_m: float,
    corridor_m: float,
    max_cells_side: int,
    edge_cost: np.ndarray | None = None,
    unproject: Unproject | None = None,
    simplify_m: float | None = None,
    simplify_cells: float = 0.0,
    decimals: int | None = None,
) -> list[tuple[BaseGeometry, float]]:
    """(Multi)Polygons and their areas (m²), one per level (effective metres, ascending), from a finished
    search; in the metric CRS, or through ``unproject`` (metric x, y → lon, lat) when given, with coordinates
    rounded to ``decimals``. Outlines are simplified within the raster cell (see :func:`raster_spec`).

    ``dist`` is the search's cost per node (+inf where not reached), ``edges`` the edges to draw
    (:func:`reached_edges`), ``origin_*`` the origins' edges, fractions and snapped metric points,
    ``edge_cost`` the per-edge cost the search used (the graph's time cost by default).
    """
    if edge_cost is None:
        edge_cost = graph.edge_cost
    limit = float(max(levels))
    g = graph
    # samples one cell apart; several in one cell keep the cheapest (its disc is stamped from the cell centre)
    # the snapped origins are points too, even when they reach no edge end (an isolated piece of network)
    px, py, pt, west, south, east, north = samples(
        edges,
        g.edge_u,
        g.edge_v,
        edge_cost,
        dist,
        g.node_x,
        g.node_y,
        g.vert_offset,
        g.vert_x,
        g.vert_y,
        g.edge_line_len,
        origin_edge,
        origin_frac,
        np.ascontiguousarray(origin_xy, dtype=np.float64),
        limit,
        cell_m,
    )
    extent = float(max(east - west, north - south)) + 2 * corridor_m
    spec = raster_spec(extent, cell_m, corridor_m, max_cells_side, simplify_m, simplify_cells)
    cell = spec.cell_m
    margin = spec.corridor_m + 2 * cell
    x0 = math.floor((west - margin) / cell) * cell
    y0 = math.floor((south - margin) / cell) * cell
    nx = math.ceil((east + margin - x0) / cell) + 1
    ny = math.ceil((north + margin - y0) / cell) + 1
    seeds = np.full(nx * ny, np.inf)
    seeded = np.empty(nx * ny, np.int64)
    n_seeded, row_lo, row_hi, col_lo, col_hi = seed(px, py, pt, seeds, nx, x0, y0, cell, seeded)
    offsets, penalty = disc(spec, nx)
    # cells no disc reaches hold a value above every level (contourpy wants finite values)
    flat = np.full(nx * ny, 2.0 * limit + 1e6)
    dilate(seeds, seeded, n_seeded, offsets, penalty, flat)
    generator = _contour_generator(flat.reshape(ny, nx), row_lo, row_hi, col_lo, col_hi, spec)
    outlines = []
    for level in levels:
        # nudged up by a hair so no cell value equals the level exactly (which could pinch a ring)
        points, rings, outers = generator.filled(-1.0, float(level) * (1 + 1e-12) + 1e-9)
        outlines.append(
            _multipolygon(points[0], rings[0], outers[0], (x0 + 0.5 * cell, y0 + 0.5 * cell), cell)
        )
    if spec.simplify_m > 0:
        outlines = [
            _as_multipolygon(g) for g in shapely.simplify(outlines, spec.simplify_m, preserve_topology=True)
        ]
        # each level simplified on its own may poke out of the next: clip, so contours still nest
        for i in range(len(outlines) - 2, -1, -1):
            outlines[i] = _as_multipolygon(shapely.intersection(outlines[i], outlines[i + 1]))
    metric = np.empty(len(outlines), dtype=object)
    metric[:] = outlines
    areas = shapely.area(metric)
    return list(zip(_lonlat(metric, unproject, decimals).tolist(), areas.tolist(), strict=True))


def _contour_generator(
    field: np.ndarray, row_lo: int, row_hi: int, col_lo: int, col_hi: int, spec: RasterSpec
) -> Any:
    """contourpy's serial generator over the part of ``field`` the discs reached (the seeded box widened by
    the disc radius) plus one unreached cell all round, so every ring closes inside it; the rest of the
    raster holds no contour. The grid coordinates are the full raster's cell indices, so the outlines are
    the same numbers as contouring the whole raster (same quads, same scan order, one chunk) for a fraction
    of the work. Built directly: ``contourpy.contour_generator`` would scan ``field`` for NaN/inf (a masked
    copy) and lay out a coordinate grid for the whole raster on every call."""
    reach = math.floor(spec.radius_m / spec.cell_m) + 1
    ny, nx = field.shape
    rows = slice(max(row_lo - reach, 0), min(row_hi + reach, ny - 1) + 1)
    cols = slice(max(col_lo - reach, 0), min(col_hi + reach, nx - 1) + 1)
    z = np.ascontiguousarray(field[rows, cols])
    # the cell-index grids filled by broadcasting into fresh arrays: the same numbers as np.meshgrid, a third
    # of its cost
    x = np.empty(z.shape)
    x[:] = np.arange(cols.start, cols.stop, dtype=np.float64)
    y = np.empty(z.shape)
    y[:] = np.arange(rows.start, rows.stop, dtype=np.float64)[:, None]
    return contourpy.SerialContourGenerator(
        x,
        y,
        z,
        None,  # type: ignore[arg-type]  # no mask: what contour_generator passes when nothing is masked
        corner_mask=False,
        line_type=contourpy.LineType.SeparateCode,
        fill_type=contourpy.FillType.ChunkCombinedOffsetOffset,
        quad_as_tri=False,
        z_interp=contourpy.ZInterp.Linear,
        x_chunk_size=z.shape[1] - 1,
        y_chunk_size=z.shape[0] - 1,
    )


Unproject = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _multipolygon(
    points: np.ndarray | None,
    ring_offsets: np.ndarray | None,
    outer_offsets: np.ndarray | None,
    origin: tuple[float, float],
    scale: float,
) -> BaseGeometry:
    """contourpy's ChunkCombinedOffsetOffset output of the one chunk, in cell units (all points; where each
    closed ring starts; where each polygon's rings start, outer ring first), as one metric MultiPolygon: that
    is shapely's ragged-array layout, so it is built in one call."""
    if points is None or ring_offsets is None or outer_offsets is None:
        return shapely.MultiPolygon()
    coords = points * scale + np.asarray(origin)
    parts = np.array([0, outer_offsets.shape[0] - 1], np.int64)
    return shapely.from_ragged_array(
        shapely.GeometryType.MULTIPOLYGON,
        coords,
        (ring_offsets.astype(np.int64), outer_offsets.astype(np.int64), parts),
    )[0]


def _as_multipolygon(geometry: BaseGeometry) -> BaseGeometry:
    """The polygonal parts of ``geometry`` as one MultiPolygon (an overlay may return a Polygon or lines)."""
    parts = shapely.get_parts(geometry)
    return shapely.multipolygons(parts[shapely.get_type_id(parts) == 3])


def _lonlat(geometries: np.ndarray, unproject: Unproject | None, decimals: int | None) -> np.ndarray:
    """Metric outlines unprojected to lon/lat and rounded to ``decimals``; unchanged without ``unproject``.
    All of them in one call (one transformer call for every level's coordinates)."""
    if unproject is None:
        return geometries

    def to_lonlat(xy: np.ndarray) -> np.ndarray:
        lonlat = np.column_stack(unproject(xy[:, 0], xy[:, 1]))
        return np.round(lonlat, decimals) if decimals is not None else lonlat

    out = shapely.transform(geometries, to_lonlat)
    # rounding may pinch a ring onto its neighbour (likely at 5 decimals, ~1 m): repair those rare ones
    for i in np.flatnonzero(~shapely.is_valid(out)):
        out[i] = _as_multipolygon(shapely.make_valid(out[i]))
    return out
