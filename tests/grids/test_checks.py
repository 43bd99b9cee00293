"""Every write is checked: invalid rings, sibling overlaps, outside the parent, slivers; the dry run also
finds gaps. Problems come back as 422 with locations, and nothing is written."""

from __future__ import annotations

import shapely
from fastapi.testclient import TestClient

from geo_service.db.pool import Database
from tests.grids.conftest import feature, hierarchy, origin_for, problems_of
from tests.grids.conftest import lonlat as _lonlat
from tests.grids.conftest import rect as _rect
from tests.grids.conftest import ring as _ring

COMMUNITY = "110101001001"
HERE = origin_for("110101")


def rect(x0: float, y0: float, x1: float, y1: float) -> dict:
    return _rect(x0, y0, x1, y1, HERE)


def ring(points: list[tuple[float, float]]) -> list[list[float]]:
    return _ring(points, HERE)


def lonlat(x: float, y: float) -> list[float]:
    return _lonlat(x, y, HERE)


def _setup(client: TestClient, headers: dict[str, str]) -> None:
    if client.get(f"/api/grids/{COMMUNITY}").status_code == 404:
        response = client.post(
            "/api/grids/import",
            json={"type": "FeatureCollection", "features": hierarchy("110101")},
            headers=headers,
        )
        assert response.status_code == 200, response.text


def _count(db: Database) -> int:
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(*) FROM areas")
        return cur.fetchone()[0]


def test_self_intersection_is_located(
    client: TestClient, planner_headers: dict[str, str], db: Database
) -> None:
    _setup(client, planner_headers)
    before = _count(db)
    bowtie = {"type": "Polygon", "coordinates": [ring([(0, 0), (100, 100), (100, 0), (0, 100)])]}
    response = client.post(
        "/api/grids", json=feature(f"{COMMUNITY}901", bowtie, parent=COMMUNITY), headers=planner_headers
    )
    assert problems_of(response) == ["self_intersection"]
    problem = response.json()["detail"][0]
    assert problem["code"] == f"{COMMUNITY}901"
    where = shapely.geometry.shape(problem["location"])
    crossing = shapely.Point(lonlat(50, 50))
    assert where.distance(crossing) < 1e-9, "the location is where the ring crosses itself"
    assert _count(db) == before


def test_overlap_with_sibling(client: TestClient, planner_headers: dict[str, str], db: Database) -> None:
    _setup(client, planner_headers)
    first = client.post(
        "/api/grids",
        json=feature(f"{COMMUNITY}001", rect(0, 0, 500, 500), parent=COMMUNITY),
        headers=planner_headers,
    )
    assert first.status_code == 201, first.text
    before = _count(db)
    response = client.post(
        "/api/grids",
        json=feature(f"{COMMUNITY}002", rect(450, 0, 1000, 500), parent=COMMUNITY),
        headers=planner_headers,
    )
    assert problems_of(response) == ["overlap"]
    problem = response.json()["detail"][0]
    assert problem["codes"] == [f"{COMMUNITY}002", f"{COMMUNITY}001"]
    assert 50 * 500 * 0.99 < problem["area_m2"] < 50 * 500 * 1.01
    overlap = shapely.geometry.shape(problem["location"])
    assert overlap.covers(shapely.Point(lonlat(475, 250)))
    assert _count(db) == before


def test_outside_parent(client: TestClient, planner_headers: dict[str, str]) -> None:
    _setup(client, planner_headers)
    response = client.post(
        "/api/grids",
        json=feature(f"{COMMUNITY}003", rect(800, 800, 1200, 1000), parent=COMMUNITY),
        headers=planner_headers,
    )
    assert problems_of(response) == ["outside_parent"]
    problem = response.json()["detail"][0]
    assert 200 * 200 * 0.99 < problem["area_m2"] < 200 * 200 * 1.01
    assert shapely.geometry.shape(problem["location"]).covers(shapely.Point(lonlat(1100, 900)))


def test_sliver(client: TestClient, planner_headers: dict[str, str]) -> None:
    _setup(client, planner_headers)
    response = client.post(
        "/api/grids",
        json=feature(f"{COMMUNITY}004", rect(600, 600, 900, 600.5), parent=COMMUNITY),
        headers=planner_headers,
    )
    assert "sliver" in problems_of(response)


def test_unknown_parent_and_bad_level(client: TestClient, planner_headers: dict[str, str]) -> None:
    _setup(client, planner_headers)
    response = client.post(
        "/api/grids", json=feature("X-1", rect(0, 0, 10, 10), parent="NO-SUCH"), headers=planner_headers
    )
    assert "unknown_parent" in problems_of(response)
    response = client.post(
        "/api/grids",
        json=feature("X-2", rect(0, 600, 300, 900), level="street", parent=COMMUNITY),
        headers=planner_headers,
    )
    assert "bad_level" in problems_of(response)


