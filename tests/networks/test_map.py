"""Each network on the map: the family layer ``networks`` serves all of them, ``networks:<name>`` one alone —
tiles, TileJSON and an OGC API – Features collection (with every version) — without a file per network."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from geo_service.db.pool import Database
from tests.grids.conftest import lonlat, origin_for
from tests.networks.conftest import collection, lattice
from tests.tiles.conftest import decode, tile_of

PREFIX = "110153"


@pytest.fixture(scope="module")
def networks(client: TestClient, planner_headers: dict[str, str]) -> dict:
    police = lattice(PREFIX, [0, 100, 200], [0, 100], "P")
    fire = lattice(PREFIX, [0, 200], [0, 50, 100], "F")
    for name, cells in (("police", police), ("fire", fire)):
        response = client.post(
            f"/api/networks/{name}/import?department={name}-dept",
            json=collection(cells),
            headers=planner_headers,
        )
        assert response.status_code == 201, response.text
    # police redrawn: version 2 with one cell
    response = client.post(
        "/api/networks/police/import",
        json=collection(lattice(PREFIX, [0, 200], [0, 100], "P")),
        headers=planner_headers,
    )
    assert response.status_code == 200, response.text
    return {"centre": lonlat(100, 50, origin_for(PREFIX))}


def test_tiles_of_one_network_and_of_all(networks: dict, client: TestClient) -> None:
    z, x, y = tile_of(*networks["centre"], 15)
    alone = client.get(f"/tiles/networks:police/{z}/{x}/{y}.pbf")
    assert alone.status_code == 200, alone.text
    features = decode(alone.content)["networks:police"]["features"]
    assert {f["properties"]["code"] for f in features} == {"P-0-0"}  # the current version only
    assert {f["properties"]["network"] for f in features} == {"police"}
    assert features[0]["properties"]["version"] == 2
    both = decode(client.get(f"/tiles/networks/{z}/{x}/{y}.pbf").content)["networks"]["features"]
    assert {(f["properties"]["network"], f["properties"]["code"]) for f in both} == {
        ("police", "P-0-0"),
        ("fire", "F-0-0"),
        ("fire", "F-0-1"),
    }
    composite = decode(client.get(f"/tiles/networks:fire,grids/{z}/{x}/{y}.pbf").content)
    assert len(composite["networks:fire"]["features"]) == 2
    assert client.get(f"/tiles/networks:nobody/{z}/{x}/{y}.pbf").status_code == 404
    assert client.get(f"/tiles/grids:police/{z}/{x}/{y}.pbf").status_code == 404


def test_tilejson_of_one_network(networks: dict, client: TestClient) -> None:
    doc = client.get("/tiles/networks:fire.json").json()
    assert doc["vector_layers"][0]["id"] == "networks:fire"
    assert "/tiles/networks:fire/{z}/{x}/{y}.pbf?v=" in doc["tiles"][0]
    west, south, east, north = doc["bounds"]
    origin = origin_for(PREFIX)
    assert west == pytest.approx(origin[0]) and east == pytest.approx(lonlat(200, 0, origin)[0])
    assert south == pytest.approx(origin[1]) and north == pytest.approx(lonlat(0, 100, origin)[1])
    listed = {n["name"]: n for n in client.get("/api/networks").json()["networks"]}
    assert listed["fire"]["links"]["tilejson"].endswith("/tiles/networks:fire.json")
    assert client.get(listed["fire"]["links"]["tilejson"]).status_code == 200


def test_ogc_collection_per_network_with_versions(networks: dict, client: TestClient, db: Database) -> None:
    ids = {c["id"] for c in client.get("/ogc/collections").json()["collections"]}
    assert {"networks", "networks:police", "networks:fire"} <= ids
    items = client.get("/ogc/collections/networks:police/items").json()
    assert [f["id"] for f in items["features"]] == ["police:P-0-0"] and items["numberMatched"] == 1
    assert items["features"][0]["properties"]["properties"]["ward"] == "W0"
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT min(valid_from) FROM network_cells WHERE network = 'police' AND version = 1")
        first = cur.fetchone()[0]
    then = client.get("/ogc/collections/networks:police/items", params={"datetime": first.isoformat()}).json()
    assert sorted(f["id"] for f in then["features"]) == ["police:P-0-0@v1", "police:P-1-0@v1"]
    assert (
        client.get("/ogc/collections/networks:police/items/police:P-1-0@v1").json()["properties"]["version"]
        == 1
    )
    everything = client.get("/ogc/collections/networks/items", params={"network": "fire"}).json()
    assert everything["numberMatched"] == 2
    assert client.get("/ogc/collections/networks:nobody").status_code == 404
