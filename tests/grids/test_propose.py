"""Grid proposals: contiguous grids along streets, no overlaps, the parent covered, households in band
where feasible; the proposal imports as it is."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from geo_service.crs import metric_epsg_for
from geo_service.db.pool import Database
from geo_service.grids.demo import DEMO_COUNTY
from geo_service.grids.geometry import to_metric
from tests.documented import mismatches, response_schema
from tests.grids.conftest import hierarchy, lonlat, origin_for

PREFIX = "110120"
HERE = origin_for(PREFIX)
COMMUNITY = f"{PREFIX}001001"
BLOCK_M, BLOCKS = 100.0, 8


@pytest.fixture(scope="module")
def synthetic(db: Database, client: TestClient, planner_headers: dict[str, str]) -> str:
    """An 800 m square community with a 100 m street lattice and 4 homes × 20 households in every block."""
    size = BLOCK_M * BLOCKS
    response = client.post(
        "/api/grids/import",
        json={"type": "FeatureCollection", "features": hierarchy(PREFIX, size)},
        headers=planner_headers,
    )
    assert response.status_code == 200, response.text
    with db.cursor() as cur:
        cur.execute("INSERT INTO datasets (name, kind, srid) VALUES ('synthetic', 'test', 32650)")
        for k in range(BLOCKS + 1):
            for a, b in (((k * BLOCK_M, 0), (k * BLOCK_M, size)), ((0, k * BLOCK_M), (size, k * BLOCK_M))):
                (x0, y0), (x1, y1) = lonlat(*a, HERE), lonlat(*b, HERE)
                cur.execute(
                    """INSERT INTO walk_edges (dataset, u, v, length_m, highway, geom)
                       VALUES ('synthetic', 0, 0, %s, 'residential', ST_MakeLine(ST_Point(%s, %s, 4326), ST_Point(%s, %s, 4326)))""",
                    (size, x0, y0, x1, y1),
                )
        for i in range(BLOCKS):
            for j in range(BLOCKS):
                for dx, dy in ((25, 25), (75, 25), (25, 75), (75, 75)):
                    x, y = lonlat(i * BLOCK_M + dx, j * BLOCK_M + dy, HERE)
                    cur.execute(
                        """INSERT INTO residences (dataset, building, households_est, geom)
                           VALUES ('synthetic', 'apartments', 20, ST_Point(%s, %s, 4326))""",
                        (x, y),
                    )
    return COMMUNITY


def _check_partition(parent: shapely.Geometry, features: list[dict]) -> list[shapely.Geometry]:
    geoms = [shapely.geometry.shape(f["geometry"]) for f in features]
    epsg = metric_epsg_for([parent])
    for i, a in enumerate(geoms):
        assert a.is_valid and a.geom_type == "Polygon", "each proposed grid is one contiguous piece"
        for b in geoms[i + 1 :]:
            assert shapely.area(to_metric(shapely.intersection(a, b), epsg)) < 0.01, "no overlaps"
    gap = shapely.area(to_metric(shapely.difference(parent, shapely.union_all(geoms)), epsg))
    assert gap < 1.0, f"the parent is covered ({gap:.2f} m² missing)"
    return geoms


def test_balanced_where_feasible(client: TestClient, synthetic: str) -> None:
    response = client.post("/api/grids/propose", json={"parent_code": synthetic})
    assert response.status_code == 200, response.text
    proposal = response.json()
    features = proposal["features"]
    assert proposal["summary"]["households"] == 5120 and proposal["summary"]["feasible"]
    households = [f["properties"]["households"] for f in features]
    assert all(300 <= h <= 500 for h in households), households
    assert sum(households) == 5120
    parent = shapely.geometry.shape(client.get(f"/api/grids/{synthetic}").json()["geometry"])
    geoms = _check_partition(parent, features)
    # boundaries follow streets: every grid edge lies on the 100 m lattice
    for geom in geoms:
        for x, y in shapely.get_coordinates(geom):
            xm = (x - HERE[0]) / (lonlat(1, 0, HERE)[0] - HERE[0])
            ym = (y - HERE[1]) / (lonlat(0, 1, HERE)[1] - HERE[1])
            assert (
                min(abs(xm / BLOCK_M - round(xm / BLOCK_M)), abs(ym / BLOCK_M - round(ym / BLOCK_M))) < 1e-6
            )
    codes = [f["properties"]["code"] for f in features]
    assert codes == sorted(codes) and all(c.startswith(synthetic) and len(c) == 15 for c in codes)
    # a different band gives a different count
    narrow = client.post(
        "/api/grids/propose", json={"parent_code": synthetic, "households_min": 150, "households_max": 250}
    ).json()
    assert all(150 <= f["properties"]["households"] <= 250 for f in narrow["features"])
    assert len(narrow["features"]) > len(features)


def test_proposal_imports_as_is(client: TestClient, synthetic: str, planner_headers: dict[str, str]) -> None:
    document = client.get("/openapi.json").json()
    proposal = client.post("/api/grids/propose", json={"parent_code": synthetic}).json()
    schema = response_schema(document, "/api/grids/propose", "post", "200")
    assert mismatches(document, schema, proposal) == []  # the summary and each grid's properties too
    validated = client.post("/api/grids/validate", json=proposal, headers=planner_headers)
    assert validated.status_code == 200, validated.text
    schema = response_schema(document, "/api/grids/validate", "post", "200")
    assert mismatches(document, schema, validated.json()) == []
    imported = client.post("/api/grids/import", json=proposal, headers=planner_headers)
    assert imported.status_code == 200, imported.text
    assert len(imported.json()["created"]) == len(proposal["features"])
    clean = client.post(f"/api/grids/validate?parent_code={synthetic}", headers=planner_headers)
    assert clean.status_code == 200, clean.text


def test_helsinki_proposal_follows_streets_and_covers(demo_client: TestClient) -> None:
    client = demo_client
    community = f"{DEMO_COUNTY}002002"
    proposal = client.post(
        "/api/grids/propose", json={"parent_code": community, "households_min": 300, "households_max": 500}
    ).json()
    parent = shapely.geometry.shape(client.get(f"/api/grids/{community}").json()["geometry"])
    _check_partition(parent, proposal["features"])
    stats = client.get(f"/api/areas/{community}/stats").json()
    assert abs(
        sum(f["properties"]["households"] for f in proposal["features"]) - stats["residence_households"]
    ) < len(proposal["features"])
    in_band = [f for f in proposal["features"] if f["properties"]["in_band"]]
    assert len(in_band) == proposal["summary"]["grids_in_band"] and in_band


def test_propose_errors(client: TestClient, synthetic: str) -> None:
    assert client.post("/api/grids/propose", json={"parent_code": "NOPE"}).status_code == 404
    assert (
        client.post(
            "/api/grids/propose",
            json={"parent_code": synthetic, "households_min": 600, "households_max": 500},
        ).status_code
        == 422
    )
    assert client.post("/api/grids/propose", json={}).status_code == 422
    _ = np
