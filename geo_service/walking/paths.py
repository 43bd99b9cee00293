"""Reading a finished search: the cost to points on edges, and the path to one of them.

A point on edge (u, v) at fraction ``f`` is reached through u (``dist[u] + f·cost``), through v
(``dist[v] + (1 − f)·cost``) or, when a source lies on the same edge, straight along it
(``|f − f_source|·cost``); the cheapest of the three wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geo_service.walking.graph import WalkGraph
from geo_service.walking.network import Search
from geo_service.walking.search import NO_EDGE

VIA_U, VIA_V, DIRECT = 0, 1, 2


@dataclass(frozen=True)
class Arrival:
    """Per target point: search ``cost`` (+inf unreached), how it is reached (``via``: VIA_U, VIA_V or
    DIRECT), the ``source`` label it comes from and the true ``metres`` walked."""

    cost: np.ndarray
    via: np.ndarray
    source: np.ndarray
    metres: np.ndarray


def arrive(
    graph: WalkGraph,
    edge_cost: np.ndarray,
    dist: np.ndarray,
    along_m: np.ndarray,
    label: np.ndarray,
    src_edge: np.ndarray,
    src_frac: np.ndarray,
    src_label: np.ndarray,
    edge: np.ndarray,
    frac: np.ndarray,
) -> Arrival:
    """How cheaply a search (per-node ``dist``, ``along_m``, ``label``, from sources at ``src_frac`` along
    ``src_edge``) reaches points at ``frac`` along ``edge`` (arrays; edge -1 = not on the network)."""
    edge = np.asarray(edge, np.int64)
    frac = np.asarray(frac, float)
    on = edge >= 0
    e = np.where(on, edge, 0)
    cost_e = edge_cost[e]
    len_e = graph.edge_len_m[e]
    u, v = graph.edge_u[e], graph.edge_v[e]
    via_u = dist[u] + frac * cost_e
    via_v = dist[v] + (1 - frac) * cost_e
    use_v = via_v < via_u
    cost = np.where(on, np.where(use_v, via_v, via_u), np.inf)
    via = np.where(use_v, VIA_V, VIA_U).astype(np.int64)
    finite = np.isfinite(cost)
    metres = np.where(
        finite, np.where(use_v, along_m[v] + (1 - frac) * len_e, along_m[u] + frac * len_e), np.inf
    )
    source = np.where(finite, np.where(use_v, label[v], label[u]), -1).astype(np.int64)
    for i in np.flatnonzero(on & np.isin(edge, src_edge)):
        for s in np.flatnonzero(src_edge == edge[i]):
            step = abs(frac[i] - src_frac[s])
            direct = step * cost_e[i]
            if direct < cost[i]:
                cost[i], via[i], source[i], metres[i] = direct, DIRECT, src_label[s], step * len_e[i]
    return Arrival(cost, via, source, metres)


def best_arrival(found: Search, edge: np.ndarray, frac: np.ndarray) -> Arrival:
    """:func:`arrive` for a finished :func:`~geo_service.walking.network.run_search`."""
    src = found.sources
    return arrive(
        found.graph,
        found.edge_cost,
        found.dist,
        found.space.along_m,
        found.space.label,
        src.edge,
        src.frac,
        src.label,
        edge,
        frac,
    )


def reachable_pieces(found: Search, e: int, limit: float) -> list[tuple[float, float, float, float]]:
    """The parts of edge ``e`` reachable within ``limit``: ``(frac_from, frac_to, cost_from, cost_to)`` each,
    walking away from where the search arrives (both ends, or from an origin on the edge)."""
    g = found.graph
    cost = found.edge_cost[e]
    du, dv = found.dist[g.edge_u[e]], found.dist[g.edge_v[e]]
    if cost <= 0:
        return [(0.0, 1.0, min(du, dv), min(du, dv))] if min(du, dv) <= limit else []
    starts = [(0.0, du, 1.0), (1.0, dv, -1.0)]  # (fraction, cost there, direction into the edge)
    starts += [(float(f), 0.0, d) for f in found.sources.frac[found.sources.edge == e] for d in (1.0, -1.0)]
    reach = []
    for f, c, direction in starts:
        if not c <= limit:
            continue
        end = float(np.clip(f + direction * (limit - c) / cost, 0.0, 1.0))
        reach.append((min(f, end), max(f, end)))
    if not reach:
        return []
    reach.sort()
    merged = [list(reach[0])]
    for lo, hi in reach[1:]:
        if lo <= merged[-1][1] + 1e-12:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])

    def cost_at(f: float) -> float:
        best = min(du + f * cost, dv + (1 - f) * cost)
        for s in found.sources.frac[found.sources.edge == e]:
            best = min(best, abs(f - float(s)) * cost)
        return float(best)

    return [(lo, hi, cost_at(lo), cost_at(hi)) for lo, hi in merged if hi > lo]


def edge_slice(g: WalkGraph, e: int, frac_from: float, frac_to: float) -> np.ndarray:
    """Metric coordinates along edge ``e`` from ``frac_from`` to ``frac_to`` (either direction)."""
    pts = g.edge_points(e)
    along = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(pts[:, 0]), np.diff(pts[:, 1])))])
    length = g.edge_line_len[e]
    a, b = sorted((frac_from * length, frac_to * length))
    x = np.interp([a, b], along, pts[:, 0]) if length > 0 else np.array([pts[0, 0]] * 2)
    y = np.interp([a, b], along, pts[:, 1]) if length > 0 else np.array([pts[0, 1]] * 2)
    inner = (along > a) & (along < b)
    out = np.vstack([[x[0], y[0]], pts[inner], [x[1], y[1]]])
    return out if frac_from <= frac_to else out[::-1]


def path_to(found: Search, edge: int, frac: float, arrival: Arrival, i: int) -> tuple[np.ndarray, float]:
    """Metric coordinates of the path to target ``i`` of ``arrival`` (at ``frac`` along ``edge``) and the
    metres walked."""
    g = found.graph
    src = found.sources
    via = int(arrival.via[i])
    source_index = int(np.flatnonzero(src.label == arrival.source[i])[0])
    if via == DIRECT:
        return edge_slice(g, edge, float(src.frac[source_index]), frac), float(arrival.metres[i])
    node = int(g.edge_u[edge] if via == VIA_U else g.edge_v[edge])
    pieces = [edge_slice(g, edge, 0.0 if via == VIA_U else 1.0, frac)]
    pred = found.space.pred_edge
    while pred[node] != NO_EDGE:
        e = int(pred[node])
        came_from_u = g.edge_v[e] == node
        pts = g.edge_points(e)
        pieces.append(pts if came_from_u else pts[::-1])
        node = int(g.edge_u[e] if came_from_u else g.edge_v[e])
    # ``node`` is now an end of the source's edge: the first piece runs from the source point to it
    s_edge = int(src.edge[source_index])
    end_frac = 0.0 if node == g.edge_u[s_edge] else 1.0
    pieces.append(edge_slice(g, s_edge, float(src.frac[source_index]), end_frac))
    coords = np.vstack(pieces[::-1])
    keep = np.ones(coords.shape[0], bool)
    keep[1:] = np.any(np.diff(coords, axis=0) != 0, axis=1)
    coords = coords[keep]
    if coords.shape[0] == 1:
        coords = np.vstack([coords, coords])
    return coords, float(arrival.metres[i])
