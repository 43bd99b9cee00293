"""Isochrones against an independent exact Dijkstra on the Helsinki network, shape checks, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from geo_service.settings import WalkingSettings
from geo_service.walking import service
from geo_service.walking.network import current_network
from tests.walking.reference import load_reference

SPEED_MPS = 4.5 / 3.6
CORRIDOR_M = WalkingSettings().corridor_m
TO_UTM = Transformer.from_crs(4326, 32635, always_xy=True)


@pytest.fixture(scope="module")
def ref(db):
    return load_reference(db)


def _utm(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, lambda xy: np.column_stack(TO_UTM.transform(xy[:, 0], xy[:, 1])))


def _random_nodes(ref, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # surface nodes of the main piece of the network: many reachable nodes per origin
    return rng.choice(ref.surface_main_nodes(), size=count, replace=False)


@pytest.mark.parametrize("minutes", [5.0, 10.0])
def test_reachable_nodes_inside_and_far_ones_outside(db, ref, minutes):
    network = current_network(db)
    limit = minutes * 60 * SPEED_MPS
    edges_utm = _utm(shapely.MultiLineString(list(ref.lines))).geoms
    edge_lines = np.array(list(edges_utm), dtype=object)
    node_points = shapely.points(ref.lon, ref.lat)
    node_utm = shapely.points(np.column_stack(TO_UTM.transform(ref.lon, ref.lat)))
    checked_outside = 0
    for origin in _random_nodes(ref, 12, seed=int(minutes)):
        (contour,) = service.isochrones(network, [[ref.lon[origin], ref.lat[origin]]], [minutes])
        cost = ref.from_node(origin)
        inside = cost <= limit
        covered = shapely.covers(contour.geometry, node_points)
        missed = np.flatnonzero(inside & ~covered)
        assert missed.size == 0, f"{missed.size} nodes reachable in {minutes} min lie outside the polygon"
        reachable_edges = np.minimum(cost[ref.u], cost[ref.v]) <= limit
        near_reach = shapely.STRtree(edge_lines[reachable_edges])
        far = cost > 1.25 * limit
        far_idx = np.flatnonzero(far)
        hits = near_reach.query(node_utm[far_idx], predicate="dwithin", distance=CORRIDOR_M)
        close = np.zeros(far_idx.size, bool)
        close[hits[0]] = True
        outside_candidates = far_idx[~close]
        leaked = np.flatnonzero(covered[outside_candidates])
        assert leaked.size == 0, f"{leaked.size} far, unreachable nodes lie inside the {minutes}-min polygon"
        checked_outside += outside_candidates.size
    assert checked_outside > 100


def test_contours_nest_keep_holes_and_are_valid(db, ref):
    network = current_network(db)
    for origin in _random_nodes(ref, 8, seed=3):
        contours = service.isochrones(network, [[ref.lon[origin], ref.lat[origin]]], [5, 10, 15])
        assert [c.minutes for c in contours] == [5, 10, 15]
        areas = [c.area_m2 for c in contours]
        assert areas == sorted(areas) and areas[0] > 0
        for small, big in itertools.pairwise(contours):
            assert shapely.is_valid(small.geometry) and shapely.is_valid(big.geometry)
            outside = shapely.difference(_utm(small.geometry), _utm(big.geometry)).area
            assert outside < 1.0, f"{outside} m² of a shorter contour lies outside a longer one"
    # central Helsinki's 15-minute area has unreachable courtyards: holes, not a hull
    central = service.isochrones(network, [[24.9414, 60.1699]], [15])[0]
    assert sum(len(p.interiors) for p in central.geometry.geoms) >= 5
    assert central.area_m2 < 0.8 * _utm(shapely.convex_hull(central.geometry)).area


def test_partial_edge_from_mid_edge_origin(db, ref):
    """A point in the middle of an edge starts from both ends with partial costs."""
    network = current_network(db)
    long_edges = np.flatnonzero((ref.length > 60) & (ref.cost == ref.length))
    e = int(long_edges[0])
    mid = shapely.line_interpolate_point(ref.lines[e], 0.5, normalized=True)
    (contour,) = service.isochrones(network, [[mid.x, mid.y]], [0.2])  # 15 m of walking: stays on the edge
    u, v = ref.u[e], ref.v[e]
    assert not contour.geometry.covers(shapely.Point(ref.lon[u], ref.lat[u]))
    assert not contour.geometry.covers(shapely.Point(ref.lon[v], ref.lat[v]))
    assert contour.geometry.covers(mid)
    # long enough to reach both ends: both are inside, having paid only half the edge each
    half_minutes = (ref.length[e] / 2 + 1) / SPEED_MPS / 60
    (both,) = service.isochrones(network, [[mid.x, mid.y]], [half_minutes])
    assert both.geometry.covers(shapely.Point(ref.lon[u], ref.lat[u]))
    assert both.geometry.covers(shapely.Point(ref.lon[v], ref.lat[v]))


def test_several_origins_give_the_union(db, ref):
    network = current_network(db)
    a, b = _random_nodes(ref, 2, seed=11)
    pa, pb = [ref.lon[a], ref.lat[a]], [ref.lon[b], ref.lat[b]]
    union = service.isochrones(network, [pa, pb], [5])[0]
    single = shapely.union(
        service.isochrones(network, [pa], [5])[0].geometry, service.isochrones(network, [pb], [5])[0].geometry
    )
    difference = shapely.symmetric_difference(_utm(union.geometry), _utm(single)).area
    assert difference < 0.02 * union.area_m2


def test_nothing_claimed_beyond_the_corridor(db, ref):
    """Land and water farther than the corridor from every walkable edge (harbour, rail yards, blocks
    without paths) is never inside an isochrone, however long."""
    network = current_network(db)
    contour = service.isochrones(network, [[24.9414, 60.1699]], [30])[0]
    west, south, east, north = network.graphs[0].bbox
    lon, lat = np.meshgrid(np.linspace(west, east, 120), np.linspace(south, north, 160))
    points = shapely.points(lon.ravel(), lat.ravel())
    points_utm = _utm(shapely.MultiPoint(list(points))).geoms
    tree = shapely.STRtree(np.array(list(_utm(shapely.MultiLineString(list(ref.lines))).geoms), dtype=object))
    near, _ = tree.query(
        np.array(list(points_utm), dtype=object), predicate="dwithin", distance=CORRIDOR_M + 1
    )
    far = np.ones(len(points), bool)
    far[near] = False
    assert far.sum() > 500
    assert not shapely.covers(contour.geometry, points[far]).any()


def test_harbour_water_far_from_any_edge_is_refused(client):
    r = client.get("/api/isochrones", params={"lon": 24.9600, "lat": 60.1620})
    assert r.status_code == 422
    assert "m from the nearest walkable street" in r.json()["detail"]


def test_distance_contours_ignore_walking_speed(db):
    network = current_network(db)
    a = service.isochrones(network, [[24.9414, 60.1699]], distances_m=[500], speed_kmh=3.0)[0]
    b = service.isochrones(network, [[24.9414, 60.1699]], distances_m=[500], speed_kmh=6.0)[0]
    assert a.distance_m == 500 and a.minutes is None
    assert a.area_m2 == pytest.approx(b.area_m2)
    slow = service.isochrones(network, [[24.9414, 60.1699]], [10], speed_kmh=3.0)[0]
    fast = service.isochrones(network, [[24.9414, 60.1699]], [10], speed_kmh=6.0)[0]
    assert fast.area_m2 > 1.5 * slow.area_m2


def test_isolated_piece_still_answers(db, ref):
    """An origin on a tiny disconnected piece gets a small polygon around it, not an error."""
    network = current_network(db)
    graph = network.graphs[0]
    sizes = np.bincount(graph.component)
    small = np.flatnonzero(sizes <= 3)
    node = int(np.flatnonzero(np.isin(graph.component, small))[0])
    (contour,) = service.isochrones(network, [[graph.node_lon[node], graph.node_lat[node]]], [1])
    assert 0 < contour.area_m2 < 50_000
    assert contour.geometry.covers(shapely.Point(graph.node_lon[node], graph.node_lat[node]))


def test_http_isochrones(client):
    r = client.get("/api/isochrones", params={"lon": 24.9414, "lat": 60.1699, "minutes": "5,10,15"})
    assert r.status_code == 200
    body = r.json()
    assert body["type"] == "FeatureCollection"
    assert [f["properties"]["minutes"] for f in body["features"]] == [5, 10, 15]
    assert all(
        f["geometry"]["type"] == "MultiPolygon" and f["properties"]["area_m2"] > 0 for f in body["features"]
    )
    r = client.post(
        "/api/isochrones", json={"origins": [[24.9414, 60.1699], [24.95, 60.175]], "minutes": [10]}
    )
    assert r.status_code == 200 and len(r.json()["features"]) == 1


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"lon": 24.9414, "lat": 60.1699, "minutes": "0"}, "more than 0"),
        ({"lon": 24.9414, "lat": 60.1699, "minutes": "5,abc"}, "comma-separated numbers"),
        ({"lon": 24.9414, "lat": 60.1699, "minutes": "500"}, "at most"),
        ({"lon": 24.9414, "lat": 60.1699, "speed_kmh": "0"}, "speed_kmh"),
        ({"lon": "nan", "lat": 60.1699}, "finite"),
        ({"lon": 24.9414, "lat": 160.1699}, "out of range"),
        ({"lon": 60.1699, "lat": 24.9414}, "longitude first"),
        ({"lon": 24.9414, "lat": 60.1699, "crs": "epsg:9999"}, "unknown crs"),
        ({"lon": 24.99, "lat": 60.14}, "from the nearest walkable"),
    ],
)
def test_http_isochrones_bad_input(client, params, needle):
    r = client.get("/api/isochrones", params=params)
    assert r.status_code == 422, r.text
    assert needle in str(r.json()["detail"])


def _decimals(value: float) -> int:
    text = repr(value)
    return len(text.split(".")[1]) if "." in text else 0


def test_http_isochrones_round_and_simplify(client):
    origin = {"lon": 24.9414, "lat": 60.1699, "minutes": "5,10,15"}
    plain = client.get("/api/isochrones", params=origin).json()["features"]
    simple = client.get("/api/isochrones", params={**origin, "simplify_m": 5}).json()["features"]
    coarse = client.get("/api/isochrones", params={**origin, "precision": 5}).json()["features"]

    def coordinates(features: list[dict]) -> np.ndarray:
        return np.concatenate(
            [shapely.get_coordinates(shapely.geometry.shape(f["geometry"])) for f in features]
        )

    assert max(_decimals(float(v)) for v in coordinates(plain)[:500].ravel()) <= 7  # ≈ 1 cm, not 15 digits
    assert max(_decimals(float(v)) for v in coordinates(coarse)[:500].ravel()) <= 5
    assert len(coordinates(simple)) < 0.8 * len(coordinates(plain))
    for features in (simple, coarse):
        assert all(shapely.geometry.shape(f["geometry"]).is_valid for f in features)
        assert all(f["geometry"]["type"] == "MultiPolygon" for f in features)
    metric = [
        shapely.transform(shapely.geometry.shape(f["geometry"]), lambda xy: xy * [55_800.0, 111_300.0])
        for f in simple
    ]
    for small, big in itertools.pairwise(metric):
        assert shapely.difference(small, big).area < 1.0  # simplified contours still nest
    for p, c in zip(plain, simple, strict=True):  # the area moves by the simplification only
        assert (
            abs(c["properties"]["area_m2"] - p["properties"]["area_m2"]) < 0.05 * p["properties"]["area_m2"]
        )
