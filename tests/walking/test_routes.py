"""Routes and travel matrices against the independent Dijkstra; the search kernel against scipy."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Geod

from geo_service.walking import service
from geo_service.walking.network import current_network
from tests.documented import answered
from tests.walking.reference import load_reference

SPEED_MPS = 4.5 / 3.6
GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def ref(db):
    return load_reference(db)


def test_route_cost_equals_dijkstra(db, ref):
    network = current_network(db)
    rng = np.random.default_rng(7)
    main = ref.surface_main_nodes()
    for a, b in rng.choice(main, size=(15, 2), replace=False):
        r = service.route(network, [ref.lon[a], ref.lat[a]], [ref.lon[b], ref.lat[b]])
        expected = ref.from_node(a)[b]
        assert r.walk_seconds * SPEED_MPS == pytest.approx(expected, rel=1e-6, abs=0.05)
        line_m = GEOD.geometry_length(r.geometry)
        assert line_m == pytest.approx(r.distance_m, rel=0.01, abs=1.0)
        assert shapely.Point(r.geometry.coords[0]).distance(shapely.Point(ref.lon[a], ref.lat[a])) < 1e-6
        assert shapely.Point(r.geometry.coords[-1]).distance(shapely.Point(ref.lon[b], ref.lat[b])) < 1e-6


def test_route_between_points_on_one_edge(db, ref):
    network = current_network(db)
    e = int(np.flatnonzero((ref.length > 60) & (ref.cost == ref.length))[0])
    p = shapely.line_interpolate_point(ref.lines[e], 0.2, normalized=True)
    q = shapely.line_interpolate_point(ref.lines[e], 0.7, normalized=True)
    r = service.route(network, [p.x, p.y], [q.x, q.y])
    assert r.distance_m == pytest.approx(0.5 * ref.length[e], rel=0.02)


def test_travel_matrix_matches_dijkstra(db, ref):
    network = current_network(db)
    rng = np.random.default_rng(5)
    main = ref.surface_main_nodes()
    src = rng.choice(main, 6, replace=False)
    dst = rng.choice(main, 40, replace=False)
    max_seconds = 600.0
    m = service.travel_matrix(
        network,
        np.column_stack([ref.lon[src], ref.lat[src]]),
        np.column_stack([ref.lon[dst], ref.lat[dst]]),
        max_seconds,
    )
    got = {(int(i), int(j)): s for i, j, s in zip(m.rows, m.cols, m.seconds, strict=True)}
    for i, a in enumerate(src):
        cost = ref.from_node(a)[dst] / SPEED_MPS
        for j in range(len(dst)):
            if cost[j] <= max_seconds - 0.01:
                assert got[(i, j)] == pytest.approx(cost[j], rel=1e-6, abs=0.05)
            elif cost[j] > max_seconds + 0.01:
                assert (i, j) not in got
    assert m.source_snapped.all() and m.target_snapped.all()


def test_search_kernel_agrees_with_scipy_from_several_sources(db, ref):
    """Multi-source search with initial costs = scipy on a graph with a virtual super-source."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    network = current_network(db)
    graph = network.graphs[0]
    rng = np.random.default_rng(2)
    sources = rng.choice(graph.n_nodes, 4, replace=False)
    start = rng.uniform(0, 200, 4)
    from geo_service.walking import search

    n = graph.n_nodes
    dist = np.full(n, np.inf)
    along = np.zeros(n)
    # the arrays the service passes (network.node_reach): the kernel's cached machine code, not a signature of
    # this test's own compiled on a fresh install's first run (~5 s in each test process)
    label = np.full(n, -1, np.int64)
    pred = np.full(n, -1, graph.adj_edge.dtype)
    touched = np.empty(n, graph.adj_node.dtype)
    count = search.dijkstra(
        graph.indptr,
        graph.adj_node,
        graph.adj_edge,
        graph.edge_cost,
        graph.edge_len_m,
        sources.astype(np.int64),
        start,
        np.zeros(4),
        np.arange(4, dtype=np.int64),
        1500.0,
        np.empty(0, np.int64),
        dist,
        along,
        label,
        pred,
        touched,
    )
    rows = np.concatenate([graph.edge_u, graph.edge_v, np.full(4, n)])
    cols = np.concatenate([graph.edge_v, graph.edge_u, sources])
    data = np.concatenate([graph.edge_cost, graph.edge_cost, start])
    data = np.maximum(data, 1e-9)
    order = np.lexsort((data, cols, rows))
    rows, cols, data = rows[order], cols[order], data[order]
    first = np.ones(len(rows), bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    matrix = csr_matrix((data[first], (rows[first], cols[first])), shape=(n + 1, n + 1))
    expected = dijkstra(matrix, directed=True, indices=n, limit=1500.0)[:n]
    np.testing.assert_allclose(dist, expected, rtol=1e-9, atol=1e-6)
    assert count == np.isfinite(expected).sum()
    reached = np.isfinite(dist)
    assert (label[reached] >= 0).all()


def test_http_route(client):
    r = client.get("/api/route", params={"from": "24.9414,60.1699", "to": "24.95,60.165"})
    assert r.status_code == 200
    body = r.json()
    assert body["geometry"]["type"] == "LineString"
    assert body["properties"]["walk_seconds"] > 0 and body["properties"]["distance_m"] > 0
    r = client.get("/api/route", params={"from": "24.9414", "to": "24.95,60.165"})
    assert r.status_code == 422


def test_network_summary_reports_pieces(client):
    body = client.get("/api/network").json()
    (helsinki,) = [d for d in body["datasets"] if d["name"] == "helsinki"]
    assert helsinki["nodes"] > 5000 and helsinki["components"]["count"] > 1
    assert 0.9 < helsinki["components"]["largest_share"] < 1.0


def test_answers_have_the_members_their_schemas_name(client):
    """Isochrones, the route, the reachable streets and the network's make-up: every member their documented schema names
    (a route's and a street piece's properties included) and no other."""
    document = client.get("/openapi.json").json()
    here = {"lon": 24.9414, "lat": 60.1699}
    answered(
        document,
        "/api/route",
        "get",
        client.get("/api/route", params={"from": "24.9414,60.1699", "to": "24.95,60.165"}),
    )
    streets = answered(
        document,
        "/api/isochrones/streets",
        "get",
        client.get("/api/isochrones/streets", params={**here, "minutes": 3}),
    )
    assert streets["features"]
    answered(document, "/api/network", "get", client.get("/api/network"))
    answered(
        document, "/api/isochrones", "get", client.get("/api/isochrones", params={**here, "minutes": "3,5"})
    )


def test_network_follows_edits(fresh_db):
    before = current_network(fresh_db)
    with fresh_db.cursor() as cur:
        cur.execute("DELETE FROM walk_edges WHERE id IN (SELECT id FROM walk_edges ORDER BY id LIMIT 10)")
    after = current_network(fresh_db)
    assert after.revision != before.revision
    assert after.graphs[0].n_edges == before.graphs[0].n_edges - 10


def test_reachable_streets_carry_times_within_the_limit(db, ref):
    network = current_network(db)
    body = service.reachable_streets(network, [[24.9414, 60.1699]], 5)
    assert body["features"]
    limit = 5 * 60
    for f in body["features"]:
        p = f["properties"]
        assert 0 <= p["from_seconds"] <= limit + 0.1 and 0 <= p["to_seconds"] <= limit + 0.1
        assert f["geometry"]["type"] == "LineString" and len(f["geometry"]["coordinates"]) >= 2
    # the pieces' total length is what the 5-minute contour is drawn from: some streets are cut part-way
    cut = [
        f
        for f in body["features"]
        if max(f["properties"]["from_seconds"], f["properties"]["to_seconds"]) > limit - 1
    ]
    assert cut
