"""Round trips that change nothing: an export (GeoJSON, GeoPackage, zipped Shapefile) imported back creates no
version and gives every property back with its type; a file QGIS/GDAL re-saved in another format or CRS too;
an edit of one feature in the file gives exactly that area a new version."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sqlite3
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient

from geo_service.db.pool import Database
from geo_service.grids.demo import DEMO_COUNTY
from geo_service.grids.io import read_features
from tests.conftest import auth_headers
from tests.grids.conftest import feature, lonlat, origin_for, rect

PREFIX = "110130"
HERE = origin_for(PREFIX)
COMMUNITY = f"{PREFIX}001001"
GRIDS = [f"{COMMUNITY}{n:03d}" for n in range(1, 5)]
SUFFIX = {"geojson": "geojson", "gpkg": "gpkg", "shp": "zip"}
# what an import may not change; the rest (version, valid_from, changed_by, ...) is the service's own
EDITABLE_SKIP = {"version", "valid_from", "valid_to", "changed_by", "change", "source"}
MANY_WORKERS = [{"name": f"网格员{n}号", "phone": f"1390000{n:04d}"} for n in range(8)]  # > 254 bytes as JSON
RICH = {
    "households": 1200,
    "population": 3100,
    "demo": True,
    "checked": False,
    "建成日期": "2019-06-30",
    "surveyed_at": "2024-05-01T08:30:00.250+08:00",
    "share": 1 / 3,
    "rating": 4.5,
    "big": 2**40,
    "tags": ["老旧小区", "重点"],
    "contact": {"name": "李四", "phone": "010-1234"},
    "备注": "东城区·测试",
    "小区物业公司名称": "北京某某物业有限公司",
    "very_long_property_name": "a",
    "very_long_property_other": "b",
    "说明": "长" * 100,
    "empty_note": "",
    "mixed": 1,
}


def _hierarchy() -> list[dict[str, Any]]:
    square = rect(0, 0, 1000, 1000, HERE)
    features = [
        feature(PREFIX, square, "district", name="测试区（往返）", **RICH),
        feature(
            f"{PREFIX}001",
            square,
            "street",
            PREFIX,
            name="测试街道",
            households=800,
            demo=False,
            mixed="x",
            建成日期="2020-01-01",
        ),
        feature(COMMUNITY, square, "community", f"{PREFIX}001", name="测试社区", population=2000),
    ]
    for n, (x, y) in enumerate([(0, 0), (500, 0), (0, 500), (500, 500)], start=1):
        extra: dict[str, Any] = {"households": 300 + n, "demo": n % 2 == 0, "floors": n * 3}
        if n == 1:
            extra |= {"workers": MANY_WORKERS, "checked_on": "2024-03-01", "share": 0.25}
        if n == 2:
            extra |= {"workers": [{"name": "王五", "phone": "139"}], "population": 0}
        features.append(
            feature(
                GRIDS[n - 1],
                rect(x, y, x + 500, y + 500, HERE),
                "grid",
                COMMUNITY,
                name=f"第{n}网格",
                **extra,
            )
        )
    return features


@pytest.fixture(scope="module")
def loaded(client: TestClient, planner_headers: dict[str, str]) -> list[str]:
    features = _hierarchy()
    response = client.post(
        "/api/grids/import", json={"type": "FeatureCollection", "features": features}, headers=planner_headers
    )
    assert response.status_code == 200, response.text
    return [f["properties"]["code"] for f in features]


def _stored(client: TestClient, codes: list[str]) -> dict[str, dict[str, Any]]:
    return {code: client.get(f"/api/grids/{code}").json() for code in codes}


def _editable(props: dict[str, Any]) -> str:
    """Properties as type-sensitive JSON text (``true`` is not ``1``, ``350`` is not ``350.0``); a null is an
    absent property (a file has every column for every feature)."""
    kept = {k: v for k, v in props.items() if k not in EDITABLE_SKIP and v is not None}
    return json.dumps(kept, sort_keys=True, ensure_ascii=False)


def _import(client: TestClient, headers: dict[str, str], name: str, data: bytes) -> dict[str, Any]:
    response = client.post("/api/grids/import", files={"file": (name, data)}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _versions(db: Database) -> int:
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(*) FROM areas")
        return cur.fetchone()[0]


def _ogr(*args: str) -> None:
    """Run a GDAL command-line tool (Debian's gdal-bin, as a QGIS user's GDAL would)."""
    assert shutil.which(args[0]), f"{args[0]} missing: install gdal-bin"
    done = subprocess.run(args, capture_output=True, text=True, errors="replace", check=False)
    assert done.returncode == 0, done.stderr


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in sorted(folder.iterdir()):
            archive.write(part, part.name)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shp"])
def test_export_then_import_changes_nothing(
    client: TestClient,
    planner_headers: dict[str, str],
    db: Database,
    loaded: list[str],
    fmt: str,
    tmp_path: Path,
) -> None:
    before = _stored(client, loaded)
    exported = client.get("/api/grids/export", params={"format": fmt})
    assert exported.status_code == 200
    # the file itself reads back to the stored properties, types and names included (no help from the database)
    read = {
        f["properties"]["code"]: f["properties"] for f in read_features(exported.content, f"a.{SUFFIX[fmt]}")
    }
    for code in loaded:
        assert _editable(read[code]) == _editable(before[code]["properties"]), code
    count = _versions(db)
    report = _import(client, planner_headers, f"areas.{SUFFIX[fmt]}", exported.content)
    assert report["count"] == 0 and set(loaded) <= set(report["unchanged"]), report
    assert _versions(db) == count, "no new version"
    assert _stored(client, loaded) == before

    # one feature edited in the file: exactly that area gets a new version, every other property keeps its type
    path = tmp_path / f"areas.{SUFFIX[fmt]}"
    grid, households = GRIDS[0], 900 + len(fmt)
    if fmt == "geojson":
        collection = json.loads(exported.content)
        for f in collection["features"]:
            if f["properties"]["code"] == grid:
                f["properties"]["households"] = households
        path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
        data = path.read_bytes()
    elif fmt == "gpkg":
        path.write_bytes(exported.content)
        _ogr(
            "ogrinfo",
            str(path),
            "-q",
            "-sql",
            f"UPDATE areas SET households = {households} WHERE code = '{grid}'",
        )
        data = path.read_bytes()
    else:
        folder = tmp_path / "shp"
        with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
            archive.extractall(folder)
        _ogr(
            "ogrinfo",
            str(folder / "areas.shp"),
            "-q",
            "-dialect",
            "SQLite",
            "-sql",
            f"UPDATE areas SET households = {households} WHERE code = '{grid}'",
        )
        data = _zip(folder)
    report = _import(client, planner_headers, path.name, data)
    assert report["updated"] == [grid] and report["count"] == 1, report
    after = client.get(f"/api/grids/{grid}").json()
    assert after["properties"]["version"] == before[grid]["properties"]["version"] + 1
    expected = {**before[grid]["properties"], "households": households}
    assert _editable(after["properties"]) == _editable(expected)
    assert after["geometry"] == before[grid]["geometry"], "the stored boundary is kept bit for bit"
    assert _versions(db) == count + 1


def test_shapefile_export_is_typed_and_named_for_10_characters(
    client: TestClient, loaded: list[str], tmp_path: Path
) -> None:
    exported = client.get("/api/grids/export", params={"format": "shp"})
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        archive.extractall(tmp_path)
        sidecar = json.loads(archive.read("areas.fields.json"))
    info = pyogrio.read_info(tmp_path / "areas.shp")
    assert all(len(name.encode()) <= 10 for name in info["fields"])
    names = {f["property"]: f["column"] for f in sidecar["fields"]}
    assert names["parent_code"] == "parent_cod" and names["very_long_property_name"] == "very_long_"
    assert names["very_long_property_other"] == "very_lon_1", "GDAL's names"
    assert names["小区物业公司名称"] == "小区物" and names["建成日期"] == "建成日", "cut between characters"
    by_name = dict(
        zip(info["fields"], zip(info["ogr_types"], info["ogr_subtypes"], strict=True), strict=True)
    )
    types = {prop: by_name[column] for prop, column in names.items()}
    assert types["households"] == ("OFTInteger64", "OFSTNone") and types["floors"][0] == "OFTInteger64"
    assert types["demo"] == ("OFTInteger", "OFSTBoolean"), "a DBF logical field"
    assert types["建成日期"] == ("OFTDate", "OFSTNone") and types["share"][0] == "OFTReal"
    kinds = {f["property"]: f["type"] for f in sidecar["fields"]}
    assert (
        kinds["workers"] == kinds["tags"] == kinds["mixed"] == "json" and kinds["surveyed_at"] == "datetime"
    )
    assert sidecar["values"][GRIDS[0]]["workers"] == MANY_WORKERS, "text over 254 bytes is kept whole"
    assert sidecar["values"][PREFIX]["empty_note"] == ""

    gpkg = tmp_path / "areas.gpkg"
    gpkg.write_bytes(client.get("/api/grids/export", params={"format": "gpkg"}).content)
    info = pyogrio.read_info(gpkg)
    types = dict(zip(info["fields"], zip(info["ogr_types"], info["ogr_subtypes"], strict=True), strict=True))
    assert types["demo"] == ("OFTInteger", "OFSTBoolean") and types["households"][0] == "OFTInteger64"
    assert (
        types["建成日期"][0] == "OFTDate"
        and types["surveyed_at"][0] == types["valid_from"][0] == "OFTDateTime"
    )
    assert types["workers"] == types["tags"] == ("OFTString", "OFSTJSON")
    assert "小区物业公司名称" in info["fields"], "a GeoPackage keeps the full names"


def test_qgis_round_trip_through_a_shapefile_and_back(
    client: TestClient, planner_headers: dict[str, str], db: Database, loaded: list[str], tmp_path: Path
) -> None:
    """GeoPackage export → Shapefile (GDAL names, no sidecar, booleans as integers, date-times as dates, text cut
    at 254 bytes) → imported as a zip, and → GeoPackage again → imported: nothing changes."""
    before = _stored(client, loaded)
    source = tmp_path / "export.gpkg"
    source.write_bytes(client.get("/api/grids/export", params={"format": "gpkg"}).content)
    shp = tmp_path / "qgis"
    _ogr("ogr2ogr", "-f", "ESRI Shapefile", "-lco", "ENCODING=UTF-8", str(shp), str(source))
    back = tmp_path / "back.gpkg"
    _ogr("ogr2ogr", "-f", "GPKG", str(back), str(shp / "areas.shp"))
    with contextlib.closing(sqlite3.connect(back)) as con:
        # GDAL cut some names inside a character
        con.text_factory = lambda raw: raw.decode("utf-8", "replace")
        columns = {row[1]: row[2] for row in con.execute("PRAGMA table_info(areas)")}
    assert "parent_cod" in columns and "parent_code" not in columns, "the names were cut"
    assert columns["demo"].upper().startswith(("INT", "MEDIUMINT")), "the booleans became integers"
    assert columns["surveyed_a"].upper() == "DATE", "the date-time became a date"
    count = _versions(db)
    for name, data in (("qgis.zip", _zip(shp)), ("back.gpkg", back.read_bytes())):
        report = _import(client, planner_headers, name, data)
        assert report["count"] == 0 and set(loaded) <= set(report["unchanged"]), (name, report)
    assert _versions(db) == count and _stored(client, loaded) == before
    # the dry run reads the cut names and values the same way (a grid's workers were cut at 254 bytes)
    checked = client.post(
        "/api/grids/validate", files={"file": ("qgis.zip", _zip(shp))}, headers=planner_headers
    )
    assert checked.status_code == 200 and checked.json()["valid"] is True, checked.text

    # an edit in QGIS's copy: only that area changes, and its other properties keep their names and types
    street = f"{PREFIX}001"
    _ogr(
        "ogrinfo",
        str(back),
        "-q",
        "-sql",
        f"UPDATE areas SET name = '测试街道（改）' WHERE code = '{street}'",
    )
    report = _import(client, planner_headers, "back.gpkg", back.read_bytes())
    assert report["updated"] == [street] and report["count"] == 1, report
    after = client.get(f"/api/grids/{street}").json()["properties"]
    assert _editable(after) == _editable({**before[street]["properties"], "name": "测试街道（改）"})


def test_projected_crs_round_off_is_no_change(
    client: TestClient, planner_headers: dict[str, str], db: Database, loaded: list[str], tmp_path: Path
) -> None:
    """Through CGCS2000 / Gauss–Krüger (EPSG:4548) and back the vertices move by round-off only: within the
    snapping tolerance (GEO_SERVICE_GRID_SNAP_TOLERANCE_M, 1 m), so nothing changes; 10 m does."""
    before = _stored(client, loaded)
    source = tmp_path / "export.gpkg"
    source.write_bytes(client.get("/api/grids/export", params={"format": "gpkg"}).content)
    projected = tmp_path / "gk.gpkg"
    _ogr("ogr2ogr", "-f", "GPKG", "-t_srs", "EPSG:4548", str(projected), str(source))
    read = {f["properties"]["code"]: f for f in read_features(projected.read_bytes(), "gk.gpkg")}
    moved = [
        c
        for c in loaded
        if not shapely.equals_exact(
            shapely.geometry.shape(read[c]["geometry"]), shapely.geometry.shape(before[c]["geometry"]), 0.0
        )
    ]
    assert moved, "the projection really rounds coordinates off"
    count = _versions(db)
    report = _import(client, planner_headers, "gk.gpkg", projected.read_bytes())
    assert report["count"] == 0 and set(loaded) <= set(report["unchanged"]), report
    assert _versions(db) == count and _stored(client, loaded) == before

    # a grid edited in the GeoJSON export: 0.5 m is within the tolerance, 10 m is a change of that grid only
    collection = json.loads(client.get("/api/grids/export", params={"format": "geojson"}).content)
    grid = next(f for f in collection["features"] if f["properties"]["code"] == GRIDS[3])
    for shrink_m, changed in ((0.5, False), (10.0, True)):
        grid["geometry"] = rect(500, 500, 1000 - shrink_m, 1000, HERE)
        report = _import(client, planner_headers, "e.geojson", json.dumps(collection).encode())
        assert report["updated"] == ([GRIDS[3]] if changed else []) and report["count"] == int(changed), (
            report
        )
    east = max(x for x, _ in client.get(f"/api/grids/{GRIDS[3]}").json()["geometry"]["coordinates"][0][0])
    assert abs(east - lonlat(990, 0, HERE)[0]) < 1e-9


def test_cli_import_of_an_export_changes_nothing(
    client: TestClient, db: Database, loaded: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from geo_service.cli import app

    path = tmp_path / "areas.zip"
    path.write_bytes(client.get("/api/grids/export", params={"format": "shp"}).content)
    monkeypatch.setenv("GEO_SERVICE_DATABASE_URL", db.dsn)
    monkeypatch.setenv("GEO_SERVICE_LANGUAGE", "en")
    count = _versions(db)
    result = CliRunner().invoke(app, ["import-grids", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported 0 areas" in result.output and _versions(db) == count


def test_a_broken_sidecar_is_a_clear_400(
    client: TestClient, planner_headers: dict[str, str], loaded: list[str], tmp_path: Path
) -> None:
    exported = client.get("/api/grids/export", params={"format": "shp"}).content
    folder = tmp_path / "x"
    with zipfile.ZipFile(io.BytesIO(exported)) as archive:
        archive.extractall(folder)
    (folder / "areas.fields.json").write_text("{not json", encoding="utf-8")
    response = client.post(
        "/api/grids/import",
        files={"file": ("x.zip", _zip(folder))},
        headers={**planner_headers, "Accept-Language": "zh-CN"},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "grid_file.sidecar_invalid" and "areas.fields.json" in body["message"]


def test_demo_hierarchy_round_trips_in_every_format(
    demo_client: TestClient, demo_grids_db: Database, tmp_path: Path
) -> None:
    """The demo hierarchy (proposed grids with their boolean, integer and real properties, workers, Chinese
    names): GeoJSON, GeoPackage, zipped Shapefile, and the GeoPackage through a GDAL Shapefile, import as is."""
    client, db = demo_client, demo_grids_db
    planner_headers = auth_headers(db, "planner")
    demo = [
        f
        for f in client.get("/api/grids").json()["features"]
        if f["properties"]["code"].startswith(DEMO_COUNTY)
    ]
    codes = [f["properties"]["code"] for f in demo]
    assert len({f["properties"]["level"] for f in demo}) == 4 and all(
        f["properties"]["demo"] is True for f in demo
    )
    before = _stored(client, codes)
    count = _versions(db)
    files = {fmt: client.get("/api/grids/export", params={"format": fmt}).content for fmt in SUFFIX}
    (tmp_path / "demo.gpkg").write_bytes(files["gpkg"])
    _ogr(
        "ogr2ogr",
        "-f",
        "ESRI Shapefile",
        "-lco",
        "ENCODING=UTF-8",
        str(tmp_path / "qgis"),
        str(tmp_path / "demo.gpkg"),
    )
    files["qgis"] = _zip(tmp_path / "qgis")
    for fmt, data in files.items():
        report = _import(client, planner_headers, f"demo.{SUFFIX.get(fmt, 'zip')}", data)
        assert report["count"] == 0 and set(codes) <= set(report["unchanged"]), (fmt, report)
    assert _versions(db) == count and _stored(client, codes) == before
