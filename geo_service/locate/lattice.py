"""Exact, vectorised point → polygon assignment on a lattice (the locate engine).

The polygons' bounding box is cut into a regular lattice in degrees (cells roughly square on the ground).
Every cell that any polygon edge touches is a *boundary* cell; the rest form connected regions that no edge
crosses, so each region lies wholly inside one polygon (or several, where polygons overlap) or wholly
outside all of them. Those cells store their answer and points in them are answered by one array lookup.
Points in boundary cells are tested exactly (GEOS prepared ``intersects``, which counts the boundary as
covered) against the few polygons listed for their cell: those whose edges may touch it, and those covering
its centre (a polygon covering part of a cell without an edge in it covers all of it).

Tie rule: a point covered by several polygons — on a shared edge or vertex, or inside a tolerated overlap —
goes to the polygon with the lowest index. Callers pass polygons sorted by code, so the rule reads: **the
lowest code among the areas that cover the point** (``ST_Covers``), the same every time. A point that no
polygon covers but that lies within :data:`ON_BOUNDARY_DEG` (about a micrometre) of one — on its outer
boundary up to rounding — goes to the lowest of those: a point on a boundary always gets its area.

Exactness: a point is mapped to a cell by ``floor((x - x0) / dx)``, whose rounding error is ~1e-12 of a cell;
edges are rasterised onto every cell their bounding box (grown by 1e-6 of a cell) touches, so a point can
land in a non-boundary cell only if no edge comes within 1e-6 of a cell of it.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from geo_service.crs import metres_per_degree

_EPS_CELLS = 1e-6
_MIN_CELLS = 2**18  # 1 MB: even a handful of grids gets a fine lattice
OUTSIDE = -1
# A point this close to a polygon (degrees; about a micrometre) that no polygon covers belongs to it: a
# point meant to lie on a boundary (an edge's midpoint, a click snapped to it) is never exactly on a diagonal
# edge in floating point, and lands a rounding error inside or outside.
ON_BOUNDARY_DEG = 1e-11


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct values, ascending: ``np.unique`` without its hash table. numpy ≥ 2.3 counts integers in a
    hash table before sorting, which on millions of spread-out keys (cell × polygon) costs ~15× a plain sort
    (2 M keys: 2.2 s against 0.13 s) and was half of a lattice's build."""
    out = np.sort(values)
    return out[_first_of_runs(out)] if out.size else out


