"""The work of one window, in one process, on the service's own locate index and walking engine.

Both functions take a built index / network, so the same code answers for a window (a task of a batch job,
built from the rows inside its box) and for the whole database (the single-process reference).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from geo_service.grids.model import LEVELS
from geo_service.life_circle.reach import Facilities, ReachIndex
from geo_service.locate.index import AreaInfo, LocateIndex, parent_chain
from geo_service.locate.lattice import OUTSIDE, PolygonLattice
from geo_service.settings import LocateSettings
from geo_service.walking import WalkNetwork

# Output columns of locate, finest level first: ``<level>_code`` and ``<level>_name``.
HIERARCHY = tuple(reversed(LEVELS))
LOCATE_COLUMNS = tuple(f"{level}_{part}" for level in HIERARCHY for part in ("code", "name"))
REACH_COLUMNS = ("walk_seconds", "walk_distance_m", "facility_id", "snap_distance_m")


class WindowIndex:
    """A batch window's areas with the service's lattice per level (:class:`PolygonLattice`, the engine of
    :class:`~geo_service.locate.index.LocateIndex`, with the same tie order: codes ascending), the grids'
    lattice built with the window and each coarser level's only when a point misses every finer one.

    Nearly every point of a batch falls in a grid, and a lattice costs its cells whatever its polygons: a
    window's district, street and community lattices (at least 2^18 cells each) took ~20 % of its build and
    more than half of its pickled bytes (a 2,514-area window: 3.5 of 6.1 MB) that every other process loads.
    A point answers as the whole index answers: the same lattices, asked in the same order.
    """

    def __init__(
        self, revision: int, rows: Sequence[Mapping[str, Any]], settings: LocateSettings | None = None
    ) -> None:
        """``rows``: as :class:`~geo_service.locate.index.LocateIndex` takes them (level, code, name,
        version, parent_code and the outline's ``wkb``, WGS-84)."""
        settings = settings or LocateSettings()
        self.revision = revision
        self.areas: dict[str, AreaInfo] = {}
        self.infos: dict[str, list[AreaInfo]] = {level: [] for level in LEVELS}
        self._wkb: dict[str, list[bytes]] = {level: [] for level in LEVELS}
        for row in sorted(rows, key=lambda r: r["code"]):
            info = AreaInfo(row["level"], row["code"], row["name"], int(row["version"]), row["parent_code"])
            self.areas[info.code] = info
            self.infos[info.level].append(info)
            self._wkb[info.level].append(row["wkb"])
        self._cells = (settings.cells_per_polygon, settings.max_cells)
        self._lattices: dict[str, PolygonLattice] = {}
        self._lock = threading.Lock()
        self.lattice(HIERARCHY[0])

    def lattice(self, level: str) -> PolygonLattice:
        """The lattice of ``level``, built on first use (the outlines kept as WKB until then)."""
        with self._lock:
            found = self._lattices.get(level)
            if found is None:
                found = PolygonLattice(shapely.from_wkb(self._wkb[level]), *self._cells)
                self._lattices[level] = found
                self._wkb[level] = []
            return found

    def assign(self, level: str, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Index (into ``infos[level]``) of the covering area with the lowest code, or -1."""
        return self.lattice(level).assign(lon, lat)

    def ancestors(self, area: AreaInfo) -> list[AreaInfo]:
        """The parent chain of ``area`` by ``parent_code``, nearest first (as ``LocateIndex.ancestors``)."""
        return parent_chain(self.areas, area)

    def prepare(self) -> None:
        """Prepare the built lattices' outlines for GEOS's fast point tests (lost in a pickle)."""
        for lattice in self._lattices.values():
            shapely.prepare(lattice.geoms)

    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in vars(self).items() if key != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)
        self._lock = threading.Lock()


def _infos(index: LocateIndex | WindowIndex, level: str) -> list[AreaInfo]:
    return index.infos[level] if isinstance(index, WindowIndex) else index.levels[level].infos


def _chain(index: LocateIndex | WindowIndex, area: AreaInfo) -> dict[str, AreaInfo]:
    """An area and its ancestors by level (the nearest one of a level when the data repeats a level)."""
    out: dict[str, AreaInfo] = {}
    for info in (area, *index.ancestors(area)):
        out.setdefault(info.level, info)
    return out


@dataclass(frozen=True)
class Hierarchy:
    """The answer columns of every area of a locate index, computed once per index (a window's build) so that
    answering a point is a few array look-ups, not a walk up the parent chain.

    Areas are numbered densely level after level in :data:`HIERARCHY` order (``offsets[k]`` is the first
    number of level k, ``offsets[-1]`` the count; that number stands for "no area"). ``positions[column][d]``
    indexes ``values[column]`` (text) for area d, or is -1.
    """

    offsets: np.ndarray
    positions: dict[str, np.ndarray]
    values: dict[str, np.ndarray]


def hierarchy(index: LocateIndex | WindowIndex) -> Hierarchy:
    """The :class:`Hierarchy` of ``index``: each area, and its ancestors by level, as the answer columns."""
    offsets = np.cumsum([0] + [len(_infos(index, level)) for level in HIERARCHY])
    total = int(offsets[-1])
    positions = {name: np.full(total + 1, -1, np.int32) for name in LOCATE_COLUMNS}  # as Parquet stores them
    seen: dict[str, dict[str, int]] = {name: {} for name in LOCATE_COLUMNS}
    number = 0
    for level in HIERARCHY:
        for info in _infos(index, level):
            for chain_level, area in _chain(index, info).items():
                for part, text in (("code", area.code), ("name", area.name)):
                    if text is not None:
                        name = f"{chain_level}_{part}"
                        positions[name][number] = seen[name].setdefault(text, len(seen[name]))
            number += 1
    values = {name: np.array(list(texts), dtype=object) for name, texts in seen.items()}
    return Hierarchy(offsets, positions, values)


def locate_owners(
    index: LocateIndex | WindowIndex, lon: np.ndarray, lat: np.ndarray, table: Hierarchy
) -> np.ndarray:
    """The dense number (:class:`Hierarchy`) of the finest area covering each WGS-84 point, as
    :func:`geo_service.locate.service.locate` chooses it, or ``table.offsets[-1]`` ("no area"; also for invalid
    coordinates): the grid (lowest code on shared edges), else the finest coarser area covering the point
    (属地兜底). ``table.positions[column][owners]`` are then the answers of every column."""
    lon = np.asarray(lon, np.float64)
    lat = np.asarray(lat, np.float64)
    owner = np.full(lon.shape[0], int(table.offsets[-1]), np.int32)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    rest = None if valid.all() else np.flatnonzero(valid)  # None: every point, without copying them
    for k, level in enumerate(HIERARCHY):
        if rest is not None and not rest.size:
            break
        found = index.assign(level, lon, lat) if rest is None else index.assign(level, lon[rest], lat[rest])
        hit = found != OUTSIDE
        if rest is None:
            owner[hit] = table.offsets[k] + found[hit]
            rest = np.flatnonzero(~hit)
        else:
            owner[rest[hit]] = table.offsets[k] + found[hit]
            rest = rest[~hit]
    return owner


def locate_coded(
    index: LocateIndex | WindowIndex, lon: np.ndarray, lat: np.ndarray, table: Hierarchy | None = None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The grid and its hierarchy for WGS-84 points, as :func:`geo_service.locate.service.locate` answers,
    dictionary-coded: per column of :data:`LOCATE_COLUMNS`, ``(positions, values)`` where ``positions[k]`` indexes
    ``values`` (an object array of text) for point k, or is -1 for none. No Python object per point.

    A point inside a grid gets the grid (lowest code on shared edges) and its parent chain; a point outside
    every grid gets the finest area covering it and that area's parent chain (属地兜底). Missing levels and
    points with invalid coordinates are -1. ``table``: ``hierarchy(index)`` when the caller keeps it (a batch
    window answers many blocks); None computes it.
    """
    table = hierarchy(index) if table is None else table
    owner = locate_owners(index, lon, lat, table)
    return {name: (table.positions[name][owner], table.values[name]) for name in LOCATE_COLUMNS}


def locate_points(index: LocateIndex, lon: np.ndarray, lat: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`locate_coded` as one object array per column (None for none): for checks and small inputs."""
    out = {}
    for name, (positions, values) in locate_coded(index, lon, lat).items():
        table = np.concatenate([values, np.array([None], dtype=object)])
        out[name] = table[positions]
    return out


def reach_window(
    network: WalkNetwork,
    facility_rows: Sequence[tuple[int, str | None, str, float, float]],
    category: str,
    *,
    limit_m: float,
    max_snap_m: float,
) -> ReachIndex:
    """The life-circle reach engine (:class:`~geo_service.life_circle.reach.ReachIndex`) over ``network``
    with the facilities of ``facility_rows``, the multi-source search from every facility of ``category``
    already run on every graph (so that a built window holds all it needs and its size is known)."""
    facilities = Facilities.from_rows(list(facility_rows))
    reach = ReachIndex.build((network.revision,), network, facilities, max_snap_m, limit_m)
    for graph_index in range(len(network.graphs)):
        reach.category(graph_index, category, "time")
    return reach


def reach_answers(
    reach: ReachIndex,
    category: str,
    lon: np.ndarray,
    lat: np.ndarray,
    *,
    speed_mps: float,
    limit_m: float,
    max_snap_m: float,
) -> dict[str, np.ndarray]:
    """Walking seconds from each WGS-84 point to the nearest facility of ``category`` on a built
    :func:`reach_window` (see :func:`reach_points`)."""
    lon = np.asarray(lon, np.float64)
    lat = np.asarray(lat, np.float64)
    n = lon.shape[0]
    out = {
        "walk_seconds": np.full(n, np.nan),
        "walk_distance_m": np.full(n, np.nan),
        "facility_id": np.full(n, -1, np.int64),
        "snap_distance_m": np.full(n, np.nan),
    }
    with np.errstate(invalid="ignore"):
        valid = np.flatnonzero(
            np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
        )
    if not valid.size or not reach.network.graphs:
        return out
    located = reach.network.snap(lon[valid], lat[valid], max_snap_m)
    got = reach.points(located, category, "time")
    ok = np.isfinite(got.cost) & (got.cost <= limit_m) & (got.facility >= 0)
    snapped = located.graph_index >= 0
    out["snap_distance_m"][valid[snapped]] = located.distance_m[snapped]
    out["walk_seconds"][valid[ok]] = got.cost[ok] / speed_mps
    out["walk_distance_m"][valid[ok]] = got.metres[ok]
    out["facility_id"][valid[ok]] = reach.facilities.id[got.facility[ok]]
    return out


def reach_points(
    network: WalkNetwork,
    facility_rows: Sequence[tuple[int, str | None, str, float, float]],
    category: str,
    lon: np.ndarray,
    lat: np.ndarray,
    *,
    speed_mps: float,
    limit_m: float,
    max_snap_m: float,
) -> dict[str, np.ndarray]:
    """Walking seconds from each WGS-84 point to the nearest facility of ``category``, on the life-circle
    reach engine (:class:`~geo_service.life_circle.reach.ReachIndex`: one multi-source search from every
    facility of the category).

    Parameters
    ----------
    limit_m
        Searches stop at this cost (effective metres: steps count ``steps_factor`` times); farther is none.
    speed_mps
        Walking speed on level ground, m/s.
    max_snap_m
        Points farther than this from every walkable edge reach nothing.

    Returns
    -------
    dict
        ``walk_seconds`` and ``walk_distance_m`` (NaN: no facility within the limit or point off the
        network), ``facility_id`` (-1 none), ``snap_distance_m`` (NaN: off the network).
    """
    reach = reach_window(network, facility_rows, category, limit_m=limit_m, max_snap_m=max_snap_m)
    return reach_answers(
        reach, category, lon, lat, speed_mps=speed_mps, limit_m=limit_m, max_snap_m=max_snap_m
    )
