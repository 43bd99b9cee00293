"""The convex clip that measures most crosswalk pairs: its areas equal GEOS's intersection areas for convex
clips of convex and non-convex subjects either way round, and the crosswalk with it finds the same pairs as
the exact overlay alone (``with_pieces``), with the same area shares to 1e-5."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import shapely

from geo_service.crs import metres_per_degree
from geo_service.networks.clip import clipped_areas, convex, simple_rings
from geo_service.networks.crosswalk import Homes, crosswalk

ORIGIN = (116.4, 39.9)


def _star(rng: np.random.Generator, cx: float, cy: float, points: int) -> shapely.Polygon:
    angles = np.sort(rng.uniform(0, 2 * np.pi, points))
    radii = rng.uniform(20, 60, points)
    return shapely.Polygon(np.column_stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)]))


def test_clipped_areas_equal_geos() -> None:
    rng = np.random.default_rng(15)
    subjects, clips = [], []
    while len(subjects) < 300:
        subject = _star(rng, 0, 0, int(rng.integers(3, 12)))  # star-shaped: mostly not convex
        if not shapely.is_valid(subject):
            continue
        clip = shapely.convex_hull(_star(rng, *rng.uniform(-50, 50, 2), int(rng.integers(3, 9))))
        if rng.random() < 0.5:
            clip = shapely.reverse(clip)  # clockwise as well as anticlockwise
        subjects.append(subject)
        clips.append(clip)
    geoms = np.array(subjects + clips, dtype=object)
    coords, offsets, simple = simple_rings(geoms)
    assert simple.all()
    is_convex = convex(coords, offsets)
    assert is_convex[300:].all() and not is_convex[:300].all()
    n = np.arange(300)
    ours = clipped_areas(coords, offsets, n, n + 300)
    theirs = shapely.area(shapely.intersection(geoms[:300], geoms[300:]))
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-9)
    assert (theirs == 0).any() and (theirs > 0).any()  # disjoint pairs and overlapping ones


def test_rings_of_multipolygons_and_holes() -> None:
    square = shapely.box(0, 0, 10, 10)
    holed = shapely.Polygon(square.exterior.coords, [shapely.box(2, 2, 4, 4).exterior.coords])
    geoms = np.array(
        [
            square,
            shapely.MultiPolygon([square]),
            shapely.MultiPolygon([square, shapely.box(20, 0, 30, 10)]),
            holed,
        ],
        dtype=object,
    )
    _, offsets, simple = simple_rings(geoms)
    assert simple.tolist() == [True, True, False, False]
    assert np.diff(offsets).tolist() == [4, 4, 4, 4]


def _lattice(n: int, size_m: float, jitter_m: float, rng: np.random.Generator, bend: bool) -> list:
    kx, ky = metres_per_degree(ORIGIN[1])
    xy = np.stack(np.meshgrid(np.arange(n + 1) * size_m, np.arange(n + 1) * size_m, indexing="ij"), axis=-1)
    xy[1:n, 1:n] += rng.uniform(-jitter_m, jitter_m, (n - 1, n - 1, 2))
    out = []
    for i in range(n):
        for j in range(n):
            ring = [xy[i, j], xy[i + 1, j], xy[i + 1, j + 1], xy[i, j + 1]]
            if bend and (i + j) % 2:  # a notch in the middle of the east edge: not convex
                east = (xy[i + 1, j] + xy[i + 1, j + 1]) / 2 - [size_m * 0.3, 0]
                ring = [xy[i, j], xy[i + 1, j], east, xy[i + 1, j + 1], xy[i, j + 1]]
            ring = np.array(ring)
            out.append(
                shapely.Polygon(np.column_stack([ORIGIN[0] + ring[:, 0] / kx, ORIGIN[1] + ring[:, 1] / ky]))
            )
    return out


def test_crosswalk_areas_as_the_overlay() -> None:
    rng = np.random.default_rng(16)
    grids = np.array(_lattice(12, 100.0, 20.0, rng, bend=True), dtype=object)
    cells = np.array(_lattice(9, 133.0, 25.0, rng, bend=False), dtype=object)
    codes = lambda prefix, n: np.array([f"{prefix}{k:03d}" for k in range(n)], dtype=object)  # noqa: E731
    args = (codes("C", len(cells)), cells, codes("G", len(grids)), grids, Homes.empty())
    kw = {"tolerance_m": 5.0, "follow_m": 0.1, "min_length_m": 10.0, "with_mismatches": False}
    fast = crosswalk(*args, **kw)
    exact = crosswalk(*args, **kw, with_pieces=True)
    real_fast = fast.pairs.grid >= 0
    real_exact = exact.pairs.grid >= 0
    assert np.array_equal(fast.pairs.cell[real_fast], exact.pairs.cell[real_exact])
    assert np.array_equal(fast.pairs.grid[real_fast], exact.pairs.grid[real_exact])
    share = lambda cw, real: cw.pairs.area_m2[real] / cw.cell_area_m2[cw.pairs.cell[real]]  # noqa: E731
    # edges straight in degrees bow off edges straight in metres: shares agree to 1e-5 (as with PostGIS)
    assert share(fast, real_fast) == pytest.approx(share(exact, real_exact), abs=1e-5)


def test_the_build_step_caches_both_kernels(tmp_path: Path) -> None:
    """``python -m geo_service.warm`` (make setup, the Dockerfile) leaves the clipping kernels' machine code in
    numba's cache: a fresh install's first crosswalk compiles nothing."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    code = "from geo_service.networks import clip; clip.warm_up()"
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300)
    cached = {path.name.split(".")[1].split("-")[0] for path in tmp_path.rglob("*.nbi")}
    assert cached == {"_convex", "_clip_areas"}
