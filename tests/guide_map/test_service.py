"""What the service puts on the map: the start, the walking circle from it, walking times, the CRS."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from geo_service.db.pool import Database
from geo_service.guide_map import layout, render, service
from geo_service.guide_map.text import Lang
from geo_service.walking.service import isochrones
from tests.guide_map.conftest import FAR, WITH_CENTRE, WITHOUT_CENTRE

CONTEXT = service.GuideMapContext.create()


@pytest.fixture(scope="module")
def loaded(guide_client: TestClient, db: Database) -> Database:
    return db  # the hierarchy is imported by guide_client


def _to_lonlat(epsg: int, xy: tuple[float, float]) -> tuple[float, float]:
    return Transformer.from_crs(epsg, 4326, always_xy=True).transform(*xy)


def test_start_is_the_community_centre_and_the_circle_is_its_isochrone(loaded: Database) -> None:
    data = service.load_guide_map(loaded, CONTEXT, WITH_CENTRE)
    assert data.origin_kind == "community_center" and data.origin_name in ("Luckan", "LillaLuckan")
    assert data.epsg == 32635 and data.crs_name.endswith("UTM zone 35N")
    assert data.circle is not None and data.circle.contains(shapely.Point(data.origin))
    lon, lat = _to_lonlat(data.epsg, data.origin)
    contour = isochrones(loaded, origins=[(lon, lat)], minutes=[15], speed_kmh=4.5, crs="wgs84")[0]
    assert data.circle.area == pytest.approx(contour.area_m2, rel=0.01)
    # the frame holds the whole circle and the area
    vx0, vy0, vx1, vy1 = data.view
    cx0, cy0, cx1, cy1 = shapely.union(data.circle, data.boundary).bounds
    assert vx0 <= cx0 and vy0 <= cy0 and vx1 >= cx1 and vy1 >= cy1


def test_walking_times_agree_with_the_circle(loaded: Database) -> None:
    data = service.load_guide_map(loaded, CONTEXT, WITH_CENTRE)
    assert data.circle is not None
    timed = [f for f in data.facilities if f.walk_seconds is not None]
    assert len(timed) > 20
    assert all(f.walk_seconds <= 2 * 15 * 60 for f in timed)
    for f in data.facilities:  # within = inside the contour, or timed within 15 minutes
        inside = data.circle.contains(shapely.Point(f.xy))
        assert f.in_circle == (inside or (f.walk_seconds is not None and f.walk_seconds <= 15 * 60))
    # what the map draws as the circle holds the facilities well within the walk
    circle = render.printable_circle(data.circle)
    near = [f for f in timed if f.walk_seconds < 12 * 60]
    assert near and sum(circle.contains(shapely.Point(f.xy)) for f in near) / len(near) > 0.9
    # walking is never much shorter than the straight line (snapping to the street can cut a few metres)
    assert all(f.walk_seconds * 4.5 / 3.6 >= f.distance_m - 60 for f in timed)


def test_start_without_a_centre_is_a_network_point_inside_the_area(loaded: Database) -> None:
    data = service.load_guide_map(loaded, CONTEXT, WITHOUT_CENTRE, lang="en")
    assert data.origin_kind == "network_point" and data.origin_name is None
    assert data.boundary.contains(shapely.Point(data.origin))
    assert data.circle is not None and data.circle.contains(shapely.Point(data.origin))
    assert data.category_labels["pharmacy"] == "Pharmacy"


def test_far_from_the_network_there_is_no_circle(loaded: Database) -> None:
    data = service.load_guide_map(loaded, CONTEXT, FAR)
    assert data.circle is None and data.no_network
    assert data.origin_kind == "area_point" and data.boundary.contains(shapely.Point(data.origin))
    assert data.epsg == 4548


def test_north_and_scale_follow_the_projection(loaded: Database) -> None:
    data = service.load_guide_map(loaded, CONTEXT, WITH_CENTRE)
    # Helsinki (24.94°E) lies west of zone 35's central meridian (27°E): true north leans right by
    # (27 - 24.94) · sin(60.17°) ≈ 1.8°, and the UTM scale there is just under 1
    assert data.north_deg == pytest.approx(1.79, abs=0.1)
    assert 0.9996 < data.scale_factor < 0.9999


def test_a_sheet_is_drawn_once_per_day_language_and_data_state(
    loaded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[tuple[str, str]] = []

    def draw(sheet: layout.GuideMap, fmt: str) -> bytes:  # the cache is under test here, not the drawing
        drawn.append((sheet.date, sheet.lang))
        return f"{sheet.date} {sheet.lang} {len(sheet.facilities)}".encode()

    def sheet(day: dt.date, lang: Lang = "zh") -> bytes:
        key = service.sheet_key(loaded, CONTEXT, WITH_CENTRE, "pdf", lang, today=day)
        return service.draw_sheet(loaded, CONTEXT, key)

    monkeypatch.setattr(render, "render", draw)
    day, next_day = dt.date(2026, 12, 3), dt.date(2026, 12, 4)
    first = sheet(day)
    assert sheet(day) == first
    assert drawn == [("2026-12-03", "zh")]
    sheet(day, lang="en")
    sheet(next_day)  # the date printed on it
    assert drawn[1:] == [("2026-12-03", "en"), ("2026-12-04", "zh")]

    with loaded.cursor() as cur:  # a facility edit by anyone moves the facilities' revision
        cur.execute("UPDATE facilities SET name = name WHERE id = (SELECT min(id) FROM facilities)")
    sheet(day)
    assert len(drawn) == 4


def test_a_sheet_etag_names_its_day_language_format_and_data_state(loaded: Database) -> None:
    def etag(day: dt.date, fmt: Literal["png", "pdf"] = "pdf", lang: Lang = "zh") -> str:
        return service.sheet_etag(service.sheet_key(loaded, CONTEXT, WITH_CENTRE, fmt, lang, today=day))

    day, next_day = dt.date(2026, 12, 3), dt.date(2026, 12, 4)
    first = etag(day)
    assert first.startswith('W/"') and etag(day) == first  # nothing is drawn to know it
    assert len({first, etag(next_day), etag(day, lang="en"), etag(day, fmt="png")}) == 4
    with loaded.cursor() as cur:
        cur.execute("UPDATE facilities SET name = name WHERE id = (SELECT min(id) FROM facilities)")
    assert etag(day) != first


def test_a_release_that_draws_differently_changes_the_etag(
    loaded: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even under the same version number: the ETag follows the files a sheet is drawn by."""
    drawing = tmp_path / "render.py"
    drawing.write_text("STREET_WIDTH = 1.0\n")
    monkeypatch.setattr(service, "DRAWN_BY", (tmp_path,))
    key = service.sheet_key(loaded, CONTEXT, WITH_CENTRE, "png", "zh", today=dt.date(2026, 12, 3))
    service.drawing_release.cache_clear()
    try:
        before = service.sheet_etag(key)
        drawing.write_text("STREET_WIDTH = 1.5\n")
        service.drawing_release.cache_clear()  # a new process: the upgraded release
        assert service.sheet_etag(key) != before
    finally:
        service.drawing_release.cache_clear()
