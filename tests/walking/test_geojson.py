"""The compiled GeoJSON writer of isochrone outlines prints the same numbers as GEOS's writer."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

from geo_service.walking import service
from geo_service.walking.geojson import geometry_json
from geo_service.walking.network import current_network


def _same(geometry: shapely.Geometry, decimals: int | None) -> None:
    ours = json.loads(geometry_json(geometry, decimals))
    assert ours == json.loads(shapely.to_geojson(geometry))
    assert shapely.equals_exact(shapely.geometry.shape(ours), geometry, tolerance=0)


@pytest.mark.parametrize("decimals", [0, 1, 3, 7, 12, 15])
def test_edge_cases_of_numbers_and_rings(decimals: int) -> None:
    rng = np.random.default_rng(decimals)
    values = rng.uniform(-180, 180, size=(40, 2))
    values[:6] = [[0.0, -0.0], [-0.05, 0.5], [1.0, -180.0], [179.99, -90.0], [10.0, 100.0], [-1.5, 1e-6]]
    outer = shapely.box(-170, -80, 170, 80)
    hole = shapely.box(-10.25, -10.125, 10.5, 10.0625)
    geometry = shapely.MultiPolygon(
        [
            shapely.Polygon(outer.exterior.coords, [hole.exterior.coords]),
            shapely.Polygon(np.vstack([values[:20], values[:1]])),
            shapely.Polygon(np.vstack([values[20:], values[20:21]])),
        ]
    )
    # rounded as the isochrone path rounds them (at 15 decimals most of them exceed 2**53 scaled: GEOS prints)
    _same(shapely.transform(geometry, lambda xy: np.round(xy, decimals)), decimals)


def test_other_geometries_and_unrounded_coordinates_fall_back_to_geos() -> None:
    _same(shapely.MultiPolygon(), 7)
    _same(shapely.box(0, 0, 1, 1), 7)  # a Polygon
    _same(shapely.MultiPolygon([shapely.box(0.1234567891, 0, 1, 1)]), None)
    _same(shapely.MultiPolygon([shapely.box(500_000.25, 6_600_000.5, 500_010.0, 6_600_010.0)]), 7)


@pytest.mark.parametrize("decimals", [3, 5, 7, 12])
def test_isochrone_outlines(db, decimals: int) -> None:
    network = current_network(db)
    contours = service.isochrones(network, [[24.9414, 60.1699]], [5.0, 10.0, 15.0], decimals=decimals)
    assert all(c.decimals == decimals for c in contours)
    for contour in contours:
        assert shapely.get_num_coordinates(contour.geometry) > 20
        _same(contour.geometry, decimals)


def test_http_answer_carries_the_service_geometry(db, client) -> None:
    origin = {"lon": 24.9414, "lat": 60.1699, "minutes": "5,10,15"}
    features = client.get("/api/isochrones", params=origin).json()["features"]
    contours = service.isochrones(current_network(db), [[24.9414, 60.1699]], [5.0, 10.0, 15.0])
    assert len(features) == len(contours) == 3
    for feature, contour in zip(features, contours, strict=True):
        assert feature["geometry"] == json.loads(shapely.to_geojson(contour.geometry))
        assert feature["properties"]["minutes"] == contour.minutes
