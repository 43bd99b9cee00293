"""The walking network of every imported dataset, kept in step with the database, and searches on it.

:func:`current_network` returns an immutable :class:`WalkNetwork` for the current ``network`` revision
(``data_revisions``, bumped by every change to ``walk_edges``): a re-import seen by any process is picked
up on the next call. Graphs are built once per revision and cached on disk (:mod:`.cache`); every process
then memory-maps the same files. A network is loaded on a process's first search, never at start, so a
process that only serves tiles or locates never holds one.

Searches run in work arrays taken from a bounded pool per graph (:class:`WorkspacePool`,
``GEO_SERVICE_WALK_SEARCH_WORKSPACES``): concurrent requests never share state, a search costs what it
reaches, not the size of the graph, and the memory for work arrays stays bounded however many threads serve.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geo_service.db import revisions
from geo_service.db.cache import RevisionCache
from geo_service.db.pool import Database
from geo_service.settings import DatabaseSettings, WalkingSettings
from geo_service.store import network as store
from geo_service.walking import cache, search
from geo_service.walking.graph import Snap, WalkGraph, graph_from_snapshot

log = logging.getLogger(__name__)
_DEG_PER_M = 1.0 / 111_000.0


class Workspace:
    """Work arrays for one search at a time on one graph; +inf / unset between searches (~30 bytes a node)."""

    def __init__(self, graph: WalkGraph) -> None:
        n, m = graph.n_nodes, graph.n_edges
        index = graph.adj_node.dtype
        self.dist = np.full(n, np.inf)
        self.along_m = np.zeros(n)
        self.label = np.full(n, -1, index)
        self.pred_edge = np.full(n, search.NO_EDGE, index)
        self.touched = np.empty(max(n, 1), index)
        self.edge_mark = np.zeros(max(m, 1), bool)


class WorkspacePool:
    """At most ``size`` :class:`Workspace` of one graph, made on demand and reused; a search waits for a free
    one. A thread that already holds one and asks again (a search inside a search) gets a temporary one
    rather than waiting on itself."""

    def __init__(self, graph: WalkGraph, size: int) -> None:
        self._graph = weakref.ref(graph)
        self.size = size
        self.created = 0
        self._free: list[Workspace] = []
        self._cond = threading.Condition()
        self._held = threading.local()

    @contextlib.contextmanager
    def workspace(self) -> Iterator[Workspace]:
        graph = self._graph()
        assert graph is not None
        held = getattr(self._held, "count", 0)
        space: Workspace | None = None
        pooled = True
        with self._cond:
            if self._free:
                space = self._free.pop()
            elif self.created < self.size:
                self.created += 1
            elif held:
                pooled = False
            else:
                while not self._free:
                    self._cond.wait()
                space = self._free.pop()
        if space is None:
            space = Workspace(graph)
        self._held.count = held + 1
        try:
            yield space
        finally:
            self._held.count = held
            if pooled:
                with self._cond:
                    self._free.append(space)
                    self._cond.notify()


_POOLS: weakref.WeakKeyDictionary[WalkGraph, WorkspacePool] = weakref.WeakKeyDictionary()
_POOLS_LOCK = threading.Lock()


def workspace_pool(graph: WalkGraph, size: int | None = None) -> WorkspacePool:
    """The graph's pool of search work arrays; ``size`` applies when the pool is first made (by
    :func:`current_network`, from the settings it was given), the settings' default otherwise."""
    with _POOLS_LOCK:
        pool = _POOLS.get(graph)
        if pool is None:
            default = WalkingSettings.model_fields["search_workspaces"].default
            pool = _POOLS[graph] = WorkspacePool(graph, size or default)
        return pool


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
        return self.graph.costs(self.kind)

    @property
    def touched(self) -> np.ndarray:
        return self.space.touched[: self.n_touched]

    @property
    def dist(self) -> np.ndarray:
        return self.space.dist


@contextlib.contextmanager
def run_search(
    graph: WalkGraph, sources: Sources, limit: float, goal: np.ndarray | None = None, kind: str = "time"
) -> Iterator[Search]:
    """Search ``graph`` from ``sources`` up to ``limit`` (stopping once ``goal`` nodes are settled); the
    block reads the result, which is cleared when it ends. ``kind`` ``time`` costs effective metres (steps
    slower; ÷ speed = seconds), ``distance`` plain metres."""
    nodes, cost, metres, labels = graph.source_arrays(kind, sources.edge, sources.frac, sources.label)
    goal_arr = np.empty(0, np.int64) if goal is None else np.asarray(goal, np.int64)
    with workspace_pool(graph).workspace() as space:
        n = search.dijkstra(
            graph.indptr,
            graph.adj_node,
            graph.adj_edge,
            graph.costs(kind),
            graph.edge_len_m,
            nodes,
            cost,
            metres,
            labels,
            float(limit),
            goal_arr,
            space.dist,
            space.along_m,
            space.label,
            space.pred_edge,
            space.touched,
        )
        try:
            yield Search(graph, sources, space, int(n), float(limit), kind)
        finally:
            search.reset(space.dist, space.touched, n)


@dataclass(frozen=True)
class NodeReach:
    """Per node of one graph, from a search whose arrays the caller keeps: cost (+inf unreached), the true
    metres of that path and the label of the source it came from (-1 none)."""

    dist: np.ndarray
    metres: np.ndarray
    label: np.ndarray


