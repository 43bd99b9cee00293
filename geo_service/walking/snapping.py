"""Edge geometry kernels on the graph's flat arrays (numba): line lengths, the snapping grid, nearest edge.

An edge's vertices are ``node(u)``, its interior vertices ``vert_*[vert_offset[e]:vert_offset[e + 1]]``,
then ``node(v)`` (see :mod:`.graph`). The snapping grid registers every edge in each square cell (side
``cell`` metres) that holds one of the points sampled along it at most ``cell`` apart; the cells are a
sorted array of keys ``row × columns + column`` with the start of each cell's edges in ``members``.

Why it finds the true nearest edge: the point on an edge nearest to a query lies within ``cell / 2`` of one
of that edge's samples, and every sample outside the rings of cells already scanned around the query's cell
lies more than ``r × cell`` away; so once the best distance found is ≤ ``(r − ½) × cell`` no unscanned edge
can be nearer.
"""

from __future__ import annotations

import math

import numpy as np

from geo_service.jit import kernel

_BRUTE_FORCE_RINGS = 64


@kernel
def _vertex(
    e: int,
    j: int,
    n_inner: int,
    lo: int,
    u: int,
    v: int,
    node_x: np.ndarray,
    node_y: np.ndarray,
    vert_x: np.ndarray,
    vert_y: np.ndarray,
) -> tuple[float, float]:
    if j == 0:
        return node_x[u], node_y[u]
    if j == n_inner + 1:
        return node_x[v], node_y[v]
    return vert_x[lo + j - 1], vert_y[lo + j - 1]


@kernel
def line_lengths(
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    node_x: np.ndarray,
    node_y: np.ndarray,
    vert_offset: np.ndarray,
    vert_x: np.ndarray,
    vert_y: np.ndarray,
) -> np.ndarray:
    """Metric length of every edge's polyline."""
    m = edge_u.shape[0]
    out = np.zeros(m)
    for e in range(m):
        lo = vert_offset[e]
        n_inner = vert_offset[e + 1] - lo
        px, py = node_x[edge_u[e]], node_y[edge_u[e]]
        total = 0.0
        for j in range(1, n_inner + 2):
            qx, qy = _vertex(e, j, n_inner, lo, edge_u[e], edge_v[e], node_x, node_y, vert_x, vert_y)
            total += math.hypot(qx - px, qy - py)
            px, py = qx, qy
        out[e] = total
    return out


@kernel
def _cells_of_edges(
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    node_x: np.ndarray,
    node_y: np.ndarray,
    vert_offset: np.ndarray,
    vert_x: np.ndarray,
    vert_y: np.ndarray,
    x0: float,
    y0: float,
    cell: float,
    ncols: int,
    fill: bool,
    keys: np.ndarray,
    edges: np.ndarray,
) -> int:
    """Count (``fill`` False) or write the (cell key, edge) pairs of every edge's samples."""
    count = 0
    for e in range(edge_u.shape[0]):
        lo = vert_offset[e]
        n_inner = vert_offset[e + 1] - lo
        last = np.int64(-1)
        px, py = node_x[edge_u[e]], node_y[edge_u[e]]
        for j in range(n_inner + 2):
            qx, qy = _vertex(e, j, n_inner, lo, edge_u[e], edge_v[e], node_x, node_y, vert_x, vert_y)
            if j == 0:
                key = np.int64(math.floor((qy - y0) / cell)) * ncols + np.int64(math.floor((qx - x0) / cell))
                if fill:
                    keys[count] = key
                    edges[count] = e
                count += 1
                last = key
            else:
                steps = max(1, math.ceil(math.hypot(qx - px, qy - py) / cell))
                for s in range(1, steps + 1):
                    t = s / steps
                    sx = px + (qx - px) * t
                    sy = py + (qy - py) * t
                    key = np.int64(math.floor((sy - y0) / cell)) * ncols + np.int64(
                        math.floor((sx - x0) / cell)
                    )
                    if key != last:
                        if fill:
                            keys[count] = key
                            edges[count] = e
                        count += 1
                        last = key
            px, py = qx, qy
    return count


