"""Spatial partitioning of points: square lon/lat cells numbered along a Hilbert curve.

A batch job gives every point the Hilbert number of its cell and shuffles the points so that each cell lands
whole in one partition; a task then handles its partition cell by cell, in Hilbert order, loading for each
cell only the grids and the part of the walking network around it.
"""

from __future__ import annotations

import math

import numpy as np

from geo_service.batch.errors import BatchError
from geo_service.hilbert import ORDER, hilbert_index

# cells are numbered on the curve of order ORDER (65,536 cells a side): a cell of 0.0055° or more covers the globe
NO_CELL = -1  # invalid coordinates


def cell_xy(lon: np.ndarray, lat: np.ndarray, cell_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer cell coordinates of WGS-84 points and whether each point is valid."""
    lon = np.asarray(lon, np.float64)
    lat = np.asarray(lat, np.float64)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    side = (1 << ORDER) - 1
    ix = np.clip(np.floor((np.where(valid, lon, 0.0) + 180.0) / cell_deg), 0, side).astype(np.int64)
    iy = np.clip(np.floor((np.where(valid, lat, 0.0) + 90.0) / cell_deg), 0, side).astype(np.int64)
    return ix, iy, valid


def cell_keys(lon: np.ndarray, lat: np.ndarray, cell_deg: float) -> np.ndarray:
    """The Hilbert number of each point's cell (``NO_CELL`` for invalid coordinates)."""
    check_cell_deg(cell_deg)
    ix, iy, valid = cell_xy(lon, lat, cell_deg)
    # a block of points covers few cells: number each distinct cell once
    cells, inverse = np.unique(ix << ORDER | iy, return_inverse=True)
    keys = hilbert_index(cells >> ORDER, cells & ((1 << ORDER) - 1))
    return np.where(valid, keys[inverse.ravel()], NO_CELL)


def check_cell_deg(cell_deg: float) -> None:
    if not (math.isfinite(cell_deg) and 360.0 / (1 << ORDER) <= cell_deg <= 10.0):
        raise BatchError("batch.cell_size", value=cell_deg, low=f"{360.0 / (1 << ORDER):.4f}", high=10)


def cell_box(lon: float, lat: float, cell_deg: float) -> tuple[float, float, float, float]:
    """The (west, south, east, north) box of the cell holding a valid point."""
    ix, iy, _ = cell_xy(np.array([lon]), np.array([lat]), cell_deg)
    west, south = int(ix[0]) * cell_deg - 180.0, int(iy[0]) * cell_deg - 90.0
    return west, south, west + cell_deg, south + cell_deg


def grow_box(box: tuple[float, float, float, float], metres: float) -> tuple[float, float, float, float]:
    """``box`` widened by at least ``metres`` on every side (degrees of longitude shrink towards the poles)."""
    west, south, east, north = box
    dlat = metres / 110_000.0  # a degree of latitude is ≥ 110.57 km: never too little
    top = min(89.9, max(abs(south), abs(north)) + dlat)
    dlon = metres / (111_000.0 * math.cos(math.radians(top)))
    return (
        max(-180.0, west - dlon),
        max(-90.0, south - dlat),
        min(180.0, east + dlon),
        min(90.0, north + dlat),
    )


def cell_groups(lon: np.ndarray, lat: np.ndarray, cell_deg: float) -> list[tuple[int, np.ndarray]]:
    """The row positions of the points of each cell, cells in Hilbert order, as ``(key, rows)`` with the key
    of :func:`cell_keys`; points with invalid coordinates are left out.

    A block of points covers few cells: the points are grouped by one counting sort over the cells of the
    block's bounding rectangle (numpy's radix sort for up to 65,536 of them), not by sorting Hilbert numbers.
    """
    check_cell_deg(cell_deg)
    ix, iy, valid = cell_xy(lon, lat, cell_deg)
    rows = np.flatnonzero(valid)
    if not rows.size:
        return []
    ix, iy = ix[rows], iy[rows]
    x0, y0 = int(ix.min()), int(iy.min())
    height = int(iy.max()) - y0 + 1
    span = (int(ix.max()) - x0 + 1) * height
    local = (ix - x0) * height + (iy - y0)
    if span <= 1 << 16:
        order = np.argsort(local.astype(np.uint16), kind="stable")
        counts = np.bincount(local, minlength=span)
        present = np.flatnonzero(counts)
        parts = np.split(rows[order], np.cumsum(counts[present])[:-1])
    else:
        present, inverse = np.unique(local, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        parts = np.split(rows[order], np.cumsum(np.bincount(inverse))[:-1])
    keys = hilbert_index(present // height + x0, present % height + y0)
    return [(int(keys[k]), parts[k]) for k in np.argsort(keys, kind="stable")]
