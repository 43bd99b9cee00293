"""Compiled code ready before the first request: every numba kernel of the walking engine run once on a
tiny graph made here (no database, no network loaded), both as built in memory and memory-mapped from the
disk cache. numba compiles one machine code per argument type and a read-only map is another type than a
writable array: warming only the in-memory graph left the first search on a cached network (what every
server process maps) to compile for ~15 s.

numba compiles on first call (seconds per kernel) unless its on-disk cache (``cache=True``: ``__pycache__``
next to the sources, or ``NUMBA_CACHE_DIR``) already holds the machine code, which then loads in
milliseconds. :func:`warm_up` runs in the service's background thread after it is ready, and at build time
(``python -m geo_service.warm``, run by ``make setup`` and the Dockerfile) so a fresh or read-only install starts
with a full cache.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import shapely

from geo_service.walking import cache
from geo_service.walking.geojson import geometry_json
from geo_service.walking.graph import WalkGraph, build_graph
from geo_service.walking.network import WalkNetwork, node_reach


def warm_up() -> float:
    """Run every kernel once (isochrone, route, travel matrix, node reach); returns the seconds it took."""
    start = time.perf_counter()
    lon = 24.94 + np.array([0.0, 0.001, 0.002, 0.0, 0.001, 0.002])
    lat = 60.17 + np.array([0.0, 0.0, 0.0, 0.001, 0.001, 0.001])
    ids = np.arange(1, 7, dtype=np.int64)
    u = np.array([1, 2, 4, 5, 1, 2, 3], np.int64)
    v = np.array([2, 3, 5, 6, 4, 5, 6], np.int64)
    ends = np.stack([np.column_stack([lon[u - 1], lat[u - 1]]), np.column_stack([lon[v - 1], lat[v - 1]])], 1)
    lines: np.ndarray = shapely.linestrings(ends)  # type: ignore[assignment]  # an array of lines
    length = np.full(u.shape[0], 60.0)
    graph = build_graph(
        "warm-up", None, ids, lon, lat, np.arange(u.shape[0]), u, v, length, np.zeros(u.shape[0], bool), lines
    )
    _run_kernels(graph, lon, lat)
    with tempfile.TemporaryDirectory(prefix="geo-service-warm-") as tmp:
        folder = Path(tmp) / "warm-up" / "r000000000000-warm-up"
        if cache.save(folder, [graph]):
            mapped = cache.load(folder)
            if mapped is not None:
                _run_kernels(mapped[0], lon, lat)
    return time.perf_counter() - start


def _run_kernels(graph: WalkGraph, lon: np.ndarray, lat: np.ndarray) -> None:
    from geo_service.walking import service

    network = WalkNetwork(0, [graph])
    for contour in service.isochrones(network, [[lon[0], lat[0]]], [1.0, 2.0]):
        geometry_json(contour.geometry, contour.decimals)
    service.route(network, [lon[0], lat[0]], [lon[5], lat[5]])
    service.travel_matrix(network, np.column_stack([lon, lat])[:2], np.column_stack([lon, lat]), 600.0)
    node_reach(graph, "distance", np.array([0]), np.array([0.5]), np.array([0]), 500.0)
