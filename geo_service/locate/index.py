"""The in-process locate index: one :class:`~geo_service.locate.lattice.PolygonLattice` per level over the
current areas, the hierarchy by code, and nearest-grid search. Immutable once built; the service swaps in a
new one when the ``areas`` revision in ``data_revisions`` moves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from geo_service.crs import haversine_m, metres_per_degree
from geo_service.grids.model import LEVELS
from geo_service.locate.lattice import OUTSIDE, PolygonLattice
from geo_service.settings import LocateSettings
from geo_service.store.areas import AreaRef


@dataclass(frozen=True)
class AreaInfo:
    """One area as locate reports it: level, code, name and the version current when the index was built."""

    level: str
    code: str
    name: str
    version: int
    parent_code: str | None = None

    def as_dict(self) -> AreaRef:
        return {"level": self.level, "code": self.code, "name": self.name, "version": self.version}


@dataclass(frozen=True)
class LevelIndex:
    """The current areas of one level, sorted by code (the tie order), and their lattice."""

    infos: list[AreaInfo]
    codes: np.ndarray
    geoms: np.ndarray
    lattice: PolygonLattice


def parent_chain(areas: Mapping[str, AreaInfo], area: AreaInfo) -> list[AreaInfo]:
    """The parent chain of ``area`` among ``areas`` (by code) by ``parent_code``, nearest first; stops at a
    parent that is missing or already seen (a cycle in the data)."""
    chain, seen = [], {area.code}
    parent = area.parent_code
    while parent is not None and parent in areas and parent not in seen:
        info = areas[parent]
        chain.append(info)
        seen.add(parent)
        parent = info.parent_code
    return chain


class LocateIndex:
    """Everything locate needs, built from the current ``areas`` rows of one revision."""

    def __init__(
        self, revision: int, rows: Sequence[Mapping[str, Any]], settings: LocateSettings | None = None
    ) -> None:
        """``rows``: the current areas' level, code, name, version, parent_code and ``wkb`` (their outline,
        WGS-84), as :func:`geo_service.store.areas.index_snapshot` reads them."""
        settings = settings or LocateSettings()
        self.revision = revision
        self.areas: dict[str, AreaInfo] = {}
        self.levels: dict[str, LevelIndex] = {}
        by_level: dict[str, list[Mapping[str, Any]]] = {level: [] for level in LEVELS}
        for row in rows:
            info = AreaInfo(row["level"], row["code"], row["name"], int(row["version"]), row["parent_code"])
            self.areas[info.code] = info
            by_level[row["level"]].append(row)
        for level, level_rows in by_level.items():
            level_rows.sort(key=lambda r: r["code"])
            geoms = (
                shapely.from_wkb([r["wkb"] for r in level_rows]) if level_rows else np.empty(0, dtype=object)
            )
            self.levels[level] = LevelIndex(
                infos=[self.areas[r["code"]] for r in level_rows],
                codes=np.array([r["code"] for r in level_rows], dtype=object),
                geoms=np.asarray(geoms, dtype=object),
                lattice=PolygonLattice(geoms, settings.cells_per_polygon, settings.max_cells),
            )
        grids = self.levels["grid"].geoms
        self._grid_tree = shapely.STRtree(grids) if len(grids) else None

    @property
    def grids(self) -> LevelIndex:
        return self.levels["grid"]

    def assign(self, level: str, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Index (into ``levels[level].infos``) of the covering area with the lowest code, or -1."""
        return self.levels[level].lattice.assign(lon, lat)

    def covered_by_any(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Whether any current area of any level covers each point."""
        covered = np.zeros(len(lon), dtype=bool)
        for level in reversed(LEVELS):
            rest = np.flatnonzero(~covered)
            if len(rest) == 0:
                break
            covered[rest] = self.assign(level, lon[rest], lat[rest]) != OUTSIDE
        return covered

    def covering(self, lon: float, lat: float) -> AreaInfo | None:
        """The finest area (grid, then community, street, district) covering a point, lowest code on ties."""
        x, y = np.array([lon]), np.array([lat])
        for level in reversed(LEVELS):
            i = int(self.assign(level, x, y)[0])
            if i != OUTSIDE:
                return self.levels[level].infos[i]
        return None

    def ancestors(self, area: AreaInfo) -> list[AreaInfo]:
        """The parent chain of ``area`` by ``parent_code``, nearest first (community, street, district)."""
        return parent_chain(self.areas, area)

    def grid_geometry(self, code: str) -> shapely.Geometry:
        grids = self.grids
        i = int(np.searchsorted(grids.codes, code))
        return grids.geoms[i]

    @staticmethod
    def _local_distance_m(
        geom: shapely.Geometry, lon: float, lat: float
    ) -> tuple[float, tuple[float, float]]:
        """Distance (m) from a point to ``geom`` in a local equirectangular frame at the point, and the nearest
        point of ``geom`` (degrees). Exact enough at the scale of grids (< 0.1 % within 10 km)."""
        kx, ky = metres_per_degree(lat)
        local = shapely.transform(
            geom, lambda c: np.column_stack([(c[:, 0] - lon) * kx, (c[:, 1] - lat) * ky])
        )
        origin = shapely.Point(0.0, 0.0)
        distance = float(shapely.distance(local, origin))
        nearest = shapely.get_coordinates(shapely.shortest_line(local, origin))[0]
        return distance, (lon + nearest[0] / kx, lat + nearest[1] / ky)

    def distance_to_boundary_m(self, code: str, lon: float, lat: float) -> float:
        """Metres from a point to the boundary of grid ``code``."""
        geom = self.grid_geometry(code)
        distance, _ = self._local_distance_m(shapely.boundary(geom), lon, lat)
        return distance

    def nearest_grid(self, lon: float, lat: float) -> tuple[AreaInfo, float] | None:
        """The grid nearest to a point outside every grid and its distance (m); lowest code on ties."""
        if self._grid_tree is None:
            return None
        grids = self.grids
        point = shapely.Point(lon, lat)
        first = int(self._grid_tree.query_nearest(point)[0])
        base, _ = self._local_distance_m(grids.geoms[first], lon, lat)
        # Degrees are not metres (a degree of longitude is shorter): look again within the metric radius.
        kx, ky = metres_per_degree(lat)
        reach_x, reach_y = (base + 1.0) / kx, (base + 1.0) / ky
        box = shapely.box(lon - reach_x, lat - reach_y, lon + reach_x, lat + reach_y)
        best: tuple[float, int] = (base, first)
        for i in sorted(int(c) for c in self._grid_tree.query(box)):
            d, _ = self._local_distance_m(grids.geoms[i], lon, lat)
            if d < best[0] - 1e-9 or (abs(d - best[0]) <= 1e-9 and i < best[1]):
                best = (d, i)
        distance, i = best
        if distance > 10_000:  # far away: measure along the ellipsoid's great circle instead
            _, (nlon, nlat) = self._local_distance_m(grids.geoms[i], lon, lat)
            distance = haversine_m(lon, lat, nlon, nlat)
        return grids.infos[i], distance

    def stats(self) -> dict[str, Any]:
        return {"revision": self.revision, **{level: self.levels[level].lattice.stats() for level in LEVELS}}
