"""The pedestrian graph in memory: flat arrays over one dataset's walking network, in its metric CRS.

Undirected for walking: every edge is two arcs. Costs are *effective metres*, ``length_m × factor``, the
factor being ``steps_factor`` on steps and 1 elsewhere; seconds are cost ÷ speed (m/s), so one graph serves
every walking speed. Geometry is kept in the dataset's metric CRS (UTM or CGCS2000 Gauss–Krüger, see
:mod:`geo_service.crs`), each edge oriented from ``u`` to ``v``, for snapping, partial edges and isochrone
shapes. Disconnected pieces are kept; :attr:`WalkGraph.components` reports them.

Memory: the graph is nothing but numpy arrays (no Python or GEOS object per edge), so it can be written to
disk once per network revision and memory-mapped by every process that routes (:mod:`.cache`): ~150–200
bytes per node. What keeps it small:

- an edge's vertices are its two end nodes plus the *interior* vertices only (``vert_offset``/``vert_x``/
  ``vert_y``); an end vertex that does not sit on its node is kept as an interior one;
- arcs (``indptr``/``adj_node``/``adj_edge``) point at the edge; costs and lengths are read per edge;
- snapping uses a grid of cells over the edges (``grid_*``, a sorted cell-key array), searched by
  :mod:`.snapping`, not a tree of shapely geometries;
- edge names are indices into one list of distinct names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import numpy as np
import shapely
from pydantic import Field
from pyproj import Transformer
from typing_extensions import TypedDict  # pydantic documents Components (GET /api/network) on Python 3.11

from geo_service.crs import metric_epsg
from geo_service.hilbert import hilbert_index
from geo_service.walking import snapping

if TYPE_CHECKING:  # the store's row shape only: the engine does not read the database
    from geo_service.store.network import NetworkArrays

#: Arrays of a :class:`WalkGraph`, in the order they are written to and mapped from disk.
ARRAYS = (
    "node_id",
    "node_x",
    "node_y",
    "component",
    "indptr",
    "adj_node",
    "adj_edge",
    "edge_id",
    "edge_u",
    "edge_v",
    "edge_len_m",
    "edge_cost",
    "edge_steps",
    "edge_underground",
    "edge_name_index",
    "edge_line_len",
    "vert_offset",
    "vert_x",
    "vert_y",
    "grid_keys",
    "grid_start",
    "grid_edges",
)
GRID_CELL_M = 50.0
_SAME_POINT_M = 1e-6


class Components(TypedDict):
    """The connected pieces of a dataset's network (all kept: a piece may be an island reached by ferry)."""

    count: int
    largest_share: Annotated[float, Field(description="share of the nodes in the largest piece")]
    sizes: Annotated[list[int], Field(description="nodes of the ten largest pieces, largest first")]


class GraphMeta(TypedDict):
    """A graph but its arrays, as the disk cache's manifest keeps it (JSON)."""

    name: str
    srid: int
    names: list[str | None]
    grid: list[float]  # x0, y0, cell size (m), columns
    components: Components
    bbox: list[float]


@dataclass(frozen=True)
class Snap:
    """Points placed on their nearest edge (not node): ``edge`` (-1 = none within reach), ``frac`` of the way
    from the edge's u to v (by length), ``distance_m`` from the point to the edge, and the point on the edge
    (``x``, ``y`` metric)."""

    edge: np.ndarray
    frac: np.ndarray
    distance_m: np.ndarray
    x: np.ndarray
    y: np.ndarray

    @property
    def snapped(self) -> np.ndarray:
        return self.edge >= 0


class EdgeNames:
    """Per-edge street names (``None`` where unnamed) stored as indices into the distinct names."""

    def __init__(self, index: np.ndarray, names: Sequence[str | None]) -> None:
        self.index = index
        self.names = list(names)

    def __getitem__(self, e: int) -> str | None:
        i = int(self.index[e])
        return None if i < 0 else self.names[i]

    def __len__(self) -> int:
        return int(self.index.shape[0])


