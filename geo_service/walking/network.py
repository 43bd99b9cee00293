"""The walking network of every imported dataset, kept in step with the database, and searches on it.

:func:`current_network` returns an immutable :class:`WalkNetwork` for the current ``network`` revision
(``data_revisions``, bumped by every change to ``walk_edges``): a re-import seen by any process is picked
up on the next call. Searches run in per-thread work arrays (:class:`Workspace`), so concurrent requests
never share state and a search costs what it reaches, not the size of the graph.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from geo_service.db import revisions
from geo_service.db.cache import RevisionCache
from geo_service.db.pool import Database
from geo_service.settings import WalkingSettings, walking_settings
from geo_service.store import network as store
from geo_service.walking import search
from geo_service.walking.graph import Snap, WalkGraph, graph_from_snapshot

log = logging.getLogger(__name__)
_DEG_PER_M = 1.0 / 111_000.0


class Workspace:
    """Work arrays of one thread for one graph; +inf / unset between searches."""

    def __init__(self, graph: WalkGraph) -> None:
        n, m = graph.n_nodes, graph.n_edges
        self.dist = np.full(n, np.inf)
        self.along_m = np.zeros(n)
        self.label = np.full(n, -1, np.int64)
        self.pred_edge = np.full(n, search.NO_EDGE, np.int64)
        self.touched = np.empty(max(n, 1), np.int64)
        self.edge_mark = np.zeros(max(m, 1), bool)


_local = threading.local()


def workspace(graph: WalkGraph) -> Workspace:
    spaces = getattr(_local, "spaces", None)
    if spaces is None:
        spaces = _local.spaces = weakref.WeakKeyDictionary()
    space = spaces.get(graph)
    if space is None:
        space = spaces[graph] = Workspace(graph)
    return space


@dataclass(frozen=True)
class Sources:
    """Search sources on one graph: points on edges, each with a label (e.g. the origin's index)."""

    edge: np.ndarray
    frac: np.ndarray
    label: np.ndarray
    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class Search:
    """A finished search (valid only inside :func:`run_search`'s block): per-node ``dist`` (cost of
    ``kind``, +inf unreached), ``along_m``, ``label``, ``pred_edge``, and the touched nodes."""

    graph: WalkGraph
    sources: Sources
    space: Workspace
    n_touched: int
    limit: float
    kind: str

    @property
    def edge_cost(self) -> np.ndarray:
        return self.graph.costs(self.kind)[0]

    @property
    def touched(self) -> np.ndarray:
        return self.space.touched[: self.n_touched]

    @property
    def dist(self) -> np.ndarray:
        return self.space.dist


@contextlib.contextmanager
def run_search(graph: WalkGraph, sources: Sources, limit: float, goal: np.ndarray | None = None,
               kind: str = "time") -> Iterator[Search]:  # fmt: skip
    """Search ``graph`` from ``sources`` up to ``limit`` (stopping once ``goal`` nodes are settled); the
    block reads the result, which is cleared when it ends. ``kind`` ``time`` costs effective metres (steps
    slower; ÷ speed = seconds), ``distance`` plain metres."""
    space = workspace(graph)
    nodes, cost, metres, labels = graph.source_arrays(kind, sources.edge, sources.frac, sources.label)
    goal_arr = np.empty(0, np.int64) if goal is None else np.asarray(goal, np.int64)
    adj_cost = graph.costs(kind)[1]
    n = search.dijkstra(graph.indptr, graph.adj_node, adj_cost, graph.adj_len, graph.adj_edge, nodes,
                        cost, metres, labels, float(limit), goal_arr, space.dist, space.along_m, space.label,
                        space.pred_edge, space.touched)  # fmt: skip
    try:
        yield Search(graph, sources, space, int(n), float(limit), kind)
    finally:
        search.reset(space.dist, space.touched, n)


@dataclass(frozen=True)
class Located:
    """Points snapped onto one network: which graph each point is on (-1: none within reach) and where."""

    graph_index: np.ndarray
    edge: np.ndarray
    frac: np.ndarray
    distance_m: np.ndarray
    x: np.ndarray
    y: np.ndarray


class WalkNetwork:
    """Every dataset's :class:`WalkGraph` at one ``network`` revision."""

    def __init__(self, revision: int, graphs: list[WalkGraph]) -> None:
        self.revision = revision
        self.graphs = graphs

    def snap(self, lon: np.ndarray, lat: np.ndarray, max_snap_m: float) -> Located:
        """Snap WGS-84 points onto the nearest edge of whichever graph is nearest (within ``max_snap_m``)."""
        lon = np.atleast_1d(np.asarray(lon, float))
        lat = np.atleast_1d(np.asarray(lat, float))
        n = lon.shape[0]
        best = Located(np.full(n, -1, np.int64), np.full(n, -1, np.int64), np.zeros(n), np.full(n, np.inf),
                       np.full(n, np.nan), np.full(n, np.nan))  # fmt: skip
        pad = max_snap_m * _DEG_PER_M
        for gi, graph in enumerate(self.graphs):
            w, s, e, nth = graph.bbox
            pad_lon = pad / max(np.cos(np.radians(max(abs(s), abs(nth)))), 0.05)
            near = (lon >= w - pad_lon) & (lon <= e + pad_lon) & (lat >= s - pad) & (lat <= nth + pad)
            if not near.any():
                continue
            idx = np.flatnonzero(near)
            x, y = graph.project(lon[idx], lat[idx])
            snap: Snap = graph.snap(x, y, max_snap_m)
            better = snap.snapped & (snap.distance_m < best.distance_m[idx])
            take = idx[better]
            best.graph_index[take] = gi
            best.edge[take] = snap.edge[better]
            best.frac[take] = snap.frac[better]
            best.distance_m[take] = snap.distance_m[better]
            best.x[take] = snap.x[better]
            best.y[take] = snap.y[better]
        return best

    def nearest_edge_distance_m(self, lon: float, lat: float) -> float | None:
        """Metres to the nearest walkable edge of any graph (None when there is no network)."""
        best: float | None = None
        for graph in self.graphs:
            if not graph.n_edges:
                continue
            x, y = graph.project(np.array([lon]), np.array([lat]))
            snap = graph.snap(x, y, 1e9)
            d = float(snap.distance_m[0])
            best = d if best is None or d < best else best
        return best


_NETWORKS: RevisionCache[WalkNetwork] = RevisionCache()


def load_network(db: Database, settings: WalkingSettings | None = None) -> WalkNetwork:
    """Read every dataset's walking network and build its graph."""
    settings = settings or walking_settings()
    with db.cursor(dict_rows=False) as cur:
        revision, datasets = store.network_snapshot(cur)
    graphs = [graph_from_snapshot(d, settings.steps_factor) for d in datasets]
    for graph in graphs:
        comps = graph.components
        log.info(
            "walking network %s: %d nodes, %d edges, %d connected pieces (largest %.1f%% of nodes)",
            graph.name, graph.n_nodes, graph.n_edges, comps["count"], 100 * comps["largest_share"],
        )  # fmt: skip
    return WalkNetwork(revision, graphs)


def current_network(db: Database, settings: WalkingSettings | None = None) -> WalkNetwork:
    """The network for ``db`` at the current ``network`` revision (reloaded when a re-import moved it)."""
    revision = revisions.watch_of(db).revision("network")  # in memory: no round trip per call
    return _NETWORKS.get(db, revision, lambda: load_network(db, settings), key_of=lambda net: net.revision)
