"""Areas of polygon intersections where one of the two is convex, without building the intersection.

A simple polygon clipped by a convex one (Sutherland–Hodgman: the subject's ring cut by each edge line of the
clip in turn) keeps the right area even when the subject is not convex (the degenerate edges it may leave
cancel in the shoelace sum). The crosswalk uses it for the bulk of its (cell, grid) pairs — a GEOS overlay
per pair costs ~20 µs, this well under 1 µs — and keeps GEOS for pairs where neither polygon is convex or has
holes or parts, and for every pair whose clipped area is tiny (touching neighbours, slivers), where only an
exact overlay tells zero from a sliver.

Coordinates are planar (metres, the place's metric CRS).
"""

from __future__ import annotations

import numpy as np
import shapely

from geo_service.jit import kernel


def simple_rings(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, offsets) of each polygon's exterior ring (closing vertex dropped), and whether it is one part
    without holes (``simple``). Ring k is ``x[offsets[k]:offsets[k + 1]]``.

    Returns
    -------
    tuple
        (xy as an (n, 2) array, offsets (len(geoms) + 1), simple mask)
    """
    n = len(geoms)
    parts = shapely.get_num_geometries(geoms)
    first = shapely.get_geometry(geoms, 0)
    first = np.where(shapely.get_type_id(geoms) == 3, geoms, first)  # a Polygon is its own first part
    simple = (parts <= 1) & (shapely.get_num_interior_rings(first) == 0) & ~shapely.is_empty(geoms)
    rings = shapely.get_exterior_ring(first)
    coords, owner = shapely.get_coordinates(rings, return_index=True)
    # drop each ring's closing vertex
    last = np.ones(len(owner), dtype=bool)
    last[:-1] = owner[1:] != owner[:-1]
    coords, owner = coords[~last], owner[~last]
    offsets = np.searchsorted(owner, np.arange(n + 1))
    return coords, offsets, simple


def convex(coords: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Whether each ring turns one way only (collinear vertices allowed), at least three vertices."""
    return _convex(coords[:, 0].copy(), coords[:, 1].copy(), offsets.astype(np.int64))


@kernel
def _convex(x: np.ndarray, y: np.ndarray, offsets: np.ndarray) -> np.ndarray:  # pragma: no cover - numba
    n = len(offsets) - 1
    out = np.zeros(n, dtype=np.bool_)
    for k in range(n):
        a, b = offsets[k], offsets[k + 1]
        m = b - a
        if m < 3:
            continue
        pos = False
        neg = False
        for i in range(m):
            i0 = a + i
            i1 = a + (i + 1) % m
            i2 = a + (i + 2) % m
            cross = (x[i1] - x[i0]) * (y[i2] - y[i1]) - (y[i1] - y[i0]) * (x[i2] - x[i1])
            if cross > 0:
                pos = True
            elif cross < 0:
                neg = True
        out[k] = not (pos and neg)
    return out


def clipped_areas(
    coords: np.ndarray, offsets: np.ndarray, subject: np.ndarray, clip: np.ndarray
) -> np.ndarray:
    """Area of ring ``subject[k]`` ∩ convex ring ``clip[k]`` for each k (same units as the coordinates²);
    NaN where the clipped ring outgrew its buffer (the caller falls back to an overlay)."""
    return _clip_areas(
        coords[:, 0].copy(),
        coords[:, 1].copy(),
        offsets.astype(np.int64),
        subject.astype(np.int64),
        clip.astype(np.int64),
    )


@kernel
def _clip_areas(
    x: np.ndarray, y: np.ndarray, offsets: np.ndarray, subject: np.ndarray, clip: np.ndarray
) -> np.ndarray:  # pragma: no cover - numba
    n = len(subject)
    out = np.empty(n)
    for p in range(n):
        s0, s1 = offsets[subject[p]], offsets[subject[p] + 1]
        c0, c1 = offsets[clip[p]], offsets[clip[p] + 1]
        ns, nc = s1 - s0, c1 - c0
        cap = 4 * (ns + nc) + 8
        ax = np.empty(cap)
        ay = np.empty(cap)
        bx = np.empty(cap)
        by = np.empty(cap)
        # coordinates relative to the subject's first vertex: products of small numbers (as GEOS does for
        # areas), not of 10⁶-metre eastings
        ox, oy = x[s0], y[s0]
        for i in range(ns):
            ax[i] = x[s0 + i] - ox
            ay[i] = y[s0 + i] - oy
        na = ns
        # the clip ring's orientation: inside is on the left of its edges when it runs anticlockwise
        twice = 0.0
        for i in range(nc):
            j = (i + 1) % nc
            twice += (x[c0 + i] - ox) * (y[c0 + j] - oy) - (x[c0 + j] - ox) * (y[c0 + i] - oy)
        sign = 1.0 if twice > 0 else -1.0
        overflow = False
        for e in range(nc):
            if na == 0:
                break
            px, py = x[c0 + e] - ox, y[c0 + e] - oy
            qx, qy = x[c0 + (e + 1) % nc] - ox, y[c0 + (e + 1) % nc] - oy
            dx, dy = qx - px, qy - py
            nb = 0
            for i in range(na):
                ux, uy = ax[i - 1] if i > 0 else ax[na - 1], ay[i - 1] if i > 0 else ay[na - 1]
                vx, vy = ax[i], ay[i]
                su = sign * (dx * (uy - py) - dy * (ux - px))
                sv = sign * (dx * (vy - py) - dy * (vx - px))
                if nb + 2 > cap:
                    overflow = True
                    break
                if sv >= 0:
                    if su < 0:
                        t = su / (su - sv)
                        bx[nb] = ux + t * (vx - ux)
                        by[nb] = uy + t * (vy - uy)
                        nb += 1
                    bx[nb] = vx
                    by[nb] = vy
                    nb += 1
                elif su >= 0:
                    t = su / (su - sv)
                    bx[nb] = ux + t * (vx - ux)
                    by[nb] = uy + t * (vy - uy)
                    nb += 1
            if overflow:
                break
            ax, bx = bx, ax
            ay, by = by, ay
            na = nb
        if overflow:
            out[p] = np.nan
            continue
        twice = 0.0
        for i in range(na):
            j = (i + 1) % na
            twice += ax[i] * ay[j] - ax[j] * ay[i]
        out[p] = abs(twice) / 2.0
    return out


def warm_up() -> None:
    """Both kernels run once on two overlapping squares: numba's machine code compiled and cached at build
    time (``python -m geo_service.warm``), not by the first crosswalk of a fresh install (~2 s)."""
    squares = np.array([shapely.box(0, 0, 2, 2), shapely.box(1, 1, 3, 3)])
    coords, offsets, _ = simple_rings(squares)
    convex(coords, offsets)
    clipped_areas(coords, offsets, np.array([0]), np.array([1]))