@dataclass(eq=False)
class WalkGraph:
    """One dataset's walking network (see the module docstring for units, CRS and layout).

    Node arrays are indexed 0..n-1, edge arrays 0..m-1; ``indptr``/``adj_node``/``adj_edge`` are the CSR arcs
    (both directions of every edge), ``adj_edge`` pointing back to the edge. Arrays may be read-only
    memory maps shared with other processes: never write into them.
    """

    name: str
    srid: int
    node_id: np.ndarray
    node_x: np.ndarray
    node_y: np.ndarray
    component: np.ndarray
    indptr: np.ndarray
    adj_node: np.ndarray
    adj_edge: np.ndarray
    edge_id: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_len_m: np.ndarray
    edge_cost: np.ndarray
    edge_steps: np.ndarray
    edge_underground: np.ndarray
    edge_name_index: np.ndarray
    edge_line_len: np.ndarray
    vert_offset: np.ndarray
    vert_x: np.ndarray
    vert_y: np.ndarray
    grid_keys: np.ndarray
    grid_start: np.ndarray
    grid_edges: np.ndarray
    names: list[str | None]
    grid: tuple[float, float, float, int]  # x0, y0, cell metres, columns
    components: Components
    bbox: tuple[float, float, float, float]
    to_metric: Transformer = field(init=False, repr=False)
    to_lonlat: Transformer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.to_metric = Transformer.from_crs(4326, self.srid, always_xy=True)
        self.to_lonlat = Transformer.from_crs(self.srid, 4326, always_xy=True)

    @property
    def n_nodes(self) -> int:
        return int(self.node_id.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edge_u.shape[0])

    @property
    def edge_name(self) -> EdgeNames:
        return EdgeNames(self.edge_name_index, self.names)

    @property
    def node_lon(self) -> np.ndarray:
        """Node longitudes, WGS-84 degrees (computed on each call: not kept in memory)."""
        return self.unproject(self.node_x, self.node_y)[0]

    @property
    def node_lat(self) -> np.ndarray:
        """Node latitudes, WGS-84 degrees (computed on each call)."""
        return self.unproject(self.node_x, self.node_y)[1]

    def nbytes(self) -> int:
        """Bytes of the graph's arrays."""
        return int(sum(getattr(self, a).nbytes for a in ARRAYS))

    def costs(self, kind: str) -> np.ndarray:
        """Per-edge costs of a search ``kind``: ``time`` (effective metres, steps slower) or ``distance``
        (metres)."""
        if kind == "time":
            return self.edge_cost
        if kind == "distance":
            return self.edge_len_m
        raise ValueError(f"unknown search kind {kind!r}")

    def source_arrays(
        self, kind: str, edge: np.ndarray, frac: np.ndarray, label: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Search sources for points at ``frac`` along ``edge``: both ends of each edge with the partial cost
        and metres to reach them, and each point's ``label`` — nodes, costs, metres, labels."""
        edge_cost = self.costs(kind)
        nodes = np.concatenate([self.edge_u[edge], self.edge_v[edge]]).astype(np.int64)
        cost = np.concatenate([frac * edge_cost[edge], (1 - frac) * edge_cost[edge]])
        metres = np.concatenate([frac * self.edge_len_m[edge], (1 - frac) * self.edge_len_m[edge]])
        return nodes, cost, metres, np.concatenate([label, label]).astype(np.int64)

    def project(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """WGS-84 degrees → this graph's metric CRS (metres)."""
        x, y = self.to_metric.transform(np.asarray(lon, float), np.asarray(lat, float))
        return np.asarray(x, float), np.asarray(y, float)

    def unproject(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = self.to_lonlat.transform(np.asarray(x, float), np.asarray(y, float))
        return np.asarray(lon, float), np.asarray(lat, float)

    def snap(self, x: np.ndarray, y: np.ndarray, max_distance_m: float) -> Snap:
        """Each metric point onto the nearest point of the nearest edge within ``max_distance_m``: the
        nearest surface edge when there is one within reach (a point on a street snaps to it, not to a
        tunnel or passage below it), else the nearest edge of any kind."""
        x = np.atleast_1d(np.asarray(x, float))
        y = np.atleast_1d(np.asarray(y, float))
        n = x.shape[0]
        edge = np.full(n, -1, np.int64)
        frac = np.zeros(n)
        distance = np.full(n, np.inf)
        sx, sy = x.copy(), y.copy()
        if n == 0 or self.n_edges == 0:
            return Snap(edge, frac, distance, sx, sy)
        x0, y0, cell, ncols = self.grid
        along = np.zeros(n)
        snapping.snap_points(
            x,
            y,
            float(max_distance_m),
            self.grid_keys,
            self.grid_start,
            self.grid_edges,
            x0,
            y0,
            cell,
            ncols,
            self.edge_u,
            self.edge_v,
            self.node_x,
            self.node_y,
            self.vert_offset,
            self.vert_x,
            self.vert_y,
            self.edge_underground,
            edge,
            distance,
            along,
            sx,
            sy,
        )
        hit = edge >= 0
        length = self.edge_line_len[edge[hit]]
        frac[hit] = np.where(length > 0, np.clip(along[hit] / np.where(length > 0, length, 1), 0, 1), 0)
        return Snap(edge, frac, distance, sx, sy)

    def edge_points(self, e: int) -> np.ndarray:
        """The metric vertices of edge ``e`` from u to v, shape (k, 2)."""
        lo, hi = self.vert_offset[e], self.vert_offset[e + 1]
        u, v = self.edge_u[e], self.edge_v[e]
        xs = np.concatenate([[self.node_x[u]], self.vert_x[lo:hi], [self.node_x[v]]])
        ys = np.concatenate([[self.node_y[u]], self.vert_y[lo:hi], [self.node_y[v]]])
        return np.column_stack([xs, ys])

    def edge_line(self, e: int) -> shapely.LineString:
        """Edge ``e`` as a metric shapely LineString (made on request; the graph keeps no geometry objects)."""
        line: shapely.LineString = shapely.linestrings(self.edge_points(e))  # type: ignore[assignment]  # one line
        return line

    def arrays(self) -> dict[str, np.ndarray]:
        return {a: getattr(self, a) for a in ARRAYS}

    def meta(self) -> GraphMeta:
        """Everything but the arrays (JSON-serialisable), for the disk cache."""
        return {
            "name": self.name,
            "srid": self.srid,
            "names": self.names,
            "grid": list(self.grid),
            "components": self.components,
            "bbox": list(self.bbox),
        }

    @classmethod
    def from_parts(cls, meta: GraphMeta, arrays: dict[str, np.ndarray]) -> WalkGraph:
        grid = meta["grid"]
        min_x, min_y, max_x, max_y = meta["bbox"]
        return cls(
            name=meta["name"],
            srid=int(meta["srid"]),
            names=list(meta["names"]),
            grid=(float(grid[0]), float(grid[1]), float(grid[2]), int(grid[3])),
            components=meta["components"],
            bbox=(min_x, min_y, max_x, max_y),
            **arrays,
        )


def _orient_from_u(
    vx: np.ndarray,
    vy: np.ndarray,
    offsets: np.ndarray,
    ux: np.ndarray,
    uy: np.ndarray,
    wx: np.ndarray,
    wy: np.ndarray,
) -> np.ndarray:
    """Vertex order that runs every edge from its u node to its v node (pieces drawn v→u are reversed)."""
    first = offsets[:-1]
    d_u = np.hypot(vx[first] - ux, vy[first] - uy)
    d_v = np.hypot(vx[first] - wx, vy[first] - wy)
    flip = d_v < d_u
    order = np.arange(vx.shape[0])
    if flip.any():
        counts = np.diff(offsets)
        edge_of = np.repeat(np.arange(counts.shape[0]), counts)
        flipped = flip[edge_of]
        start, end = offsets[:-1][edge_of], offsets[1:][edge_of]
        order = np.where(flipped, start + end - 1 - order, order)
    return order


def _interior_vertices(
    vx: np.ndarray,
    vy: np.ndarray,
    offsets: np.ndarray,
    ux: np.ndarray,
    uy: np.ndarray,
    wx: np.ndarray,
    wy: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop each edge's first and last vertex where it sits on the edge's u / v node (the node arrays hold
    it already); returns the kept vertices and their per-edge offsets."""
    counts = np.diff(offsets)
    keep = np.ones(vx.shape[0], bool)
    has = counts > 0
    first = offsets[:-1][has]
    last = offsets[1:][has] - 1
    keep[first] &= ~(np.hypot(vx[first] - ux[has], vy[first] - uy[has]) <= _SAME_POINT_M)
    keep[last] &= ~(np.hypot(vx[last] - wx[has], vy[last] - wy[has]) <= _SAME_POINT_M)
    edge_of = np.repeat(np.arange(counts.shape[0]), counts)
    new_counts = np.bincount(edge_of[keep], minlength=counts.shape[0]).astype(np.int64)
    new_offsets = np.zeros(counts.shape[0] + 1, np.int64)
    np.cumsum(new_counts, out=new_offsets[1:])
    return vx[keep], vy[keep], new_offsets


def _hilbert_keys(x: np.ndarray, y: np.ndarray, bits: int = 16) -> np.ndarray:
    """Position of each point along a Hilbert curve over the points' bounding box (``2**bits`` cells a side)."""
    if x.shape[0] == 0:
        return np.zeros(0, np.int64)
    side = 1 << bits
    span = max(float(np.ptp(x)), float(np.ptp(y)), 1e-9)
    xi = np.minimum(((x - x.min()) / span * side).astype(np.int64), side - 1)
    yi = np.minimum(((y - y.min()) / span * side).astype(np.int64), side - 1)
    return hilbert_index(xi, yi, bits)


def _renumber(
    ui: np.ndarray,
    vi: np.ndarray,
    nx: np.ndarray,
    ny: np.ndarray,
    node_id: np.ndarray,
    node_lon: np.ndarray,
    node_lat: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Nodes in Hilbert-curve order of their metric position and edges in the order the CSR arcs first meet
    them (by lower, then higher end): a search and the edge sampling then read neighbours from nearby memory
    instead of from all over arrays of megabytes (nodes sorted by OSM id are scattered in space). Only the
    internal indices change: ``node_id``/``edge_id`` keep mapping them to the network's ids.
    Returns the renumbered ends, node arrays and the edges' new order (old edge index per new one)."""
    order = np.argsort(_hilbert_keys(nx, ny), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.shape[0])
    ui = rank[ui].astype(ui.dtype)
    vi = rank[vi].astype(vi.dtype)
    edge_order = np.lexsort((np.maximum(ui, vi), np.minimum(ui, vi)))
    return (
        ui[edge_order],
        vi[edge_order],
        nx[order],
        ny[order],
        node_id[order],
        node_lon[order],
        node_lat[order],
        edge_order,
    )


def _index_dtype(count: int) -> type:
    return np.int32 if count < 2**31 - 1 else np.int64


def build_graph(
    name: str,
    srid: int | None,
    node_id: np.ndarray,
    node_lon: np.ndarray,
    node_lat: np.ndarray,
    edge_id: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    length_m: np.ndarray,
    steps: np.ndarray,
    lines_lonlat: np.ndarray,
    edge_name: list[str | None] | None = None,
    steps_factor: float = 2.0,
    underground: np.ndarray | None = None,
) -> WalkGraph:
    """Build a :class:`WalkGraph` from a walking network.

    Parameters
    ----------
    node_id, node_lon, node_lat
        Nodes (any int64 ids, WGS-84 degrees).
    edge_id, u, v, length_m, steps
        Edges between node ids, length in metres, whether it is a flight of steps.
    lines_lonlat
        shapely LineStrings (WGS-84) of the edges, in either direction.
    srid
        The metric CRS; chosen from the network's centre when None.
    steps_factor
        Effective metres per metre of steps.
    underground
        Whether each edge runs below ground (routes, but points snap to surface edges first).
    """
    order = np.argsort(node_id, kind="stable")
    node_id = np.asarray(node_id, np.int64)[order]
    node_lon = np.asarray(node_lon, float)[order]
    node_lat = np.asarray(node_lat, float)[order]
    u = np.asarray(u, np.int64)
    v = np.asarray(v, np.int64)
    ui = np.searchsorted(node_id, u)
    vi = np.searchsorted(node_id, v)
    n = node_id.shape[0]
    known = (ui < n) & (vi < n)
    known[known] &= (node_id[ui[known]] == u[known]) & (node_id[vi[known]] == v[known])
    keep = known & (ui != vi)
    idx = _index_dtype(max(n, 2 * int(keep.sum())))
    ui, vi = ui[keep].astype(idx), vi[keep].astype(idx)
    edge_id = np.asarray(edge_id, np.int64)[keep]
    length_m = np.asarray(length_m, float)[keep]
    steps = np.asarray(steps, bool)[keep]
    below = (np.zeros(len(keep), bool) if underground is None else np.asarray(underground, bool))[keep]
    lines_lonlat = np.asarray(lines_lonlat, dtype=object)[keep]
    m = int(ui.shape[0])
    if edge_name is not None:
        kept_names = [edge_name[i] for i in np.flatnonzero(keep)]
        distinct = sorted({s for s in kept_names if s is not None})
        position = {s: i for i, s in enumerate(distinct)}
        name_index = np.array([position[s] if s is not None else -1 for s in kept_names], np.int32)
    else:
        distinct, name_index = [], np.full(m, -1, np.int32)

    if srid is None:
        srid = metric_epsg(float(np.median(node_lon)), float(np.median(node_lat))) if n else 3857
    to_metric = Transformer.from_crs(4326, srid, always_xy=True)
    nx, ny = to_metric.transform(node_lon, node_lat)
    nx, ny = np.asarray(nx, float), np.asarray(ny, float)

    ui, vi, nx, ny, node_id, node_lon, node_lat, edge_order = _renumber(
        ui, vi, nx, ny, node_id, node_lon, node_lat
    )
    edge_id, length_m, steps, below, lines_lonlat, name_index = (
        a[edge_order] for a in (edge_id, length_m, steps, below, lines_lonlat, name_index)
    )

    coords, which = shapely.get_coordinates(lines_lonlat, return_index=True)
    counts = np.bincount(which, minlength=m).astype(np.int64)
    offsets = np.zeros(m + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    vx, vy = to_metric.transform(coords[:, 0], coords[:, 1]) if len(coords) else (np.empty(0), np.empty(0))
    vx, vy = np.asarray(vx, float), np.asarray(vy, float)
    del coords, which
    if len(vx):
        order_v = _orient_from_u(vx, vy, offsets, nx[ui], ny[ui], nx[vi], ny[vi])
        vx, vy = vx[order_v], vy[order_v]
        del order_v
    vx, vy, offsets = _interior_vertices(vx, vy, offsets, nx[ui], ny[ui], nx[vi], ny[vi])
    line_len = snapping.line_lengths(ui, vi, nx, ny, offsets, vx, vy)

    cost = length_m * np.where(steps, steps_factor, 1.0)
    src = np.concatenate([ui, vi])
    arc_order = np.argsort(src, kind="stable")
    adj_node: np.ndarray = np.concatenate([vi, ui])[arc_order].astype(idx)
    adj_edge: np.ndarray = (arc_order % max(m, 1)).astype(idx)
    del arc_order
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    del src

    if m:
        from scipy.sparse import coo_matrix  # half a second of imports: paid by the first build, not at start
        from scipy.sparse.csgraph import connected_components

        graph = coo_matrix((np.ones(m, np.int8), (ui, vi)), shape=(n, n))
        count, component = connected_components(graph, directed=False)
        del graph
        sizes = np.sort(np.bincount(component))[::-1]
        components: Components = {
            "count": int(count),
            "largest_share": float(sizes[0] / n),
            "sizes": sizes[:10].tolist(),
        }
    else:
        component = np.zeros(n, np.int32)
        components = {"count": 0, "largest_share": 0.0, "sizes": []}

    bbox = (
        (float(node_lon.min()), float(node_lat.min()), float(node_lon.max()), float(node_lat.max()))
        if n
        else (0.0, 0.0, 0.0, 0.0)
    )
    # the grid spans every vertex (an edge may bend outside its nodes' box), so every cell key is >= 0
    all_x = np.concatenate([nx, vx]) if n else np.zeros(1)
    x0 = math.floor(float(all_x.min()) / GRID_CELL_M) * GRID_CELL_M
    y0 = (
        math.floor(float(min(ny.min(), vy.min() if len(vy) else np.inf)) / GRID_CELL_M) * GRID_CELL_M
        if n
        else 0.0
    )
    ncols = math.ceil((float(all_x.max()) - x0) / GRID_CELL_M) + 2
    del all_x
    keys, start, members = snapping.build_grid(ui, vi, nx, ny, offsets, vx, vy, x0, y0, GRID_CELL_M, ncols)
    return WalkGraph(
        name=name,
        srid=int(srid),
        node_id=node_id,
        node_x=nx,
        node_y=ny,
        component=component.astype(np.int32),
        indptr=indptr,
        adj_node=adj_node,
        adj_edge=adj_edge,
        edge_id=edge_id,
        edge_u=ui,
        edge_v=vi,
        edge_len_m=length_m,
        edge_cost=cost,
        edge_steps=steps,
        edge_underground=below,
        edge_name_index=name_index,
        edge_line_len=line_len,
        vert_offset=offsets,
        vert_x=vx,
        vert_y=vy,
        grid_keys=keys,
        grid_start=start,
        grid_edges=members.astype(idx),
        names=list(distinct),
        grid=(x0, y0, GRID_CELL_M, ncols),
        components=components,
        bbox=bbox,
    )


def graph_from_snapshot(dataset: NetworkArrays, steps_factor: float) -> WalkGraph:
    """A graph from one dataset of :func:`geo_service.store.network.network_snapshot`."""
    return build_graph(
        dataset["name"],
        dataset["srid"],
        dataset["node_id"],
        dataset["node_lon"],
        dataset["node_lat"],
        dataset["edge_id"],
        dataset["u"],
        dataset["v"],
        dataset["length_m"],
        dataset["steps"],
        shapely.from_wkb(dataset["wkb"]),
        dataset["edge_name"],
        steps_factor=steps_factor,
        underground=dataset["underground"],
    )
