"""Reach: for every facility category, the walking cost from each network node to the nearest facility.

One multi-source search per (graph, category, cost kind) from all the category's facilities at once, each
facility snapped onto its nearest edge and entering the search from both ends with its partial cost, gives
every node its exact cost to the nearest one, the true metres of that path and which facility it is.
A point (a home, a query) on edge (u, v) at fraction f then costs ``min(d[u] + f·c, d[v] + (1 − f)·c)`` —
or less straight along the edge when a facility sits on the same edge. Searches stop at
``GEO_SERVICE_LIFE_CIRCLE_REACH_MAX_M``; farther is "none".

Cost kinds: ``distance`` (metres) for distance thresholds, ``time`` (effective metres: steps slower; ÷ the
profile's speed = seconds) for time thresholds.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from geo_service.walking import Located, WalkGraph, WalkNetwork, arrive, node_reach


@dataclass(frozen=True)
class Facilities:
    """The live facilities (index order = position in these arrays)."""

    id: np.ndarray
    name: list[str | None]
    category: np.ndarray
    lon: np.ndarray
    lat: np.ndarray

    @classmethod
    def from_rows(cls, rows: list[tuple[int, str | None, str, float, float]]) -> Facilities:
        return cls(
            id=np.array([r[0] for r in rows], np.int64),
            name=[r[1] for r in rows],
            category=np.array([r[2] for r in rows], dtype=object),
            lon=np.array([r[3] for r in rows], float),
            lat=np.array([r[4] for r in rows], float),
        )


@dataclass(frozen=True)
class CategoryReach:
    """Per node of one graph: cost to the nearest facility of a category (+inf: none within reach), the
    metres of that path and the facility (index into :class:`Facilities`, -1 none). The facilities' own
    snapped positions are kept for points on the same edge."""

    dist: np.ndarray
    metres: np.ndarray
    facility: np.ndarray
    src_edge: np.ndarray
    src_frac: np.ndarray
    src_facility: np.ndarray


@dataclass(frozen=True)
class PointReach:
    """For each point: cost (+inf none), true metres and facility index (-1 none)."""

    cost: np.ndarray
    metres: np.ndarray
    facility: np.ndarray


def category_reach(
    graph: WalkGraph,
    kind: str,
    src_edge: np.ndarray,
    src_frac: np.ndarray,
    src_facility: np.ndarray,
    limit: float,
) -> CategoryReach:
    """One multi-source search from facilities on ``graph`` (their edges, fractions and facility indices)."""
    found = node_reach(graph, kind, src_edge, src_frac, src_facility, limit)
    return CategoryReach(found.dist, found.metres, found.label, src_edge, src_frac, src_facility)


def reach_points(
    graph: WalkGraph, kind: str, reach: CategoryReach, edge: np.ndarray, frac: np.ndarray
) -> PointReach:
    """The reach of points at ``frac`` along ``edge`` of ``graph`` (edge -1: not on it)."""
    got = arrive(
        graph,
        graph.costs(kind),
        reach.dist,
        reach.metres,
        reach.facility,
        reach.src_edge,
        reach.src_frac,
        reach.src_facility,
        edge,
        frac,
    )
    return PointReach(got.cost, got.metres, got.source)


@dataclass
class ReachIndex:
    """Facilities snapped onto one network and their per-category reach, computed on first use."""

    key: tuple[int, ...]
    network: WalkNetwork
    facilities: Facilities
    located: Located
    limit_m: float
    _cache: dict[tuple[int, str, str], CategoryReach] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(
        cls,
        key: tuple[int, ...],
        network: WalkNetwork,
        facilities: Facilities,
        max_snap_m: float,
        limit_m: float,
    ) -> ReachIndex:
        located = network.snap(facilities.lon, facilities.lat, max_snap_m)
        return cls(key, network, facilities, located, limit_m)

    def __getstate__(self) -> dict[str, object]:
        """Picklable (a batch job's workers share built windows through files): the lock is left out."""
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def category(self, graph_index: int, category: str, kind: str) -> CategoryReach:
        cache_key = (graph_index, category, kind)
        found = self._cache.get(cache_key)
        if found is not None:
            return found
        with self._lock:
            found = self._cache.get(cache_key)
            if found is None:
                members = np.flatnonzero(
                    (self.facilities.category == category) & (self.located.graph_index == graph_index)
                )
                found = category_reach(
                    self.network.graphs[graph_index],
                    kind,
                    self.located.edge[members],
                    self.located.frac[members],
                    members,
                    self.limit_m,
                )
                self._cache[cache_key] = found
        return found

    def points(self, located: Located, category: str, kind: str) -> PointReach:
        """Reach of snapped points (any graph; unsnapped points: none)."""
        n = located.edge.shape[0]
        out = PointReach(np.full(n, np.inf), np.full(n, np.inf), np.full(n, -1, np.int64))
        for gi, graph in enumerate(self.network.graphs):
            idx = np.flatnonzero(located.graph_index == gi)
            if not idx.size:
                continue
            got = reach_points(
                graph, kind, self.category(gi, category, kind), located.edge[idx], located.frac[idx]
            )
            out.cost[idx], out.metres[idx], out.facility[idx] = got.cost, got.metres, got.facility
        return out
