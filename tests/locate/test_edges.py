"""Points on grid edges (issue 11, point 12): a point a grid covers always gets a grid, on an outer boundary
too; import snapping never opens a gap (nor an overlap) between neighbours that shared an edge in the input,
so points on the shared edge locate to exactly one of them, the same one every time, in the in-process
index (GET /api/locate) and the batch route alike."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import shape

from geo_service.crs import metres_per_degree
from tests.grids.conftest import feature, rect

BASE = (116.30, 39.95)  # places of their own, away from the other tests' areas
KX, KY = metres_per_degree(BASE[1])


def origin(prefix: str) -> tuple[float, float]:
    """Each test district 2 km east of the last (districts are siblings and must not overlap)."""
    return (BASE[0] + int(prefix[-2:]) * 2000 / KX, BASE[1])


def at(x_m: float, y_m: float, prefix: str) -> list[float]:
    here = origin(prefix)
    return [here[0] + x_m / KX, here[1] + y_m / KY]


def polygon(points_m: list[tuple[float, float]], prefix: str) -> dict[str, Any]:
    ring = [at(x, y, prefix) for x, y in points_m]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def _hierarchy(client: TestClient, headers: dict[str, str], prefix: str, community: dict[str, Any]) -> str:
    """District and street a wide square around ``community`` (so nothing snaps it), and the community."""
    wide = rect(-200, -200, 700, 700, origin(prefix))
    features = [
        feature(prefix, wide, "district"),
        feature(f"{prefix}001", wide, "street", prefix),
        feature(f"{prefix}001001", community, "community", f"{prefix}001"),
    ]
    response = client.post(
        "/api/grids/import", json={"type": "FeatureCollection", "features": features}, headers=headers
    )
    assert response.status_code == 200, response.text
    return f"{prefix}001001"


def _stored(client: TestClient, code: str) -> shapely.Geometry:
    return shape(client.get(f"/api/grids/{code}").json()["geometry"])


def _points_on(lines: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """The vertices of ``lines`` and ``n`` points interpolated along the segments of each of its parts."""
    out = []
    for part in shapely.get_parts(lines):
        c = shapely.get_coordinates(part)
        out.append(c)
        k = rng.integers(0, len(c) - 1, n)
        t = rng.uniform(0, 1, n)[:, None]
        out.append(c[k] + t * (c[k + 1] - c[k]))
    return np.vstack(out)


def _locate_all(client: TestClient, points: np.ndarray) -> tuple[list[str | None], list[str | None]]:
    single = [client.get("/api/locate", params={"lon": x, "lat": y}).json()["grid"] for x, y in points]
    batch = client.post("/api/locate/batch", json={"points": points.tolist()}).json()["results"]
    return [g and g["code"] for g in single], [r["grid_code"] for r in batch]


def _no_gap_between(a: shapely.Geometry, b: shapely.Geometry) -> None:
    """No overlap, no hole, and no sliver however thin: nothing within a millimetre of both neighbours lies
    outside both (away from the two ends of their shared edge, where the outside begins)."""
    assert shapely.area(shapely.intersection(a, b)) * KX * KY < 1e-6, "the neighbours overlap"
    union = shapely.union(a, b)
    assert len(shapely.get_parts(union)) == 1
    assert all(len(p.interiors) == 0 for p in shapely.get_parts(union)), "a hole between the neighbours"
    shared = shapely.line_merge(shapely.intersection(shapely.boundary(a), shapely.boundary(b)))
    assert shapely.length(shared) > 0
    ends = shapely.buffer(shapely.boundary(shared), 3 / KX)
    mm = 1e-3 / KX
    between = shapely.difference(shapely.intersection(shapely.buffer(a, mm), shapely.buffer(b, mm)), union)
    assert shapely.area(shapely.difference(between, ends)) * KX * KY < 1e-9, "a hairline gap between them"


def test_snapping_keeps_an_input_shared_edge_shared(
    client: TestClient, planner_headers: dict[str, str]
) -> None:
    """The community has vertices under a metre from the corners where its two grids meet. Snapping used to
    insert them into one grid's side of the shared edge but into the other grid's outer edges, bending the
    two sides of a shared edge apart: the import of grids that tile the community failed with an overlap of
    some 200 m² (or, with the vertices elsewhere, left a sliver between them)."""
    prefix = "120101"
    community = _hierarchy(
        client,
        planner_headers,
        prefix,
        polygon([(0, 0), (250.45, 0), (500, 0), (500, 500), (251.37, 500), (0, 500)], prefix),
    )
    shared = [(250.17, 0.0), (250.48, 500.0)]
    west = feature(f"{community}001", polygon([(0, 0), *shared, (0, 500)], prefix), parent=community)
    east = feature(
        f"{community}002", polygon([shared[0], (500, 0), (500, 500), shared[1]], prefix), parent=community
    )
    response = client.post(
        "/api/grids/import",
        json={"type": "FeatureCollection", "features": [west, east]},
        headers=planner_headers,
    )
    assert response.status_code == 200, response.text
    a, b = _stored(client, f"{community}001"), _stored(client, f"{community}002")
    _no_gap_between(a, b)

    rng = np.random.default_rng(12)
    on_edge = _points_on(shapely.intersection(shapely.boundary(a), shapely.boundary(b)), 40, rng)
    single, batch = _locate_all(client, on_edge)
    covered_by_a = shapely.covers(a, shapely.points(on_edge))
    expected = [f"{community}001" if in_a else f"{community}002" for in_a in covered_by_a]
    assert single == batch == expected, "on the shared edge: exactly one grid, the lowest code that covers it"
    again, _ = _locate_all(client, on_edge)
    assert again == single, "the same one every time"


def test_outer_boundary_points_get_their_grid(client: TestClient, planner_headers: dict[str, str]) -> None:
    """Points on a grid's outer boundary (no grid beyond it) are answered with it: the vertices and points
    the grid covers, and points on its diagonal edges that floating point puts a rounding error outside
    (distance 0 to the grid in any unit a person reads) — these used to get no grid."""
    prefix = "120102"
    community = _hierarchy(client, planner_headers, prefix, rect(0, 0, 500, 500, origin(prefix)))
    diamond = polygon([(250, 20), (480, 250), (250, 480), (20, 250)], prefix)  # diagonal edges
    response = client.post(
        "/api/grids", json=feature(f"{community}001", diamond, parent=community), headers=planner_headers
    )
    assert response.status_code == 201, response.text
    grid = _stored(client, f"{community}001")
    points = _points_on(shapely.boundary(grid), 60, np.random.default_rng(4))
    covered = shapely.covers(grid, shapely.points(points))
    assert covered.sum() > 10 and (~covered).sum() > 10, "both kinds of boundary point are exercised"
    assert shapely.distance(grid, shapely.points(points)).max() < 1e-12
    single, batch = _locate_all(client, points)
    assert set(single) == set(batch) == {f"{community}001"}
    far = at(250, 10, prefix)  # 10 m outside: still no grid, the nearest one named
    outside = client.get("/api/locate", params={"lon": far[0], "lat": far[1]}).json()
    assert outside["grid"] is None and outside["nearest_grid"]["code"] == f"{community}001"


def test_a_new_grid_on_a_stored_neighbours_edge_leaves_no_hairline(
    client: TestClient, planner_headers: dict[str, str]
) -> None:
    """A new grid drawn along a stored neighbour's diagonal edge, with a vertex of its own in the middle of
    that edge (never exactly on it in floating point): snapping makes its edge the neighbour's, so no
    sub-millimetre sliver is left for points on the edge to fall into."""
    prefix = "120103"
    community = _hierarchy(client, planner_headers, prefix, rect(0, 0, 500, 500, origin(prefix)))
    east = polygon([(180, 0), (500, 0), (500, 500), (320, 500)], prefix)
    assert (
        client.post(
            "/api/grids", json=feature(f"{community}002", east, parent=community), headers=planner_headers
        ).status_code
        == 201
    )
    b = _stored(client, f"{community}002")
    start, end = np.array(at(180, 0, prefix)), np.array(at(320, 500, prefix))
    middle = (start + 0.37 * (end - start)).tolist()  # a T-junction in the middle of the stored edge
    west = {
        "type": "Polygon",
        "coordinates": [
            [at(0, 0, prefix), start.tolist(), middle, end.tolist(), at(0, 500, prefix), at(0, 0, prefix)]
        ],
    }
    response = client.post(
        "/api/grids", json=feature(f"{community}001", west, parent=community), headers=planner_headers
    )
    assert response.status_code == 201, response.text
    a = _stored(client, f"{community}001")
    _no_gap_between(a, b)
    t = np.random.default_rng(8).uniform(0, 1, 300)[:, None]
    on_edge = start + t * (end - start)
    single, batch = _locate_all(client, on_edge)
    assert None not in single and None not in batch, "a point on the shared edge fell between the grids"
    assert single == batch
