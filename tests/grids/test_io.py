"""Files in and out: GeoJSON, GeoPackage and zipped Shapefile imports (any CRS, CGCS2000 Gauss–Krüger
included), all-or-nothing imports, exports that re-import unchanged."""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from geo_service.db.pool import Database
from tests.grids.conftest import feature, hierarchy, origin_for, rect

TIANANMEN = (116.397428, 39.90923)  # WGS-84 / CGCS2000 lon, lat


def _count(db: Database) -> int:
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(*) FROM areas")
        return cur.fetchone()[0]


def _zip_dir(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in folder.iterdir():
            archive.write(part, part.name)
    return buffer.getvalue()


def _frame(prefix: str) -> gpd.GeoDataFrame:
    features = hierarchy(prefix)
    return gpd.GeoDataFrame(
        [f["properties"] for f in features],
        geometry=[shapely.geometry.shape(f["geometry"]) for f in features],
        crs="EPSG:4326",
    )


def test_import_geojson_gpkg_and_zipped_shapefile(
    client: TestClient, planner_headers: dict[str, str], tmp_path: Path
) -> None:
    # GeoPackage, sent as a multipart upload
    _frame("110111").to_file(tmp_path / "a.gpkg", driver="GPKG")
    response = client.post(
        "/api/grids/import",
        files={"file": ("a.gpkg", (tmp_path / "a.gpkg").read_bytes())},
        headers=planner_headers,
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["created"]) == 3
    # zipped Shapefile, sent as the raw body
    shp = tmp_path / "shp"
    shp.mkdir()
    _frame("110112").rename(columns={"parent_code": "parent_cod"}).to_file(shp / "b.shp")
    response = client.post(
        "/api/grids/import",
        content=_zip_dir(shp),
        headers={**planner_headers, "Content-Type": "application/zip"},
    )
    assert response.status_code == 200, response.text
    assert client.get("/api/grids/110112001001").json()["properties"]["parent_code"] == "110112001"
    # GeoJSON file upload
    body = json.dumps({"type": "FeatureCollection", "features": hierarchy("110113")}).encode()
    response = client.post("/api/grids/import", files={"file": ("c.geojson", body)}, headers=planner_headers)
    assert response.status_code == 200, response.text
    stored = client.get("/api/grids/110113").json()["geometry"]
    assert stored["coordinates"][0] == hierarchy("110113")[0]["geometry"]["coordinates"], "stored bit for bit"


def test_cgcs2000_gauss_kruger_shapefile_lands_in_place(
    client: TestClient, planner_headers: dict[str, str], tmp_path: Path
) -> None:
    # CGCS2000 / 3-degree Gauss–Krüger CM 117°E (EPSG:4548): a 200 m square whose south-west corner is Tiananmen
    to_gk = Transformer.from_crs(4490, 4548, always_xy=True)
    x0, y0 = to_gk.transform(*TIANANMEN)
    assert 400_000 < x0 < 600_000 and 4_000_000 < y0 < 5_000_000
    square = shapely.Polygon([(x0, y0), (x0 + 200, y0), (x0 + 200, y0 + 200), (x0, y0 + 200)])
    frame = gpd.GeoDataFrame(
        [{"code": "110199", "name": "天安门测试区", "level": "district"}], geometry=[square], crs="EPSG:4548"
    )
    folder = tmp_path / "gk"
    folder.mkdir()
    frame.to_file(folder / "gk.shp", encoding="UTF-8")
    response = client.post(
        "/api/grids/import", files={"file": ("gk.zip", _zip_dir(folder))}, headers=planner_headers
    )
    assert response.status_code == 200, response.text
    got = client.get("/api/grids/110199").json()
    assert got["properties"]["name"] == "天安门测试区"
    corner = min(
        shapely.get_coordinates(shapely.geometry.shape(got["geometry"])).tolist(), key=lambda c: c[0] + c[1]
    )
    error_m = math.hypot((corner[0] - TIANANMEN[0]) * 85_300, (corner[1] - TIANANMEN[1]) * 111_000)
    assert error_m < 1.0, f"{error_m:.3f} m from the known point"
    area = client.get("/api/areas/110199/stats").json()["area_km2"]
    assert abs(area - 0.04) < 0.0005


def test_shapefile_without_prj_needs_crs(
    client: TestClient, planner_headers: dict[str, str], tmp_path: Path
) -> None:
    to_gk = Transformer.from_crs(4490, 4548, always_xy=True)
    x0, y0 = to_gk.transform(TIANANMEN[0] + 0.05, TIANANMEN[1])
    frame = gpd.GeoDataFrame(
        [{"code": "110198", "name": "no prj", "level": "district"}],
        geometry=[shapely.box(x0, y0, x0 + 100, y0 + 100)],
        crs="EPSG:4548",
    )
    folder = tmp_path / "noprj"
    folder.mkdir()
    frame.to_file(folder / "x.shp")
    (folder / "x.prj").unlink()
    data = _zip_dir(folder)
    missing = client.post("/api/grids/import", files={"file": ("x.zip", data)}, headers=planner_headers)
    assert missing.status_code == 400 and "crs" in missing.json()["detail"]
    given = client.post(
        "/api/grids/import?crs=EPSG:4548", files={"file": ("x.zip", data)}, headers=planner_headers
    )
    assert given.status_code == 200, given.text
    unknown = client.post(
        "/api/grids/import?crs=EPSG:999999", files={"file": ("x.zip", data)}, headers=planner_headers
    )
    assert unknown.status_code == 422


def test_gcj02_geojson_is_shifted_back(client: TestClient, planner_headers: dict[str, str]) -> None:
    from geo_service import coords

    wgs = hierarchy("110114")[0]
    ring = wgs["geometry"]["coordinates"][0]
    shifted = [list(coords.from_wgs84(x, y, "gcj02")) for x, y in ring]
    body = {
        "type": "FeatureCollection",
        "features": [{**wgs, "geometry": {"type": "Polygon", "coordinates": [shifted]}}],
    }
    response = client.post("/api/grids/import?crs=gcj02", json=body, headers=planner_headers)
    assert response.status_code == 200, response.text
    stored = client.get("/api/grids/110114").json()["geometry"]["coordinates"][0][0][0]
    assert math.hypot((stored[0] - ring[0][0]) * 85_300, (stored[1] - ring[0][1]) * 111_000) < 0.01


def test_import_is_all_or_nothing(client: TestClient, planner_headers: dict[str, str], db: Database) -> None:
    before = _count(db)
    here = origin_for("110115")
    features = [
        *hierarchy("110115"),
        feature("110115001001001", rect(0, 0, 500, 500, here), parent="110115001001"),
        feature("110115001001002", rect(500, 0, 1000, 500, here), parent="110115001001"),
        feature(
            "110115001001003", {"type": "Polygon", "coordinates": [[[1, 2], [3, 4]]]}, parent="110115001001"
        ),
        feature("110115001001004", rect(400, 400, 600, 1200, here), parent="110115001001"),
    ]
    response = client.post(
        "/api/grids/import", json={"type": "FeatureCollection", "features": features}, headers=planner_headers
    )
    assert response.status_code == 422
    bad = {(p["feature"], p["problem"]) for p in response.json()["detail"]}
    assert (5, "invalid_ring") in bad and (6, "outside_parent") in bad and (6, "overlap") in bad
    assert _count(db) == before, "nothing written"
    assert client.get("/api/grids/110115").status_code == 404
    duplicate = client.post(
        "/api/grids/import",
        json={"type": "FeatureCollection", "features": [features[0], features[0]]},
        headers=planner_headers,
    )
    assert "duplicate_code" in [p["problem"] for p in duplicate.json()["detail"]]
    for body, status in ((b"{nope", 400), (b"GIF89a", 415)):
        assert (
            client.post(
                "/api/grids/import",
                content=body,
                headers={**planner_headers, "Content-Type": "application/octet-stream"},
            ).status_code
            == status
        )
    assert (
        client.post(
            "/api/grids/import", json={"type": "FeatureCollection", "features": []}, headers=planner_headers
        ).status_code
        == 422
    )


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shp"])
def test_export_reimports_unchanged(
    client: TestClient, planner_headers: dict[str, str], fmt: str, tmp_path: Path
) -> None:
    prefix = "110116"
    if client.get(f"/api/grids/{prefix}").status_code == 404:
        here = origin_for(prefix)
        grid = feature(
            f"{prefix}001001001",
            rect(0, 0, 500, 500, here),
            parent=f"{prefix}001001",
            workers=[{"name": "王五", "phone": "139"}],
            households=350,
        )
        features = [*hierarchy(prefix), grid]
        assert (
            client.post(
                "/api/grids/import",
                json={"type": "FeatureCollection", "features": features},
                headers=planner_headers,
            ).status_code
            == 200
        )
    exported = client.get("/api/grids/export", params={"format": fmt})
    assert exported.status_code == 200
    path = tmp_path / f"export.{ {'geojson': 'geojson', 'gpkg': 'gpkg', 'shp': 'zip'}[fmt] }"
    path.write_bytes(exported.content)
    frame = pyogrio.read_dataframe(path)
    assert f"{prefix}001001001" in set(frame["code"]) and frame.crs.to_epsg() == 4326
    again = client.post(
        "/api/grids/import", files={"file": (path.name, exported.content)}, headers=planner_headers
    )
    assert again.status_code == 200, again.text
    report = again.json()
    assert report["count"] == 0, report
    assert f"{prefix}001001001" in report["unchanged"]
    grid = client.get(f"/api/grids/{prefix}001001001").json()["properties"]
    assert grid["workers"] == [{"name": "王五", "phone": "139"}] and grid["households"] == 350
    assert client.get("/api/grids/export", params={"format": "kml"}).status_code == 422
