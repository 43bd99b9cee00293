"""Errors of the map, OGC, stations, facilities, walking, life-circle and guide-map routes carry a stable code
and a message in the caller's language (Chinese by default), with the English text in ``detail``."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


def chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/tiles/nope.json", 404, "layer.unknown"),
        ("/tiles/grids/99/0/0.pbf", 400, "tile.zoom_out_of_range"),
        ("/tiles/grids/3/x/0.pbf", 400, "tile.bad_address"),
        ("/tiles/style.json?basemap=baidu", 400, "basemap.unknown"),
        ("/ogc/collections/grids/items?bbox=a,b", 400, "ogc.bbox_not_numbers"),
        ("/ogc/collections/grids/items?colour=red", 400, "ogc.unknown_parameter"),
        ("/ogc/collections/nope", 404, "ogc.unknown_collection"),
        ("/ogc?f=pdf", 400, "ogc.unknown_format"),
        ("/api/stations/999999", 404, "station.not_found"),
        ("/api/stations/nearest?lon=24.94&lat=60.17&amenities=jacuzzi", 422, "station.unknown_amenities"),
        ("/api/facilities/999999", 404, "facility.not_found"),
        ("/api/isochrones?lon=24.99&lat=60.14", 422, "walking.too_far"),
        ("/api/isochrones?lon=24.9414&lat=60.1699&minutes=500", 422, "walking.contour_minutes_range"),
        ("/api/life-circle/profiles/nope", 404, "life_circle.profile_not_found"),
        ("/api/areas/NOPE/guide-map.png", 404, "guide_map.unknown_area"),
    ],
)
def test_codes_and_languages(client: TestClient, path: str, status: int, code: str) -> None:
    default = client.get(path)
    assert default.status_code == status, default.text
    body = default.json()
    assert body["code"] == code and chinese(body["message"]), body
    english = client.get(path, headers={"Accept-Language": "en"}).json()
    assert english["code"] == code and english["message"] == english["detail"] == body["detail"]
    assert not chinese(english["message"])