def node_reach(
    graph: WalkGraph,
    kind: str,
    src_edge: np.ndarray,
    src_frac: np.ndarray,
    src_label: np.ndarray,
    limit: float,
) -> NodeReach:
    """One multi-source search from points at ``src_frac`` along ``src_edge`` (each with its label) up to
    ``limit`` (``kind`` ``time``: effective metres; ``distance``: metres), into arrays of its own (not a
    pooled workspace: the caller keeps the result)."""
    n = graph.n_nodes
    dist = np.full(n, np.inf)
    metres = np.zeros(n)
    label = np.full(n, -1, np.int64)
    pred = np.full(n, search.NO_EDGE, graph.adj_edge.dtype)
    touched = np.empty(max(n, 1), graph.adj_node.dtype)
    nodes, cost, length, labels = graph.source_arrays(kind, src_edge, src_frac, src_label)
    search.dijkstra(
        graph.indptr,
        graph.adj_node,
        graph.adj_edge,
        graph.costs(kind),
        graph.edge_len_m,
        nodes,
        cost,
        length,
        labels,
        float(limit),
        np.empty(0, np.int64),
        dist,
        metres,
        label,
        pred,
        touched,
    )
    return NodeReach(dist, metres, label)


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

    def __init__(
        self, revision: int, graphs: list[WalkGraph], cache_folder: Path | None = None, *, built: bool = False
    ) -> None:
        self.revision = revision
        self.graphs = graphs
        self.cache_folder = cache_folder  # where its arrays are mapped from (None: built in memory)
        self.built = built  # this process read the rows and built the graphs (False: mapped another's build)

    def snap(self, lon: np.ndarray, lat: np.ndarray, max_snap_m: float) -> Located:
        """Snap WGS-84 points onto the nearest edge of whichever graph is nearest (within ``max_snap_m``)."""
        lon = np.atleast_1d(np.asarray(lon, float))
        lat = np.atleast_1d(np.asarray(lat, float))
        n = lon.shape[0]
        best = Located(
            np.full(n, -1, np.int64),
            np.full(n, -1, np.int64),
            np.zeros(n),
            np.full(n, np.inf),
            np.full(n, np.nan),
            np.full(n, np.nan),
        )
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


def cache_root(settings: WalkingSettings) -> Path:
    """Where the graphs' disk cache lives (``GEO_SERVICE_WALK_CACHE_DIR``, else under ``GEO_SERVICE_HOME``)."""
    if settings.cache_dir is not None:
        return settings.cache_dir
    return DatabaseSettings().home / "cache" / "walking"


def _log_graphs(graphs: list[WalkGraph], source: str) -> None:
    for graph in graphs:
        comps = graph.components
        log.info(
            "walking network %s (%s): %d nodes, %d edges, %d connected pieces (largest %.1f%% of nodes), %.0f MB",
            graph.name,
            source,
            graph.n_nodes,
            graph.n_edges,
            comps["count"],
            100 * comps["largest_share"],
            graph.nbytes() / 1e6,
        )


def load_network(db: Database, settings: WalkingSettings | None = None) -> WalkNetwork:
    """Every dataset's graph at the current revision: mapped from the disk cache when this state was built
    before (by any process), else read from the database, built, cached and mapped. Of several processes
    missing the same state at once, one builds it and the others wait for it and map it
    (:func:`.cache.build_lock`)."""
    settings = settings or WalkingSettings()
    with db.cursor(dict_rows=False) as cur:
        revision, key = store.network_key(cur)
    if not settings.cache:
        snapshot_revision, graphs = _build(db, settings)
        _log_graphs(graphs, "built")
        return WalkNetwork(snapshot_revision, graphs, None, built=True)
    folder = cache.folder_for(cache_root(settings), key, settings.steps_factor)
    cached = cache.load(folder)
    if cached is not None:
        cache.tidy(folder)  # older states a builder left because a process was mapping them then
        _log_graphs(cached, f"mapped from {folder}")
        return WalkNetwork(revision, cached, folder)
    with cache.build_lock(folder) as held:
        cached = cache.load(folder) if held else None  # built by the process that held the lock before us
        if cached is not None:
            _log_graphs(cached, f"mapped from {folder}")
            return WalkNetwork(revision, cached, folder)
        snapshot_revision, graphs = _build(db, settings)
        if held and snapshot_revision == revision and cache.save(folder, graphs):
            mapped = cache.load(folder)
            if mapped is not None:  # the mapped copy is shared with other processes; the built one goes
                _log_graphs(mapped, f"built and cached in {folder}")
                return WalkNetwork(revision, mapped, folder, built=True)
    _log_graphs(graphs, "built")
    return WalkNetwork(snapshot_revision, graphs, None, built=True)


def _build(db: Database, settings: WalkingSettings) -> tuple[int, list[WalkGraph]]:
    with db.cursor(dict_rows=False) as cur:
        snapshot_revision, datasets = store.network_snapshot(cur)
    graphs = []
    datasets.reverse()
    while datasets:  # one at a time, each dataset's arrays freed once its graph is built
        graphs.append(graph_from_snapshot(datasets.pop(), settings.steps_factor))
    return snapshot_revision, graphs


_NETWORKS: RevisionCache[WalkNetwork] = RevisionCache()


def current_network(db: Database, settings: WalkingSettings | None = None) -> WalkNetwork:
    """The network for ``db`` at the current ``network`` revision (reloaded when a re-import moved it)."""
    revision = revisions.watch_of(db).revision("network")  # in memory: no round trip per call
    return _NETWORKS.get(db, revision, lambda: _loaded(db, settings), key_of=lambda net: net.revision)


def _loaded(db: Database, settings: WalkingSettings | None) -> WalkNetwork:
    """:func:`load_network`, with each graph's pool of search workspaces sized from ``settings``."""
    settings = settings or WalkingSettings()
    network = load_network(db, settings)
    for graph in network.graphs:
        workspace_pool(graph, settings.search_workspaces)
    return network
