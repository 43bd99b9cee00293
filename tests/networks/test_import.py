"""Importing department networks: GeoJSON, GeoPackage and zipped Shapefile in any CRS (the grid import's
reader), cells keeping their own codes, names and properties, versions kept, and bad input refused whole."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from geo_service.db.pool import Database
from tests.conftest import auth_headers
from tests.documented import answered, mismatches
from tests.networks.conftest import collection, count_rows, lattice

PREFIX = "110151"
XS = [0, 100, 200, 300]
YS = [0, 150, 300]


def _frame(features: list[dict]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        [f["properties"] for f in features],
        geometry=[shapely.geometry.shape(f["geometry"]) for f in features],
        crs="EPSG:4326",
    )


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in folder.iterdir():
            archive.write(part, part.name)
    return buffer.getvalue()


def _cells(client: TestClient, name: str, version: int | None = None) -> dict:
    response = client.get(f"/api/networks/{name}" + (f"?version={version}" if version else ""))
    assert response.status_code == 200, response.text
    return response.json()


def test_geojson_import_keeps_codes_names_properties(
    client: TestClient, planner_headers: dict[str, str]
) -> None:
    features = lattice(PREFIX, XS, YS, "P", owner="派出所")
    response = client.post(
        "/api/networks/police/import?department=公安局", json=collection(features), headers=planner_headers
    )
    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["version"], report["cells"], report["previous_version"]) == (1, 6, None)
    assert report["links"]["tilejson"].endswith("/tiles/networks:police.json")
    listed = {n["name"]: n for n in client.get("/api/networks").json()["networks"]}
    police = listed["police"]
    assert (police["department"], police["cells"], police["version"]) == ("公安局", 6, 1)
    expected = shapely.total_bounds([shapely.geometry.shape(f["geometry"]) for f in features])
    assert np.allclose(police["bbox"], expected, atol=1e-9)
    doc = _cells(client, "police")
    by_code = {f["id"]: f for f in doc["features"]}
    assert set(by_code) == {f["properties"]["code"] for f in features}
    cell = by_code["P-1-0"]
    assert cell["properties"]["name"] == "单元1-0" and cell["properties"]["ward"] == "W1"
    assert cell["properties"]["owner"] == "派出所" and cell["properties"]["version"] == 1
    drawn = next(f for f in features if f["properties"]["code"] == "P-1-0")
    assert shapely.equals_exact(
        shapely.geometry.shape(cell["geometry"]).geoms[0], shapely.geometry.shape(drawn["geometry"]), 0.0
    )


def test_geopackage_in_a_gauss_kruger_crs(
    client: TestClient, planner_headers: dict[str, str], tmp_path: Path
) -> None:
    """A GeoPackage in CGCS2000 / 3-degree Gauss–Krüger CM 117°E (EPSG:4548), own field names: the cells come
    back in WGS-84 where they were drawn (to a few millimetres)."""
    features = lattice(PREFIX, XS, YS, "U")
    frame = _frame(features).rename(columns={"code": "WGBM", "name": "WGMC"})
    frame.to_crs("EPSG:4548").to_file(tmp_path / "city.gpkg", driver="GPKG")
    response = client.post(
        "/api/networks/city-mgmt/import",
        files={"file": ("city.gpkg", (tmp_path / "city.gpkg").read_bytes())},
        data={"department": "城管局", "code_field": "WGBM", "name_field": "WGMC"},
        headers=planner_headers,
    )
    assert response.status_code == 201, response.text
    doc = _cells(client, "city-mgmt")
    assert doc["network"]["department"] == "城管局"
    by_code = {f["id"]: f for f in doc["features"]}
    assert set(by_code) == {f["properties"]["code"] for f in features}
    for f in features:
        got = shapely.geometry.shape(by_code[f["properties"]["code"]]["geometry"])
        assert by_code[f["properties"]["code"]]["properties"]["name"] == f["properties"]["name"]
        assert "WGBM" not in by_code[f["properties"]["code"]]["properties"]
        assert shapely.hausdorff_distance(got, shapely.geometry.shape(f["geometry"])) < 1e-7  # ~1 cm


def test_zipped_shapefile_with_numeric_codes(
    client: TestClient, planner_headers: dict[str, str], tmp_path: Path
) -> None:
    features = lattice(PREFIX, XS, YS, "S")
    for k, f in enumerate(features):
        f["properties"]["code"] = 1000 + k  # a numeric field in the .dbf
    folder = tmp_path / "shp"
    folder.mkdir()
    _frame(features).to_file(folder / "civil.shp", encoding="UTF-8")
    response = client.post(
        "/api/networks/civil/import",
        content=_zip(folder),
        headers={**planner_headers, "Content-Type": "application/zip"},
    )
    assert response.status_code == 201, response.text
    codes = sorted(f["id"] for f in _cells(client, "civil")["features"])
    assert codes == [str(1000 + k) for k in range(len(features))]


def test_versions_close_and_reopen(client: TestClient, planner_headers: dict[str, str], db: Database) -> None:
    name = "sanitation"
    first = lattice(PREFIX, XS, YS, "H")
    assert (
        client.post(
            f"/api/networks/{name}/import", json=collection(first), headers=planner_headers
        ).status_code
        == 201
    )
    second = lattice(PREFIX, [0, 150, 300], YS, "H")  # two columns instead of three: redrawn
    second.append(lattice(PREFIX, [0, 300], [300, 400], "N")[0])
    document = client.get("/openapi.json").json()
    response = client.post(f"/api/networks/{name}/import", json=collection(second), headers=planner_headers)
    report = answered(document, "/api/networks/{name}/import", "post", response)
    assert (report["version"], report["previous_version"], report["cells"]) == (2, 1, 5)
    assert report["added"] == ["N-0-0"] and report["removed"] == ["H-2-0", "H-2-1"]
    assert report["changed"] == 4 and report["unchanged"] == 0
    now = _cells(client, name)
    old = _cells(client, name, version=1)
    for doc in (now, old):  # the network's summary and versions member by member (the cells' own are open)
        assert mismatches(document, "NetworkCells", doc) == []
    answered(document, "/api/networks", "get", client.get("/api/networks"))
    assert now["network"]["version"] == 2 and now["network"]["shown_version"] == 2
    assert old["network"]["shown_version"] == 1 and len(old["features"]) == 6 and len(now["features"]) == 5
    assert [v["version"] for v in now["network"]["versions"]] == [1, 2]
    old_cell = next(f for f in old["features"] if f["id"] == "H-0-0")
    new_cell = next(f for f in now["features"] if f["id"] == "H-0-0")
    assert (
        shapely.geometry.shape(old_cell["geometry"]).area < shapely.geometry.shape(new_cell["geometry"]).area
    )
    assert old_cell["properties"]["valid_to"] == new_cell["properties"]["valid_from"]
    assert new_cell["properties"]["valid_to"] is None
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            "SELECT version, count(*) FILTER (WHERE valid_to IS NULL), count(*) FROM network_cells "
            "WHERE network = %s GROUP BY version ORDER BY version",
            (name,),
        )
        assert cur.fetchall() == [(1, 0, 6), (2, 5, 5)]
    assert client.get(f"/api/networks/{name}?version=3").status_code == 404
    assert client.get("/api/networks/nobody").status_code == 404


@pytest.mark.parametrize(
    ("name", "body", "status", "code"),
    [
        ("Bad Name", collection(lattice(PREFIX, XS, YS)), 422, "network.bad_name"),
        ("propose", collection(lattice(PREFIX, XS, YS)), 422, "network.bad_name"),
        ("fresh", collection([]), 422, "network.empty"),
        ("fresh", {"type": "Topology"}, 422, None),
    ],
)
def test_bad_requests_write_nothing(
    client: TestClient,
    planner_headers: dict[str, str],
    db: Database,
    name: str,
    body: dict,
    status: int,
    code: str | None,
) -> None:
    before = count_rows(db)
    response = client.post(f"/api/networks/{name}/import", json=body, headers=planner_headers)
    assert response.status_code == status, response.text
    if code:
        assert response.json()["code"] == code
    assert count_rows(db) == before


def test_bad_cells_are_all_listed_and_nothing_written(
    client: TestClient, planner_headers: dict[str, str], db: Database
) -> None:
    features = lattice(PREFIX, XS, YS, "B")
    features[1]["properties"].pop("code")
    features[2]["properties"]["code"] = features[0]["properties"]["code"]
    ring = features[3]["geometry"]["coordinates"][0]
    features[3]["geometry"]["coordinates"][0] = [ring[0], ring[2], ring[1], ring[3], ring[0]]  # a bow tie
    features[4]["geometry"] = {"type": "LineString", "coordinates": ring[:2]}
    before = count_rows(db)
    response = client.post(
        "/api/networks/broken/import",
        json=collection(features),
        headers={**planner_headers, "Accept-Language": "en"},
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "network.problems" and "nothing was saved" in body["message"]
    problems = {p["feature"]: p for p in body["detail"]}
    assert problems[1]["problem"] == "missing_code" and "ward" in problems[1]["message"]
    assert problems[2]["problem"] == "duplicate_code"
    assert problems[3]["problem"] == "self_intersection" and problems[3]["location"]["type"] == "Point"
    assert problems[4]["problem"] == "invalid_geometry"
    assert set(problems) == {1, 2, 3, 4}
    assert (
        mismatches(client.get("/openapi.json").json(), "ErrorBody", body) == []
    )  # CellProblem, member by member
    chinese = client.post(
        "/api/networks/broken/import", json=collection(features), headers=planner_headers
    ).json()
    assert "未保存" in chinese["message"] and "编码字段" in chinese["detail"][0]["message"]
    assert count_rows(db) == before


def test_unreadable_bodies_and_roles(
    client: TestClient, planner_headers: dict[str, str], db: Database
) -> None:
    before = count_rows(db)
    body = collection(lattice(PREFIX, XS, YS))
    assert client.post("/api/networks/x/import", json=body).status_code == 401
    dispatcher = auth_headers(db, "dispatcher")
    assert client.post("/api/networks/x/import", json=body, headers=dispatcher).status_code == 403
    response = client.post(
        "/api/networks/x/import",
        content=b"{not json",
        headers={**planner_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["code"] == "network.body_not_json"
    response = client.post(
        "/api/networks/x/import", content=b"a,b\n1,2", headers={**planner_headers, "Content-Type": "text/csv"}
    )
    assert response.status_code == 415
    response = client.post(
        "/api/networks/x/import",
        content=b"PK\x03\x04garbage",
        headers={**planner_headers, "Content-Type": "application/zip"},
    )
    assert response.status_code == 400
    response = client.post("/api/networks/x/import?crs=EPSG:999999", json=body, headers=planner_headers)
    assert response.status_code == 422
    assert count_rows(db) == before
