"""A small synthetic area hierarchy over central Helsinki for the incident, geocode and Open311 tests.

District 110101 (24.930–24.960 E, 60.160–60.182 N)
├── street 110101001 (west half)
│   ├── community 110101001001 (south)  → grids …001001 (west) and …001002 (east), shared edge at 24.9375
│   └── community 110101001002 (north)  → grid  …002001 (all of it)
└── street 110101002 (east half)
    └── community 110101002001 (south part only, up to 60.175) → grid …001001 (west part only, to 24.9525)

So: the community's east strip has no grid (属地兜底 to the community), the street's north part has no community
(属地兜底 to the street), and anything outside the district is outside every area.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.db.pool import Database
from geo_service.settings import IncidentSettings

DISTRICT = "110101"
STREET_W, STREET_E = "110101001", "110101002"
COMMUNITY_SW, COMMUNITY_NW, COMMUNITY_SE = "110101001001", "110101001002", "110101002001"
GRID_1, GRID_2, GRID_3, GRID_4 = "110101001001001", "110101001001002", "110101001002001", "110101002001001"
EDGE_LON = 24.9375  # the edge shared by GRID_1 (west) and GRID_2 (east)

POINTS = {
    "grid_1": (24.933, 60.165),  # well inside GRID_1 (≥ 250 m from its edges)
    "grid_2": (24.942, 60.165),
    "grid_4": (24.948, 60.168),
    "near_edge": (EDGE_LON - 0.0001, 60.165),  # ≈ 5.5 m west of the GRID_1/GRID_2 edge
    "community_only": (24.957, 60.165),  # inside COMMUNITY_SE, outside every grid
    "street_only": (24.952, 60.179),  # inside STREET_E, outside every community
    "outside": (24.925, 60.170),  # west of the district
}


def box(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[west, south], [east, south], [east, north], [west, north], [west, south]]],
    }


def feature(code: str, name: str, level: str, parent: str | None, geometry: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = {"code": code, "name": name, "level": level}
    if parent:
        properties["parent_code"] = parent
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def hierarchy() -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            feature(DISTRICT, "测试区", "district", None, box(24.930, 60.160, 24.960, 60.182)),
            feature(STREET_W, "西街道", "street", DISTRICT, box(24.930, 60.160, 24.945, 60.182)),
            feature(STREET_E, "东街道", "street", DISTRICT, box(24.945, 60.160, 24.960, 60.182)),
            feature(COMMUNITY_SW, "西南社区", "community", STREET_W, box(24.930, 60.160, 24.945, 60.171)),
            feature(COMMUNITY_NW, "西北社区", "community", STREET_W, box(24.930, 60.171, 24.945, 60.182)),
            feature(COMMUNITY_SE, "东南社区", "community", STREET_E, box(24.945, 60.160, 24.960, 60.175)),
            feature(GRID_1, "一网格", "grid", COMMUNITY_SW, box(24.930, 60.160, EDGE_LON, 60.171)),
            feature(GRID_2, "二网格", "grid", COMMUNITY_SW, box(EDGE_LON, 60.160, 24.945, 60.171)),
            feature(GRID_3, "三网格", "grid", COMMUNITY_NW, box(24.930, 60.171, 24.945, 60.182)),
            feature(GRID_4, "四网格", "grid", COMMUNITY_SE, box(24.945, 60.160, 24.9525, 60.175)),
        ],
    }


def load_hierarchy(client: TestClient, planner_headers: dict[str, str]) -> None:
    """Create the hierarchy through the grids API (all or nothing)."""
    response = client.post("/api/grids/import", json=hierarchy(), headers=planner_headers)
    assert response.status_code in (200, 201), response.text


def incident(
    client: TestClient, headers: dict[str, str], point: str | tuple[float, float], **fields: Any
) -> Any:
    """POST an incident at a named point (or (lon, lat)) with a default category; returns the response."""
    lon, lat = POINTS[point] if isinstance(point, str) else point
    body = {"lon": lon, "lat": lat, "category": "E0102", "description": "test", **fields}
    return client.post("/api/incidents", json=body, headers=headers)


@pytest.fixture(scope="module")
def client(db: Database) -> Iterator[TestClient]:
    """The module's client, without the periodic escalation job: these tests move time with their own clocks,
    and a sweep on the real clock must not escalate their incidents behind their backs."""
    app = create_app(db=db, incident_settings=IncidentSettings(escalation_enabled=False))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def areas(client: TestClient, planner_headers: dict[str, str]) -> None:
    """The synthetic hierarchy, in the test module's database."""
    load_hierarchy(client, planner_headers)
