"""Proposing unified grids from two networks: the grids follow the boundaries both networks share, keep the
households in the band, lie each inside one community, and save through the normal grid import."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from geo_service.crs import metres_per_degree
from geo_service.db.pool import Database
from tests.documented import answered
from tests.grids.conftest import feature, origin_for, rect
from tests.networks.conftest import collection, insert_homes, lattice

PREFIX = "110154"
ORIGIN = origin_for(PREFIX)
KX, KY = metres_per_degree(ORIGIN[1])
STREET = f"{PREFIX}001"
COMMUNITIES = [f"{STREET}001", f"{STREET}002"]


@pytest.fixture(scope="module")
def setup(db: Database, client: TestClient, planner_headers: dict[str, str]) -> None:
    """A street of two 800 m communities side by side. Network ``wards`` has 200 m cells; network ``beats``
    shares its vertical lines (one drawn 2 m off) but only every other horizontal one (y = 0, 400, 800).
    Every 200 m cell holds 4 homes × 100 households."""
    whole = rect(0, 0, 1600, 800, ORIGIN)
    features = [
        feature(PREFIX, whole, "district"),
        feature(STREET, whole, "street", PREFIX),
        feature(COMMUNITIES[0], rect(0, 0, 800, 800, ORIGIN), "community", STREET),
        feature(COMMUNITIES[1], rect(800, 0, 1600, 800, ORIGIN), "community", STREET),
    ]
    response = client.post("/api/grids/import", json=collection(features), headers=planner_headers)
    assert response.status_code == 200, response.text
    xs = list(range(0, 1601, 200))
    beats_xs = [x + 2 if x == 1000 else x for x in xs]
    for name, cells in (
        ("wards", lattice(PREFIX, xs, [0, 200, 400, 600, 800], "W")),
        ("beats", lattice(PREFIX, beats_xs, [0, 400, 800], "B")),
    ):
        response = client.post(
            f"/api/networks/{name}/import", json=collection(cells), headers=planner_headers
        )
        assert response.status_code == 201, response.text
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


def _metres(geom: shapely.Geometry) -> np.ndarray:
    xy = shapely.get_coordinates(geom)
    return np.column_stack([(xy[:, 0] - ORIGIN[0]) * KX, (xy[:, 1] - ORIGIN[1]) * KY])


def test_proposal_follows_shared_boundaries_in_band_inside_communities(
    setup: None, client: TestClient, planner_headers: dict[str, str]
) -> None:
    body = {
        "networks": ["wards", "beats"],
        "parent_code": STREET,
        "households_min": 600,
        "households_max": 1000,
    }
    document = client.get("/openapi.json").json()
    doc = answered(document, "/api/networks/propose", "post", client.post("/api/networks/propose", json=body))
    features = doc["features"]
    summary = doc["summary"]
    assert summary["grids"] == len(features) == 16 and summary["grids_in_band"] == 16
    assert [c["code"] for c in summary["communities"]] == COMMUNITIES
    communities = {
        c: shapely.geometry.shape(rect(i * 800, 0, (i + 1) * 800, 800, ORIGIN))
        for i, c in enumerate(COMMUNITIES)
    }
    for f in features:
        props = f["properties"]
        assert 600 <= props["households"] <= 1000 and props["in_band"]
        geom = shapely.geometry.shape(f["geometry"])
        parent = communities[props["parent_code"]]
        assert shapely.area(shapely.difference(geom, parent)) < 1e-12, "inside its community"
        # boundaries on lines both networks have: x on the 200 m lines (1000 drawn 2 m off), y on 0/400/800
        xy = _metres(geom)
        for (x0, y0), (x1, y1) in itertools.pairwise(xy):
            if abs(y1 - y0) < 0.01:  # an edge along x: on y = 0, 400 or 800 (not on the wards-only 200, 600)
                assert min(abs(y0 - v) for v in (0, 400, 800)) < 0.01, xy
            else:  # an edge along y: on a 200 m line of both
                assert abs(x1 - x0) < 2.5 and abs(x0 - round(x0 / 200) * 200) < 2.5, xy
    assert summary["boundary_m"] > 0
    assert summary["boundary_along_all_networks_m"] == pytest.approx(summary["boundary_m"], rel=1e-3)
    # the planner saves it through the normal checks
    saved = client.post("/api/grids/import", json=collection(features), headers=planner_headers)
    assert saved.status_code == 200, saved.text
    assert len(saved.json()["created"]) == 16


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"networks": ["wards"], "parent_code": STREET}, 422, "network.propose_few"),
        ({"networks": ["wards", "wards"], "parent_code": STREET}, 422, "network.propose_few"),
        ({"networks": ["wards", "nobody"], "parent_code": STREET}, 404, "network.not_found"),
        ({"networks": ["wards", "beats"], "parent_code": "999"}, 404, "network.parent_not_found"),
        (
            {
                "networks": ["wards", "beats"],
                "parent_code": STREET,
                "households_min": 900,
                "households_max": 100,
            },
            422,
            "network.band",
        ),
    ],
)
def test_bad_proposals(setup: None, client: TestClient, body: dict, status: int, code: str) -> None:
    response = client.post("/api/networks/propose", json=body)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
