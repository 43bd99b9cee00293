"""Helpers for grid tests: rectangles laid out in metres around a point in Beijing (far from the Helsinki data)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from geo_service.crs import metres_per_degree
from geo_service.db.pool import Database
from tests.conftest import make_client

ORIGIN = (116.40, 39.90)
KX, KY = metres_per_degree(ORIGIN[1])


def lonlat(x_m: float, y_m: float, origin: tuple[float, float] = ORIGIN) -> list[float]:
    """The WGS-84 position x_m east and y_m north of ``origin`` (same inputs → bit-identical outputs)."""
    return [origin[0] + x_m / KX, origin[1] + y_m / KY]


def ring(points_m: list[tuple[float, float]], origin: tuple[float, float] = ORIGIN) -> list[list[float]]:
    coords = [lonlat(x, y, origin) for x, y in points_m]
    return [*coords, coords[0]]


def rect(x0: float, y0: float, x1: float, y1: float, origin: tuple[float, float] = ORIGIN) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], origin)]}


def feature(
    code: str | None, geometry: dict[str, Any], level: str = "grid", parent: str | None = None, **props: Any
) -> dict[str, Any]:
    properties = {"code": code, "name": f"test {code}", "level": level, "parent_code": parent, **props}
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def origin_for(prefix: str) -> tuple[float, float]:
    """A separate 2 km square per test district (districts are siblings and must not overlap)."""
    return tuple(lonlat(int(prefix[-2:]) * 2000.0, 0.0))  # type: ignore[return-value]


def hierarchy(prefix: str, size_m: float = 1000.0) -> list[dict[str, Any]]:
    """District ``prefix`` (6 digits) → street → community, all the same square at ``origin_for(prefix)``."""
    square = rect(0, 0, size_m, size_m, origin_for(prefix))
    return [
        feature(prefix, square, "district"),
        feature(f"{prefix}001", square, "street", prefix),
        feature(f"{prefix}001001", square, "community", f"{prefix}001"),
    ]


def problems_of(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    return [p["problem"] for p in response.json()["detail"]]


@pytest.fixture(scope="module")
def demo_client(demo_grids_db: Database) -> Iterator[TestClient]:
    """A client of a copy of the demo hierarchy over Helsinki (built once per run, not per module)."""
    with make_client(demo_grids_db) as test_client:
        yield test_client
