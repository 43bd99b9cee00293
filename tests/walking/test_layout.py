"""The graph's internal layout: nodes along a space-filling curve, edges in CSR order, ids unchanged."""

from __future__ import annotations

import numpy as np
import shapely

from geo_service.walking.graph import build_graph


def _grid_network(side: int, seed: int = 3) -> tuple[np.ndarray, ...]:
    """A side × side street grid (about 100 m apart near Helsinki) with shuffled OSM-like ids."""
    rng = np.random.default_rng(seed)
    j, i = np.meshgrid(np.arange(side), np.arange(side))
    lon = 24.90 + j.ravel() * 0.0018
    lat = 60.15 + i.ravel() * 0.0009
    ids = rng.permutation(side * side).astype(np.int64) * 7 + 1000
    idx = np.arange(side * side).reshape(side, side)
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    lines = shapely.linestrings(
        np.stack([np.column_stack([lon[a], lat[a]]), np.column_stack([lon[b], lat[b]])], 1)
    )
    edge_id = np.arange(a.size, dtype=np.int64) + 1
    return ids, lon, lat, edge_id, ids[a], ids[b], lines


def test_renumbered_graph_keeps_ids_and_places_neighbours_near_in_memory() -> None:
    side = 20
    ids, lon, lat, edge_id, u, v, lines = _grid_network(side)
    length = np.full(edge_id.size, 100.0)
    graph = build_graph(
        "grid", None, ids, lon, lat, edge_id, u, v, length, np.zeros(edge_id.size, bool), lines
    )
    # every edge still joins the nodes its ids name, and every node sits where its id says
    by_id = {int(k): i for i, k in enumerate(ids)}
    for e in range(graph.n_edges):
        k = int(graph.edge_id[e]) - 1
        assert {int(graph.node_id[graph.edge_u[e]]), int(graph.node_id[graph.edge_v[e]])} == {
            int(u[k]),
            int(v[k]),
        }
    lon_back, lat_back = graph.unproject(graph.node_x, graph.node_y)
    order = np.array([by_id[int(k)] for k in graph.node_id])
    assert np.allclose(lon_back, lon[order]) and np.allclose(lat_back, lat[order])
    # a Hilbert order on a grid: consecutive internal indices are grid neighbours (ids were shuffled, so
    # nodes sorted by id would be ~side / 3 cells apart on average)
    step = np.hypot(np.diff(graph.node_x), np.diff(graph.node_y))
    assert np.median(step) < 150.0
    # edges in CSR order: by lower, then higher end
    lo, hi = np.minimum(graph.edge_u, graph.edge_v), np.maximum(graph.edge_u, graph.edge_v)
    assert np.all(np.diff(lo * graph.n_nodes + hi) > 0)
    # the arcs still point at the right edges
    for node in range(graph.n_nodes):
        for k in range(graph.indptr[node], graph.indptr[node + 1]):
            e = graph.adj_edge[k]
            assert {node, int(graph.adj_node[k])} == {int(graph.edge_u[e]), int(graph.edge_v[e])}
