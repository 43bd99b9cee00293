"""The field typing rules of area files (no database): column types, Shapefile names as GDAL makes them, and
which file values stand for a stored value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyogrio.raw
import pytest
import shapely

from geo_service.grids import fields

WORKERS = [{"name": "张三", "phone": "13800000000"}] * 8  # 352 bytes as JSON


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ([True, False], "boolean"),
        ([350, 0, 2**40], "integer"),
        ([1, 2.5], "real"),
        ([2**60], "real"),
        (["2024-05-01", "2019-12-31"], "date"),
        (["2024-05-01T08:30:00.250+08:00", "2024-05-01T00:00:00Z"], "datetime"),
        (["2024-05-01T08:30:00.123456+08:00"], "string"),
        (["2024-02-30"], "string"),
        (["a", "2024-05-01"], "string"),
        ([[1], {"a": 1}], "json"),
        ([1, "x"], "json"),
        ([True, 1], "json"),
        ([], "string"),
    ],
)
def test_column_types(values: list[object], kind: str) -> None:
    assert fields.kind_of(values) == kind


def test_shapefile_names_are_the_ones_gdal_gives(tmp_path: Path) -> None:
    """Our names for long ASCII names are GDAL's (so a Shapefile QGIS saved from our GeoPackage has the same
    ones); non-ASCII names are cut between characters, never inside one."""
    props = [
        "code",
        "parent_code",
        "very_long_property_name",
        "very_long_property_other",
        "Very_Long_Property_3",
        "households",
        "closed_change",
    ] + [f"abcdefghijk{n}" for n in range(12)]
    geoms = shapely.to_wkb(np.array([shapely.MultiPolygon([shapely.box(0, 0, 1, 1)])], dtype=object))
    data = [np.array(["x"], dtype=object) for _ in props]
    with pytest.warns(RuntimeWarning, match="Normalized/laundered"):
        pyogrio.raw.write(
            str(tmp_path / "n.shp"),
            geoms,
            data,
            props,
            driver="ESRI Shapefile",
            layer="n",
            geometry_type="MultiPolygon",
            crs="EPSG:4326",
            encoding="UTF-8",
        )
    gdal = [str(n) for n in pyogrio.read_info(tmp_path / "n.shp")["fields"]]
    assert list(fields.shapefile_names(props).values()) == gdal
    chinese = fields.shapefile_names(["小区物业公司名称", "小区物业公司电话", "楼长"])
    assert chinese == {"小区物业公司名称": "小区物", "小区物业公司电话": "小区_1", "楼长": "楼长"}


@pytest.mark.parametrize(
    ("file_value", "stored"),
    [
        (1, True),
        ("T", True),
        ("f", False),
        (0.0, False),
        (350.0, 350),
        ("350", 350),
        (0.333333333333333, 1 / 3),
        ("2024/05/01 08:30:00.250+08", "2024-05-01T08:30:00.250+08:00"),
        ("2024-05-01", "2024-05-01T08:30:00+08:00"),
        ("2024/05/01", "2024-05-01"),
        (None, ""),
        ("", None),
        ('["a", 1]', ["a", 1]),
        ('"x"', "x"),
        ("长" * 84, "长" * 100),
        (fields.json_text(WORKERS).encode()[:254].decode("utf-8", "ignore"), WORKERS),
    ],
)
def test_what_a_file_makes_of_a_value(file_value: object, stored: object) -> None:
    assert fields.same_in_file(file_value, stored)


@pytest.mark.parametrize(
    ("file_value", "stored"),
    [
        (2, True),
        ("yes!", True),
        (351, 350),
        (0.3334, 1 / 3),
        ("2024-05-01T09:30:00+08:00", "2024-05-01T08:30:00+08:00"),
        ("2024-05-01T00:30:00+00:00", "2024-05-01T08:30:00+08:00"),
        ("2024-05-02", "2024-05-01T08:30:00+08:00"),
        ("长" * 83, "长" * 100),
        ("长" * 10, "长" * 100),
        ('["a", 2]', ["a", 1]),
        ("改了", "原来"),
        (None, "x"),
        ("x", None),
    ],
)
def test_what_a_file_does_not_make_of_a_value(file_value: object, stored: object) -> None:
    assert not fields.same_in_file(file_value, stored)


def test_reconcile_puts_back_names_and_values_but_keeps_edits() -> None:
    stored = {
        "code": "1",
        "households": 350,
        "demo": True,
        "very_long_property_name": "a",
        "very_long_property_other": "b",
        "小区物业公司名称": "某物业",
        "tags": ["x"],
        "note": "old",
    }
    from_file = {
        "code": "1",
        "households": 350.0,
        "demo": 1,
        "very_long_": "a",
        "very_lon_1": "b",
        "小区物": "某物业",
        "tags": '["x"]',
        "note": "new",
        "added": 5,
    }
    out = fields.reconcile(from_file, stored)
    assert out == {**stored, "note": "new", "added": 5}
    assert out["demo"] is True and isinstance(out["households"], int) and out["tags"] == ["x"]
    edited = fields.reconcile({**from_file, "demo": 0, "very_long_": "z"}, stored)
    assert edited["demo"] == 0 and edited["very_long_property_name"] == "z", "an edit stays an edit"


def test_datetimes_read_back_as_iso_text() -> None:
    assert fields.decode("2024-05-01T08:30:00.250+08:00", "OFTDateTime", "OFSTNone", None) == (
        "2024-05-01T08:30:00.250+08:00"
    )
    assert (
        fields.decode("2024-05-01T00:00:00Z", "OFTDateTime", "OFSTNone", None) == "2024-05-01T00:00:00+00:00"
    )
    assert fields.decode("2024/05/01", "OFTDate", "OFSTNone", None) == "2024-05-01"
    assert fields.decode(np.float64("nan"), "OFTInteger64", "OFSTNone", None) is None
    assert fields.decode(np.float64(1.0), "OFTInteger", "OFSTBoolean", None) is True
    assert fields.decode("T", "OFTString", "OFSTNone", "boolean") is True
    assert fields.decode('{"a": [1]}', "OFTString", "OFSTJSON", None) == {"a": [1]}
