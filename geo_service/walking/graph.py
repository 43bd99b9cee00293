"""The pedestrian graph in memory: CSR arrays over one dataset's walking network, in its metric CRS.

Undirected for walking: every edge is two arcs. Costs are *effective metres*, ``length_m × factor``, the
factor being ``steps_factor`` on steps and 1 elsewhere; seconds are cost ÷ speed (m/s), so one graph serves
every walking speed. Geometry is kept in the dataset's metric CRS (UTM or CGCS2000 Gauss–Krüger, see
:mod:`geo_service.crs`), each edge's vertices oriented from ``u`` to ``v``, for snapping, partial edges and
isochrone shapes. Disconnected pieces are kept; :attr:`WalkGraph.components` reports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from geo_service.crs import metric_epsg


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


@dataclass(eq=False)
class WalkGraph:
    """One dataset's walking network (see the module docstring for units and CRS).

    Node arrays are indexed 0..n-1, edge arrays 0..m-1; ``indptr``/``adj_*`` are the CSR arcs (both
    directions of every edge) with ``adj_edge`` pointing back to the edge.
    """

    name: str
    srid: int
    node_id: np.ndarray
    node_lon: np.ndarray
    node_lat: np.ndarray
    node_x: np.ndarray
    node_y: np.ndarray
    edge_id: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_len_m: np.ndarray
    edge_cost: np.ndarray
    edge_steps: np.ndarray
    edge_name: list[str | None]
    vert_offset: np.ndarray
    vert_x: np.ndarray
    vert_y: np.ndarray
    vert_along: np.ndarray
    edge_line_len: np.ndarray
    indptr: np.ndarray
    adj_node: np.ndarray
    adj_cost: np.ndarray
    adj_len: np.ndarray
    adj_edge: np.ndarray
    lines: np.ndarray
    tree: shapely.STRtree
    edge_underground: np.ndarray
    surface_edges: np.ndarray
    surface_tree: shapely.STRtree
    component: np.ndarray
    components: dict[str, Any]
    bbox: tuple[float, float, float, float]
    to_metric: Transformer = field(repr=False)
    to_lonlat: Transformer = field(repr=False)

    @property
    def n_nodes(self) -> int:
        return int(self.node_id.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edge_u.shape[0])

    def costs(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-edge and per-arc costs of a search ``kind``: ``time`` (effective metres, steps slower) or
        ``distance`` (metres)."""
        if kind == "time":
            return self.edge_cost, self.adj_cost
        if kind == "distance":
            return self.edge_len_m, self.adj_len
        raise ValueError(f"unknown search kind {kind!r}")

    def source_arrays(self, kind: str, edge: np.ndarray, frac: np.ndarray, label: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        """Search sources for points at ``frac`` along ``edge``: both ends of each edge with the partial cost
        and metres to reach them, and each point's ``label`` — nodes, costs, metres, labels."""
        edge_cost = self.costs(kind)[0]
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
        """Each metric point onto the nearest point of the nearest edge within ``max_distance_m``."""
        x = np.atleast_1d(np.asarray(x, float))
        y = np.atleast_1d(np.asarray(y, float))
        n = x.shape[0]
        edge = np.full(n, -1, np.int64)
        frac = np.zeros(n)
        distance = np.full(n, np.inf)
        sx, sy = x.copy(), y.copy()
        if n == 0 or self.n_edges == 0:
            return Snap(edge, frac, distance, sx, sy)
        points: np.ndarray = shapely.points(x, y)  # type: ignore[assignment]  # an array (shapely stubs)
        # surface edges first: a point on a street snaps to it, not to a tunnel or passage below it
        (which, hit), dist = self.surface_tree.query_nearest(
            points, max_distance=max_distance_m, return_distance=True, all_matches=False
        )
        edge[which] = self.surface_edges[hit]
        distance[which] = dist
        rest = np.flatnonzero(edge < 0)
        if rest.size:
            (w2, h2), d2 = self.tree.query_nearest(
                points[rest], max_distance=max_distance_m, return_distance=True, all_matches=False
            )
            edge[rest[w2]] = h2
            distance[rest[w2]] = d2
        which = np.flatnonzero(edge >= 0)
        hit = edge[which]
        lines = self.lines[hit]
        along = shapely.line_locate_point(lines, points[which])
        length = self.edge_line_len[hit]
        frac[which] = np.where(length > 0, np.clip(along / np.where(length > 0, length, 1), 0, 1), 0)
        on_line = shapely.line_interpolate_point(lines, along)
        sx[which] = shapely.get_x(on_line)
        sy[which] = shapely.get_y(on_line)
        return Snap(edge, frac, distance, sx, sy)

    def edge_points(self, e: int) -> np.ndarray:
        """The metric vertices of edge ``e`` from u to v, shape (k, 2)."""
        lo, hi = self.vert_offset[e], self.vert_offset[e + 1]
        return np.column_stack([self.vert_x[lo:hi], self.vert_y[lo:hi]])


def _orient_from_u(vx: np.ndarray, vy: np.ndarray, offsets: np.ndarray, ux: np.ndarray, uy: np.ndarray,
                   wx: np.ndarray, wy: np.ndarray) -> np.ndarray:  # fmt: skip
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


def build_graph(name: str, srid: int | None, node_id: np.ndarray, node_lon: np.ndarray, node_lat: np.ndarray,
                edge_id: np.ndarray, u: np.ndarray, v: np.ndarray, length_m: np.ndarray, steps: np.ndarray,
                lines_lonlat: np.ndarray, edge_name: list[str | None] | None = None,
                steps_factor: float = 2.0, underground: np.ndarray | None = None) -> WalkGraph:  # fmt: skip
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
    ui = np.searchsorted(node_id, u)
    vi = np.searchsorted(node_id, v)
    n = node_id.shape[0]
    known = (ui < n) & (vi < n)
    known[known] &= (node_id[ui[known]] == u[known]) & (node_id[vi[known]] == v[known])
    keep = known & (ui != vi)
    ui, vi = ui[keep].astype(np.int64), vi[keep].astype(np.int64)
    edge_id = np.asarray(edge_id, np.int64)[keep]
    length_m = np.asarray(length_m, float)[keep]
    steps = np.asarray(steps, bool)[keep]
    below = (np.zeros(len(keep), bool) if underground is None else np.asarray(underground, bool))[keep]
    lines_lonlat = np.asarray(lines_lonlat, dtype=object)[keep]
    names: list[str | None] = (
        [edge_name[i] for i in np.flatnonzero(keep)] if edge_name is not None else [None] * len(edge_id)
    )

    if srid is None:
        srid = metric_epsg(float(np.median(node_lon)), float(np.median(node_lat))) if n else 3857
    to_metric = Transformer.from_crs(4326, srid, always_xy=True)
    to_lonlat = Transformer.from_crs(srid, 4326, always_xy=True)
    nx, ny = to_metric.transform(node_lon, node_lat)
    nx, ny = np.asarray(nx, float), np.asarray(ny, float)

    coords, which = shapely.get_coordinates(lines_lonlat, return_index=True)
    counts = np.bincount(which, minlength=len(lines_lonlat)).astype(np.int64)
    offsets = np.zeros(len(lines_lonlat) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    vx, vy = to_metric.transform(coords[:, 0], coords[:, 1]) if len(coords) else (np.empty(0), np.empty(0))
    vx, vy = np.asarray(vx, float), np.asarray(vy, float)
    if len(vx):
        order_v = _orient_from_u(vx, vy, offsets, nx[ui], ny[ui], nx[vi], ny[vi])
        vx, vy = vx[order_v], vy[order_v]
    seg = np.hypot(np.diff(vx), np.diff(vy)) if len(vx) > 1 else np.zeros(0)
    cum = np.concatenate([[0.0], np.cumsum(seg)]) if len(vx) else np.zeros(0)
    starts = offsets[:-1]
    edge_of_vertex = np.repeat(np.arange(len(counts)), counts)
    along = cum - cum[starts][edge_of_vertex] if len(vx) else np.zeros(0)
    line_len = along[offsets[1:] - 1] if len(vx) else np.zeros(0)
    parts = np.split(np.column_stack([vx, vy]), offsets[1:-1]) if len(vx) else []
    lines = np.array(shapely.linestrings(parts) if parts else [], dtype=object)

    cost = length_m * np.where(steps, steps_factor, 1.0)
    src = np.concatenate([ui, vi])
    dst = np.concatenate([vi, ui])
    arc_edge = np.concatenate([np.arange(len(ui)), np.arange(len(ui))]).astype(np.int64)
    arc_order = np.argsort(src, kind="stable")
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])

    if len(ui):
        graph = coo_matrix((np.ones(len(ui)), (ui, vi)), shape=(n, n))
        count, component = connected_components(graph, directed=False)
        sizes = np.sort(np.bincount(component))[::-1]
        components = {"count": int(count), "largest_share": float(sizes[0] / n), "sizes": sizes[:10].tolist()}
    else:
        component = np.zeros(n, np.int64)
        components = {"count": 0, "largest_share": 0.0, "sizes": []}

    bbox = (
        (float(node_lon.min()), float(node_lat.min()), float(node_lon.max()), float(node_lat.max()))
        if n
        else (0.0, 0.0, 0.0, 0.0)
    )
    return WalkGraph(
        name=name, srid=int(srid), node_id=node_id, node_lon=node_lon, node_lat=node_lat, node_x=nx,
        node_y=ny, edge_id=edge_id, edge_u=ui, edge_v=vi, edge_len_m=length_m, edge_cost=cost,
        edge_steps=steps, edge_name=names, vert_offset=offsets, vert_x=vx, vert_y=vy, vert_along=along,
        edge_line_len=line_len, indptr=indptr, adj_node=dst[arc_order].astype(np.int64),
        adj_cost=cost[arc_edge[arc_order]], adj_len=length_m[arc_edge[arc_order]],
        adj_edge=arc_edge[arc_order], lines=lines, tree=shapely.STRtree(lines), edge_underground=below,
        surface_edges=np.flatnonzero(~below), surface_tree=shapely.STRtree(lines[~below] if len(lines) else lines),
        component=component,
        components=components, bbox=bbox, to_metric=to_metric, to_lonlat=to_lonlat,
    )  # fmt: skip


def graph_from_snapshot(dataset: dict[str, Any], steps_factor: float) -> WalkGraph:
    """A graph from one dataset of :func:`geo_service.store.network.network_snapshot`."""
    return build_graph(
        dataset["name"], dataset["srid"], dataset["node_id"], dataset["node_lon"], dataset["node_lat"],
        dataset["edge_id"], dataset["u"], dataset["v"], dataset["length_m"], dataset["steps"],
        shapely.from_wkb(dataset["wkb"]), dataset.get("edge_name"),
        steps_factor=steps_factor, underground=dataset.get("underground"),
    )  # fmt: skip
