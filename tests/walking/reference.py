"""An independent reference for the walking tests: the network read straight from SQL and searched with
scipy's Dijkstra (not the engine's graph module or its numba search)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geo_service.db.pool import Database

STEPS_FACTOR = 2.0  # the default GEO_SERVICE_WALK_STEPS_FACTOR


@dataclass
class Reference:
    node_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    u: np.ndarray
    v: np.ndarray
    cost: np.ndarray
    length: np.ndarray
    lines: np.ndarray
    matrix: csr_matrix
    underground: np.ndarray

    def surface_main_nodes(self) -> np.ndarray:
        """Nodes of the main piece of the network on a surface edge: points there snap onto that node
        (an underground-only node would snap to the street above it)."""
        reach = self.from_node(int(self.u[np.flatnonzero(~self.underground)[0]]))
        on_surface = np.zeros(len(self.node_id), bool)
        on_surface[self.u[~self.underground]] = True
        on_surface[self.v[~self.underground]] = True
        return np.flatnonzero(np.isfinite(reach) & on_surface)

    def index_of(self, osm_id: int) -> int:
        return int(np.searchsorted(self.node_id, osm_id))

    def from_node(self, i: int, limit: float = np.inf) -> np.ndarray:
        """Effective metres from node ``i`` to every node."""
        return dijkstra(self.matrix, directed=False, indices=i, limit=limit)


def load_reference(db: Database, dataset: str = "helsinki") -> Reference:
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            "SELECT id, ST_X(geom), ST_Y(geom) FROM walk_nodes WHERE dataset = %s ORDER BY id", (dataset,)
        )
        nodes = cur.fetchall()
        cur.execute(
            "SELECT u, v, length_m, steps, ST_AsBinary(geom), underground FROM walk_edges WHERE dataset = %s AND u <> v",
            (dataset,),
        )
        edges = cur.fetchall()
    node_id = np.array([n[0] for n in nodes], np.int64)
    u = np.searchsorted(node_id, np.array([e[0] for e in edges], np.int64))
    v = np.searchsorted(node_id, np.array([e[1] for e in edges], np.int64))
    length = np.array([e[2] for e in edges], float)
    cost = length * np.where(np.array([e[3] for e in edges]), STEPS_FACTOR, 1.0)
    n = len(node_id)
    # parallel edges: keep the cheapest (csr_matrix would add them up)
    order = np.lexsort((cost, np.minimum(u, v), np.maximum(u, v)))
    a, b, c = np.minimum(u, v)[order], np.maximum(u, v)[order], cost[order]
    first = np.ones(len(a), bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    # scipy drops explicit zeros: a zero-length edge (an elevator) keeps a vanishing cost instead
    matrix = csr_matrix((np.maximum(c[first], 1e-9), (a[first], b[first])), shape=(n, n))
    return Reference(
        node_id,
        np.array([x[1] for x in nodes]),
        np.array([x[2] for x in nodes]),
        u,
        v,
        cost,
        length,
        shapely.from_wkb([bytes(e[4]) for e in edges]),
        matrix,
        np.array([bool(e[5]) for e in edges]),
    )