def test_bad_geometry_and_coordinates(client: TestClient, planner_headers: dict[str, str]) -> None:
    _setup(client, planner_headers)
    line = {"type": "LineString", "coordinates": [[116.4, 39.9], [116.41, 39.91]]}
    assert problems_of(client.post("/api/grids", json=feature("X-3", line), headers=planner_headers)) == [
        "invalid_geometry"
    ]
    swapped = {
        "type": "Polygon",
        "coordinates": [[[39.9, 116.4], [39.91, 116.4], [39.91, 116.41], [39.9, 116.4]]],
    }
    response = client.post(
        "/api/grids", json=feature("X-4", swapped), headers={**planner_headers, "Accept-Language": "en"}
    )
    assert problems_of(response) == ["invalid_coordinates"]
    assert "swapped" in response.json()["detail"][0]["message"]
    assert response.json()["code"] == "grid.invalid_coordinates"
    chinese = client.post("/api/grids", json=feature("X-4", swapped), headers=planner_headers)
    assert "填反" in chinese.json()["detail"][0]["message"] and "填反" in chinese.json()["message"]
    unclosed = {
        "type": "Polygon",
        "coordinates": [[[116.4, 39.9], [116.41, 39.9], [116.41, 39.91], [116.4, 39.91]]],
    }
    assert problems_of(client.post("/api/grids", json=feature("X-5", unclosed), headers=planner_headers)) == [
        "invalid_ring"
    ]
    nan = client.post(
        "/api/grids",
        content=b'{"type":"Feature","properties":{"code":"X-6"},"geometry":{"type":"Polygon",'
        b'"coordinates":[[[NaN,39.9],[116.41,39.9],[116.41,39.91],[NaN,39.9]]]}}',
        headers={**planner_headers, "Content-Type": "application/json"},
    )
    assert nan.status_code == 422


def test_writes_need_planner(client: TestClient, dispatcher_headers: dict[str, str]) -> None:
    body = feature("X-7", rect(0, 0, 10, 10))
    assert client.post("/api/grids", json=body).status_code == 401
    assert client.post("/api/grids", json=body, headers=dispatcher_headers).status_code == 403


def test_validate_reports_gaps_overlaps_and_writes_nothing(
    client: TestClient, planner_headers: dict[str, str], db: Database
) -> None:
    _setup(client, planner_headers)
    before = _count(db)
    drafts = {
        "type": "FeatureCollection",
        "features": [
            feature(f"{COMMUNITY}010", rect(500, 0, 1000, 500), parent=COMMUNITY),
            feature(
                f"{COMMUNITY}011", rect(0, 500, 400, 1000), parent=COMMUNITY
            ),  # leaves 400..1000 × 500..1000 open
            feature(
                f"{COMMUNITY}012", rect(900, 400, 1000, 600), parent=COMMUNITY
            ),  # overlaps 010 by 100 × 100
        ],
    }
    response = client.post("/api/grids/validate", json=drafts, headers=planner_headers)
    found = problems_of(response)
    assert "gap" in found and "overlap" in found
    gap = next(p for p in response.json()["detail"] if p["problem"] == "gap")
    assert gap["code"] == COMMUNITY
    assert shapely.geometry.shape(gap["location"]).covers(shapely.Point(lonlat(700, 800)))
    assert _count(db) == before
    clean = client.post(
        "/api/grids/validate",
        json={
            "type": "FeatureCollection",
            "features": [
                feature(f"{COMMUNITY}010", rect(500, 0, 1000, 500), parent=COMMUNITY),
                feature(f"{COMMUNITY}011", rect(0, 500, 1000, 1000), parent=COMMUNITY),
            ],
        },
        headers=planner_headers,
    )
    assert clean.status_code == 200 and clean.json()["valid"] is True, clean.text
    stored = client.post(f"/api/grids/validate?parent_code={COMMUNITY}", headers=planner_headers)
    assert "gap" in problems_of(stored), "only the first quadrant is stored"


def test_snapping_makes_neighbours_share_edges(client: TestClient, planner_headers: dict[str, str]) -> None:
    _setup(client, planner_headers)
    left = client.get(f"/api/grids/{COMMUNITY}001").json()  # 0..500 × 0..500
    # drawn 0.4 m off the shared edge (a gap) with one vertex 0.3 m inside the neighbour
    drawn = {
        "type": "Polygon",
        "coordinates": [ring([(500.4, 0), (1000, 0), (1000, 500), (500.4, 500), (499.7, 250)])],
    }
    response = client.post(
        "/api/grids", json=feature(f"{COMMUNITY}020", drawn, parent=COMMUNITY), headers=planner_headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["snapped_vertices"] >= 3
    right = shapely.geometry.shape(response.json()["feature"]["geometry"])
    left_geom = shapely.geometry.shape(left["geometry"])
    assert shapely.intersection(left_geom, right).area == 0
    shared = shapely.intersection(shapely.boundary(left_geom), shapely.boundary(right))
    assert abs(shared.length - (left_geom.bounds[3] - left_geom.bounds[1])) < 1e-12, (
        "the whole edge is shared"
    )
    left_vertices = {tuple(c) for c in shapely.get_coordinates(left_geom)}
    right_vertices = {tuple(c) for c in shapely.get_coordinates(right)}
    assert len(left_vertices & right_vertices) >= 2, "shared corners are bit-identical"


def test_validate_drafts_without_codes(client: TestClient, planner_headers: dict[str, str]) -> None:
    _setup(client, planner_headers)
    drawing = {
        "type": "Feature",
        "properties": {"level": "grid", "parent_code": COMMUNITY},
        "geometry": rect(900, 900, 1100, 1000),
    }
    response = client.post("/api/grids/validate", json=drawing, headers=planner_headers)
    problems = response.json()["detail"]
    assert response.status_code == 422
    assert [p["problem"] for p in problems if p["problem"] != "gap"] == ["outside_parent"]
    assert problems[0]["code"] == "(feature 0)"
