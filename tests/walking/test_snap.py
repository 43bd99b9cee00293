"""Snapping: onto the nearest point of the nearest edge, surface edges before tunnels below them."""

from __future__ import annotations

import numpy as np
import shapely

from geo_service.walking.network import current_network


def test_import_flags_underground_edges(db):
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FILTER (WHERE underground) AS below, count(*) AS n FROM walk_edges")
        row = cur.fetchone()
    assert 0 < row["below"] < row["n"]


def test_points_above_a_tunnel_snap_to_the_street(db):
    network = current_network(db)
    graph = network.graphs[0]
    below = np.flatnonzero(graph.edge_underground)
    assert below.size
    lines = np.array([graph.edge_line(int(e)) for e in below])
    mids = shapely.line_interpolate_point(lines, 0.5, normalized=True)
    x, y = shapely.get_x(mids), shapely.get_y(mids)
    snap = graph.snap(x, y, 300.0)
    assert snap.snapped.all()
    assert not graph.edge_underground[snap.edge].any()
    # a tunnel still routes: it is in the graph with both ends connected
    assert graph.edge_cost[below].sum() > 0


def test_snap_lands_on_the_edge_not_a_node(db):
    network = current_network(db)
    graph = network.graphs[0]
    e = int(np.flatnonzero((graph.edge_line_len > 50) & ~graph.edge_underground)[0])
    mid = shapely.line_interpolate_point(graph.edge_line(e), 0.5, normalized=True)
    snap = graph.snap(np.array([mid.x + 3.0]), np.array([mid.y]), 300.0)
    assert snap.distance_m[0] <= 3.0 + 1e-6
    assert 0.05 < snap.frac[0] < 0.95