def _first_of_runs(ordered: np.ndarray) -> np.ndarray:
    """Whether each element of a sorted array is the first of its run of equal values."""
    first = np.empty(ordered.size, dtype=bool)
    if ordered.size:
        first[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return first


def lowest_per_point(point: np.ndarray, polygon: np.ndarray, n: int, ordered: bool = False) -> np.ndarray:
    """The tie rule over (point, polygon) covering pairs: for each of ``n`` points the lowest polygon index
    covering it, or -1. ``ordered``: the pairs already come sorted by point, then polygon (no sort needed)."""
    out = np.full(n, OUTSIDE, dtype=np.int64)
    if len(point):
        if not ordered:
            order = np.lexsort((polygon, point))
            point, polygon = point[order], polygon[order]
        first = np.ones(len(point), dtype=bool)
        first[1:] = point[1:] != point[:-1]
        out[point[first]] = polygon[first]
    return out


class PolygonLattice:
    """Assign points to polygons (index of the covering polygon with the lowest index, or -1).

    Parameters
    ----------
    geoms
        Polygons / MultiPolygons in WGS-84 degrees, in tie order (lowest index wins).
    cells_per_polygon
        Lattice cells aimed at per polygon; finer lattices leave fewer points for the exact test.
    max_cells
        Upper bound on the lattice size (memory: 4 bytes a cell).
    """

    def __init__(
        self, geoms: np.ndarray, cells_per_polygon: float = 1000.0, max_cells: int = 8_000_000
    ) -> None:
        self.geoms = np.asarray(geoms, dtype=object)
        self.n = len(self.geoms)
        self.nx = self.ny = 0
        self.cell_value = np.full(1, OUTSIDE, dtype=np.int32)
        self.slot_ptr = np.zeros(1, dtype=np.int64)
        self.slot_candidates = np.zeros(0, dtype=np.int32)
        if self.n == 0:
            self.x0 = self.y0 = 0.0
            self.inv_dx = self.inv_dy = 0.0
            return
        shapely.prepare(self.geoms)
        self._build(cells_per_polygon, max_cells)

    # -- build ---------------------------------------------------------------------------------------------

    def _build(self, cells_per_polygon: float, max_cells: int) -> None:
        minx, miny, maxx, maxy = shapely.total_bounds(self.geoms)
        kx, ky = metres_per_degree((miny + maxy) / 2)
        width_m, height_m = max((maxx - minx) * kx, 1.0), max((maxy - miny) * ky, 1.0)
        # Size cells from the polygons' own size, not the box: a box mostly empty should not starve them.
        covered_m2 = float(np.sum(shapely.area(self.geoms))) * kx * ky
        # up to 4× more cells for empty space in the box; beyond that (areas scattered over a country) the
        # lattice coarsens and more points take the exact path rather than memory growing without bound
        emptiness = min(4.0, (width_m * height_m) / max(covered_m2, 1.0))
        target = min(max_cells, max(_MIN_CELLS, cells_per_polygon * self.n * emptiness))
        side_m = math.sqrt(width_m * height_m / target)
        dx, dy = side_m / kx, side_m / ky
        # one spare cell on each side so no polygon touches the lattice's outer edge
        self.x0, self.y0 = minx - dx, miny - dy
        self.nx = math.ceil((maxx - minx) / dx) + 3
        self.ny = math.ceil((maxy - miny) / dy) + 3
        self.inv_dx, self.inv_dy = 1.0 / dx, 1.0 / dy

        cells, owners = self._rasterise_edges()
        boundary = np.zeros(self.nx * self.ny, dtype=bool)
        boundary[cells] = True

        # Regions no edge crosses: label them, answer one representative point each.
        from scipy import ndimage  # imported by the first index build, not at the service's start

        labels, count = ndimage.label(~boundary.reshape(self.ny, self.nx))
        labels = labels.ravel()
        value = np.full(self.nx * self.ny, OUTSIDE, dtype=np.int32)
        if count:
            # any one cell of each region represents it (which one wins a repeated index does not matter)
            reps = np.full(count + 1, -1, dtype=np.int64)
            flat = np.flatnonzero(labels)
            reps[labels[flat]] = flat
            reps = reps[1:]
            cx = self.x0 + (reps % self.nx + 0.5) / self.inv_dx
            cy = self.y0 + (reps // self.nx + 0.5) / self.inv_dy
            region_value = np.concatenate([[OUTSIDE], self._exact_all(cx, cy)]).astype(np.int32)
            value = region_value[labels]

        # Boundary cells: candidates = polygons whose edges may touch the cell (the rasterisation is a superset)
        # plus every polygon covering the cell's centre: a polygon that covers any point of the cell without
        # an edge in it contains the whole cell, centre included (overlaps and cells merely near an edge).
        boundary_cells = cells[_first_of_runs(cells)]  # cells come sorted from the rasteriser
        cx = self.x0 + (boundary_cells % self.nx + 0.5) / self.inv_dx
        cy = self.y0 + (boundary_cells // self.nx + 0.5) / self.inv_dy
        centre, holder = shapely.STRtree(self.geoms).query(shapely.points(cx, cy), predicate="intersects")
        cells = np.concatenate([cells, boundary_cells[centre]])
        owners = np.concatenate([owners, holder.astype(np.int32)])
        pairs = sorted_unique(cells.astype(np.int64) * (self.n + 1) + owners)
        pair_cells, pair_owners = pairs // (self.n + 1), (pairs % (self.n + 1)).astype(np.int32)
        starts = np.flatnonzero(_first_of_runs(pair_cells))
        slot_cells = pair_cells[starts]
        self.slot_ptr = np.append(starts, len(pair_cells)).astype(np.int64)
        self.slot_candidates = pair_owners  # ascending within each cell: lowest index (code) first
        value[slot_cells] = -2 - np.arange(len(slot_cells), dtype=np.int32)
        self.cell_value = value

    def _rasterise_edges(self) -> tuple[np.ndarray, np.ndarray]:
        """(cell, polygon) for every lattice cell that an edge of a polygon's rings touches."""
        parts, part_owner = shapely.get_parts(self.geoms, return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        ring_owner = part_owner[ring_part]
        coords, ring_index = shapely.get_coordinates(rings, return_index=True)
        u = (coords[:, 0] - self.x0) * self.inv_dx
        v = (coords[:, 1] - self.y0) * self.inv_dy
        same_ring = ring_index[1:] == ring_index[:-1]
        u0, v0, u1, v1 = u[:-1][same_ring], v[:-1][same_ring], u[1:][same_ring], v[1:][same_ring]
        seg_owner = ring_owner[ring_index[:-1][same_ring]]
        # pieces no longer than half a cell, so each piece's bounding box spans at most 2 × 2 cells (3 with eps)
        pieces = np.maximum(np.ceil(np.maximum(np.abs(u1 - u0), np.abs(v1 - v0)) * 2), 1).astype(np.int64)
        seg = np.repeat(np.arange(len(u0)), pieces)
        k = np.arange(len(seg)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
        t0, t1 = k / pieces[seg], (k + 1) / pieces[seg]
        pu0, pu1 = u0[seg] + (u1[seg] - u0[seg]) * t0, u0[seg] + (u1[seg] - u0[seg]) * t1
        pv0, pv1 = v0[seg] + (v1[seg] - v0[seg]) * t0, v0[seg] + (v1[seg] - v0[seg]) * t1
        # grown by more than ON_BOUNDARY_DEG, so every point that near an edge lies in a boundary cell
        eps_u = max(_EPS_CELLS, 2 * ON_BOUNDARY_DEG * self.inv_dx)
        eps_v = max(_EPS_CELLS, 2 * ON_BOUNDARY_DEG * self.inv_dy)
        i0 = np.floor(np.minimum(pu0, pu1) - eps_u).astype(np.int64)
        i1 = np.floor(np.maximum(pu0, pu1) + eps_u).astype(np.int64)
        j0 = np.floor(np.minimum(pv0, pv1) - eps_v).astype(np.int64)
        j1 = np.floor(np.maximum(pv0, pv1) + eps_v).astype(np.int64)
        owner = seg_owner[seg]
        out_cells, out_owner = [], []
        for di in range(3):
            for dj in range(3):
                ok = (i0 + di <= i1) & (j0 + dj <= j1)
                out_cells.append((j0[ok] + dj) * self.nx + (i0[ok] + di))
                out_owner.append(owner[ok])
        cells = np.concatenate(out_cells)
        owners = np.concatenate(out_owner).astype(np.int32)
        keys = sorted_unique(cells * (self.n + 1) + owners)
        return keys // (self.n + 1), (keys % (self.n + 1)).astype(np.int32)

    def _exact_all(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Exact assignment against every polygon (STRtree), lowest covering index; for a few points."""
        pts, polys = shapely.STRtree(self.geoms).query(shapely.points(x, y), predicate="intersects")
        return lowest_per_point(pts, polys, len(x))

    # -- query ---------------------------------------------------------------------------------------------

    def assign(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Index of the covering polygon with the lowest index for each point (WGS-84 degrees), or -1.

        NaN coordinates come back as -1; callers reject them before.
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        result = np.full(len(x), OUTSIDE, dtype=np.int32)
        if self.n == 0 or len(x) == 0:
            return result
        u = (x - self.x0) * self.inv_dx
        v = (y - self.y0) * self.inv_dy
        with np.errstate(invalid="ignore"):
            inside = (u >= 0) & (u < self.nx) & (v >= 0) & (v < self.ny)
        if inside.all():
            cell = v.astype(np.int64) * self.nx + u.astype(np.int64)
            result = self.cell_value[cell]
        else:
            idx = np.flatnonzero(inside)
            cell = v[idx].astype(np.int64) * self.nx + u[idx].astype(np.int64)
            result[idx] = self.cell_value[cell]
        boundary = np.flatnonzero(result <= -2)
        if len(boundary):
            result[boundary] = self._exact_boundary(x[boundary], y[boundary], -2 - result[boundary])
        return result

    def _exact_boundary(self, x: np.ndarray, y: np.ndarray, slots: np.ndarray) -> np.ndarray:
        starts = self.slot_ptr[slots]
        counts = self.slot_ptr[slots + 1] - starts
        point = np.repeat(np.arange(len(x)), counts)
        offset = np.arange(len(point)) - np.repeat(np.cumsum(counts) - counts, counts)
        candidate = self.slot_candidates[np.repeat(starts, counts) + offset]
        hit = shapely.intersects_xy(self.geoms[candidate], x[point], y[point])
        # pairs run point by point, each cell's candidates ascending (slot_candidates): already in tie order,
        # so the lexsort of the general case (~a quarter of the exact path's cost) is not needed
        result = lowest_per_point(point[hit], candidate[hit], len(x), ordered=True)
        missing = result == OUTSIDE
        if missing.any():  # covered by none: on a boundary up to rounding?
            pairs = np.flatnonzero(missing[point])
            near = shapely.dwithin(
                self.geoms[candidate[pairs]],
                shapely.points(x[point[pairs]], y[point[pairs]]),
                ON_BOUNDARY_DEG,
            )
            nearest = lowest_per_point(point[pairs[near]], candidate[pairs[near]], len(x), ordered=True)
            result[missing] = nearest[missing]
        return result.astype(np.int32)

    def stats(self) -> dict[str, float]:
        """Lattice size and the share of boundary cells (for the benchmark and logs)."""
        cells = self.nx * self.ny
        boundary = int(np.count_nonzero(self.cell_value <= -2)) if self.n else 0
        return {
            "polygons": self.n,
            "cells": cells,
            "boundary_cells": boundary,
            "boundary_share": boundary / cells if cells else 0.0,
        }
