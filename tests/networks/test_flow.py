"""The planner's whole flow of issue 15 through the API: two department networks imported against the current
unified grids, where each disagrees with them (the boundary mismatches, with the unified line to adopt), a
unified network proposed from both, refused by the normal checks when edited into an overlap (nothing
changes), then saved; afterwards both networks agree with the unified grids (no mismatch, every cell inside
one grid)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from geo_service.db.pool import Database
from tests.grids.conftest import feature, lonlat, origin_for, rect
from tests.networks.conftest import collection, insert_homes, lattice

PREFIX = "110155"
ORIGIN = origin_for(PREFIX)
STREET = f"{PREFIX}001"
COMMUNITIES = [f"{STREET}001", f"{STREET}002"]
SPLIT_X = [402, 1202]  # the current grids split each community 2 m east of the networks' line (400, 1200)


def _grids(db: Database) -> dict[str, bytes]:
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            """SELECT code, ST_AsBinary(geom) FROM areas
               WHERE level = 'grid' AND valid_to IS NULL AND code LIKE %s ORDER BY code""",
            (f"{STREET}%",),
        )
        return {code: bytes(wkb) for code, wkb in cur.fetchall()}


@pytest.fixture(scope="module")
def setup(db: Database, client: TestClient, planner_headers: dict[str, str]) -> None:
    """A street of two 800 m communities, each split into two current grids at x = 402 and 1202 m; 4 homes
    × 100 households in every 200 m square."""
    whole = rect(0, 0, 1600, 800, ORIGIN)
    features = [
        feature(PREFIX, whole, "district"),
        feature(STREET, whole, "street", PREFIX),
    ]
    for k, community in enumerate(COMMUNITIES):
        x0, x1 = 800 * k, 800 * (k + 1)
        features.append(feature(community, rect(x0, 0, x1, 800, ORIGIN), "community", STREET))
        features.append(feature(f"{community}001", rect(x0, 0, SPLIT_X[k], 800, ORIGIN), "grid", community))
        features.append(feature(f"{community}002", rect(SPLIT_X[k], 0, x1, 800, ORIGIN), "grid", community))
    response = client.post("/api/grids/import", json=collection(features), headers=planner_headers)
    assert response.status_code == 200, response.text
    insert_homes(
        db,
        PREFIX,
        [
            (x + dx, y + dy, 100)
            for x in range(0, 1600, 200)
            for y in range(0, 800, 200)
            for dx in (50, 150)
            for dy in (50, 150)
        ],
    )


def test_import_compare_propose_save(
    setup: None, db: Database, client: TestClient, planner_headers: dict[str, str]
) -> None:
    xs = list(range(0, 1601, 200))
    # 1. two departments' networks: the police's 200 m wards, city management's 200 × 400 m beats
    for name, department, cells in (
        ("flow-wards", "公安局", lattice(PREFIX, xs, [0, 200, 400, 600, 800], "W")),
        ("flow-beats", "城管局", lattice(PREFIX, xs, [0, 400, 800], "B")),
    ):
        response = client.post(
            f"/api/networks/{name}/import",
            params={"department": department},
            json=collection(cells),
            headers=planner_headers,
        )
        assert response.status_code == 201, response.text

    # 2. where they disagree with the unified grids: each network's x = 400 and 1200 lines run 2 m off the
    # grids' 402 and 1202, over the full 800 m; the line to adopt is the grids' own
    for name in ("flow-wards", "flow-beats"):
        doc = client.get(f"/api/networks/{name}/crosswalk").json()
        found = doc["mismatches"]["features"]
        assert found, name
        by_x: dict[float, float] = {}
        for m in found:
            line = np.array(m["geometry"]["coordinates"])
            snapped = np.array(m["properties"]["snapped"]["coordinates"])
            assert m["properties"]["offset_m"] == pytest.approx(2.0, abs=0.02)
            x = round((line[0, 0] - ORIGIN[0]) / (lonlat(1, 0, ORIGIN)[0] - ORIGIN[0]))
            assert x in (400, 1200) and np.all(line[:, 0] == line[0, 0]), (name, line)
            assert np.all(snapped[:, 0] == lonlat(x + 2, 0, ORIGIN)[0])
            by_x[x] = by_x.get(x, 0.0) + m["properties"]["length_m"]
        assert by_x == pytest.approx({400: 800.0, 1200: 800.0}, abs=0.5), name
        assert doc["summary"]["mismatches"] == len(found)

    # 3. the unified network proposed from both: boundaries both share (x every 200 m, y = 0, 400, 800)
    body = {
        "networks": ["flow-wards", "flow-beats"],
        "parent_code": STREET,
        "households_min": 600,
        "households_max": 1000,
    }
    response = client.post("/api/networks/propose", json=body)
    assert response.status_code == 200, response.text
    proposal = response.json()
    assert proposal["summary"]["grids"] == 16 and proposal["summary"]["grids_in_band"] == 16

    # 4. saved through the normal checks: an edit that makes two proposed grids overlap is refused whole
    before = _grids(db)
    bad = [dict(f) for f in proposal["features"]]
    first = shapely.geometry.shape(bad[0]["geometry"])
    bad[0] = {
        **bad[0],
        "geometry": shapely.geometry.mapping(shapely.buffer(first, 0.0005, join_style="mitre")),
    }
    refused = client.post("/api/grids/import", json=collection(bad), headers=planner_headers)
    assert refused.status_code == 422, refused.text
    assert _grids(db) == before
    saved = client.post("/api/grids/import", json=collection(proposal["features"]), headers=planner_headers)
    assert saved.status_code == 200, saved.text
    after = _grids(db)
    assert len(after) == 16 and after != before

    # 5. now both networks follow the unified grids: no mismatch, every cell wholly inside one grid
    for name in ("flow-wards", "flow-beats"):
        doc = client.get(f"/api/networks/{name}/crosswalk").json()
        assert doc["mismatches"]["features"] == [], name
        for cell in doc["cells"]:
            assert len(cell["grids"]) == 1 and cell["grids"][0]["area_share"] == pytest.approx(1.0, abs=1e-6)
