"""The lattice engine against brute force (STRtree + lowest index), on awkward inputs: Voronoi tilings clipped
to a concave outline, overlapping polygons, holes with a polygon inside, MultiPolygons, slivers, far-apart
clusters — with points on vertices and edge midpoints."""

from __future__ import annotations

import numpy as np
import shapely

from geo_service.locate.lattice import ON_BOUNDARY_DEG, PolygonLattice


def _lowest(pts: np.ndarray, polys: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, -1)
    order = np.lexsort((polys, pts))
    pts, polys = pts[order], polys[order]
    first = np.ones(len(pts), dtype=bool)
    first[1:] = pts[1:] != pts[:-1]
    out[pts[first]] = polys[first]
    return out


def _brute(geoms: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Lowest index covering each point; covered by none, lowest within ON_BOUNDARY_DEG; else -1."""
    tree, points = shapely.STRtree(geoms), shapely.points(x, y)
    covering = _lowest(*tree.query(points, predicate="intersects"), len(x))
    near = _lowest(*tree.query(points, predicate="dwithin", distance=ON_BOUNDARY_DEG), len(x))
    return np.where(covering >= 0, covering, near)


def _points(geoms: np.ndarray, rng: np.random.Generator, n: int = 60_000) -> tuple[np.ndarray, np.ndarray]:
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    x, y = rng.uniform(minx - 0.01, maxx + 0.01, n), rng.uniform(miny - 0.01, maxy + 0.01, n)
    coords = shapely.get_coordinates(geoms)
    v = coords[rng.integers(0, len(coords), n // 5)]
    e = rng.integers(0, len(coords) - 1, n // 5)
    mid = (coords[e] + coords[e + 1]) / 2
    return np.concatenate([x, v[:, 0], mid[:, 0]]), np.concatenate([y, v[:, 1], mid[:, 1]])


def _agree(geoms: np.ndarray, seed: int, **kwargs: float) -> None:
    rng = np.random.default_rng(seed)
    lattice = PolygonLattice(geoms, **kwargs)
    x, y = _points(geoms, rng)
    got, want = lattice.assign(x, y), _brute(geoms, x, y)
    bad = np.flatnonzero(got != want)
    assert len(bad) == 0, f"{len(bad)} disagree, e.g. {[(x[k], y[k], got[k], want[k]) for k in bad[:3]]}"


def test_clipped_voronoi_tiling() -> None:
    rng = np.random.default_rng(1)
    outline = shapely.Polygon([(9.47, 47.05), (9.64, 47.06), (9.6, 47.27), (9.55, 47.15), (9.48, 47.25)])
    seeds = shapely.multipoints(
        np.column_stack([rng.uniform(9.47, 9.64, 800), rng.uniform(47.05, 47.27, 800)])
    )
    cells = shapely.intersection(
        shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=outline)), outline
    )
    cells = cells[~shapely.is_empty(cells)]
    for cells_per_polygon in (20.0, 1000.0):
        _agree(cells, 2, cells_per_polygon=cells_per_polygon)


def test_overlaps_holes_nesting_and_far_clusters() -> None:
    big = shapely.Polygon(
        [(0, 0), (1, 0), (1, 1), (0, 1)], [[(0.2, 0.2), (0.4, 0.2), (0.4, 0.4), (0.2, 0.4)]]
    )
    geoms = np.array(
        [
            big,
            shapely.box(0.2, 0.2, 0.4, 0.4),  # fills the hole exactly
            shapely.box(0.9, 0.9, 1.3, 1.3),  # overlaps big
            shapely.box(0.5, 0.5, 0.6, 0.6),  # inside big (nested)
            shapely.MultiPolygon([shapely.box(1.5, 0, 1.6, 0.1), shapely.box(1.7, 0, 1.8, 0.1)]),
            shapely.box(0.0, 1.0, 1.0, 1.000001),  # a sliver along big's top edge
            shapely.box(40.0, 40.0, 40.1, 40.1),  # far away
        ],
        dtype=object,
    )
    for cells_per_polygon in (5.0, 1000.0):
        _agree(geoms, 3, cells_per_polygon=cells_per_polygon)


def test_empty_and_nan() -> None:
    empty = PolygonLattice(np.empty(0, dtype=object))
    assert empty.assign(np.array([1.0]), np.array([2.0])).tolist() == [-1]
    one = PolygonLattice(np.array([shapely.box(0, 0, 1, 1)], dtype=object))
    assert one.assign(np.array([np.nan, 0.5, 2.0]), np.array([0.5, np.nan, 0.5])).tolist() == [-1, -1, -1]
    assert one.assign(np.array([0.5, 1.0, 0.0]), np.array([0.5, 1.0, 0.3])).tolist() == [0, 0, 0]


def test_shared_edges_with_different_vertices() -> None:
    """Sectors of a disc: each radial edge carries extra vertices on one side only, so the two neighbours
    rasterise the same line in different pieces (a cell can be flagged by one side's piece while lying wholly
    inside the other sector)."""
    rng = np.random.default_rng(4)
    n = 24
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    rays = np.column_stack([np.cos(angles), np.sin(angles)])
    sectors = []
    for i in range(n):
        a = rays[i]
        inner = [tuple(a * t) for t in np.sort(rng.uniform(0.05, 0.95, 7))]  # extra vertices on ray a only
        arc = [
            tuple(np.array([np.cos(t), np.sin(t)]))
            for t in np.linspace(angles[i], angles[(i + 1) % n] + (2 * np.pi if i == n - 1 else 0), 6)
        ]
        sectors.append(shapely.Polygon([(0.0, 0.0), *inner, *arc]))
    geoms = np.array(sectors, dtype=object)
    for cells_per_polygon in (3.0, 10.0, 40.0):
        _agree(geoms, 5, cells_per_polygon=cells_per_polygon)