def build_grid(
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    node_x: np.ndarray,
    node_y: np.ndarray,
    vert_offset: np.ndarray,
    vert_x: np.ndarray,
    vert_y: np.ndarray,
    x0: float,
    y0: float,
    cell: float,
    ncols: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The snapping grid: sorted distinct cell keys, the start of each cell's edges (one more entry than
    keys) and the edges, cell by cell."""
    empty64 = np.empty(0, np.int64)
    n = _cells_of_edges(
        edge_u,
        edge_v,
        node_x,
        node_y,
        vert_offset,
        vert_x,
        vert_y,
        x0,
        y0,
        cell,
        ncols,
        False,
        empty64,
        empty64,
    )
    keys = np.empty(n, np.int64)
    edges = np.empty(n, np.int64)
    _cells_of_edges(
        edge_u, edge_v, node_x, node_y, vert_offset, vert_x, vert_y, x0, y0, cell, ncols, True, keys, edges
    )
    order = np.lexsort((edges, keys))
    keys, edges = keys[order], edges[order]
    del order
    first = np.ones(n, bool)
    first[1:] = keys[1:] != keys[:-1]
    starts = np.flatnonzero(first)
    dtype = np.int32 if n < 2**31 - 1 else np.int64
    start = np.append(starts, n).astype(dtype)
    return keys[first], start, edges


@kernel
def _edge_distance(
    e: int,
    x: float,
    y: float,
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    node_x: np.ndarray,
    node_y: np.ndarray,
    vert_offset: np.ndarray,
    vert_x: np.ndarray,
    vert_y: np.ndarray,
) -> tuple[float, float, float, float]:
    """Distance from (x, y) to edge ``e``, metres along the edge to the nearest point, and that point."""
    lo = vert_offset[e]
    n_inner = vert_offset[e + 1] - lo
    u, v = edge_u[e], edge_v[e]
    ax, ay = node_x[u], node_y[u]
    best, best_along, bx, by = np.inf, 0.0, ax, ay
    cum = 0.0
    for j in range(1, n_inner + 2):
        qx, qy = _vertex(e, j, n_inner, lo, u, v, node_x, node_y, vert_x, vert_y)
        dx, dy = qx - ax, qy - ay
        seg2 = dx * dx + dy * dy
        t = ((x - ax) * dx + (y - ay) * dy) / seg2 if seg2 > 0 else 0.0
        t = min(max(t, 0.0), 1.0)
        cx, cy = ax + t * dx, ay + t * dy
        d = math.hypot(x - cx, y - cy)
        seg = math.sqrt(seg2)
        if d < best:
            best, best_along, bx, by = d, cum + t * seg, cx, cy
        cum += seg
        ax, ay = qx, qy
    return best, best_along, bx, by


@kernel
def snap_points(
    xs: np.ndarray,
    ys: np.ndarray,
    max_d: float,
    keys: np.ndarray,
    start: np.ndarray,
    members: np.ndarray,
    x0: float,
    y0: float,
    cell: float,
    ncols: int,
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    node_x: np.ndarray,
    node_y: np.ndarray,
    vert_offset: np.ndarray,
    vert_x: np.ndarray,
    vert_y: np.ndarray,
    underground: np.ndarray,
    out_edge: np.ndarray,
    out_dist: np.ndarray,
    out_along: np.ndarray,
    out_x: np.ndarray,
    out_y: np.ndarray,
) -> None:
    """Each point's nearest surface edge within ``max_d``, else its nearest edge of any kind (ties: the
    lower edge index); results into ``out_*`` (edge −1 where none is within reach)."""
    m = edge_u.shape[0]
    brute = max_d / cell > _BRUTE_FORCE_RINGS
    max_ring = math.ceil(max_d / cell) + 2
    for i in range(xs.shape[0]):
        x, y = xs[i], ys[i]
        cx = np.int64(math.floor((x - x0) / cell))
        cy = np.int64(math.floor((y - y0) / cell))
        for surface_only in (True, False):
            best, best_e, best_along, bx, by = np.inf, -1, 0.0, x, y
            if brute:
                for e in range(m):
                    if surface_only and underground[e]:
                        continue
                    d, al, px, py = _edge_distance(
                        e, x, y, edge_u, edge_v, node_x, node_y, vert_offset, vert_x, vert_y
                    )
                    if d < best:
                        best, best_e, best_along, bx, by = d, e, al, px, py
            else:
                for r in range(max_ring + 1):
                    for b in range(cy - r, cy + r + 1):
                        full_row = b == cy - r or b == cy + r
                        step = 1 if full_row else 2 * r
                        a = cx - r
                        while a <= cx + r:
                            if 0 <= a < ncols:
                                key = b * ncols + a
                                k = np.searchsorted(keys, key)
                                if k < keys.shape[0] and keys[k] == key:
                                    for p in range(start[k], start[k + 1]):
                                        e = members[p]
                                        if surface_only and underground[e]:
                                            continue
                                        d, al, px, py = _edge_distance(
                                            e,
                                            x,
                                            y,
                                            edge_u,
                                            edge_v,
                                            node_x,
                                            node_y,
                                            vert_offset,
                                            vert_x,
                                            vert_y,
                                        )
                                        if d < best or (d == best and e < best_e):
                                            best, best_e, best_along, bx, by = d, e, al, px, py
                            a += step
                    if best <= (r - 0.5) * cell or (r - 0.5) * cell > max_d:
                        break
            if best_e >= 0 and best <= max_d:
                out_edge[i] = best_e
                out_dist[i] = best
                out_along[i] = best_along
                out_x[i] = bx
                out_y[i] = by
                break
