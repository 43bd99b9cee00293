"""Locate: which grid (and community, street, district) a point belongs to.

Public interface (incidents and the map pages build on it)::

    locate(db_or_index, lon, lat, crs="wgs84", *, reject_outside=False) -> LocateResult
    locate_batch(db_or_index, lon, lat, crs="wgs84") -> np.ndarray   # grid positions, -1 outside
    current_index(db) -> LocateIndex

Tie rule (documented in the README): a point covered by several grids — on a shared edge or vertex — goes
to the grid with the **lowest code** (code-point order, i.e. ``COLLATE "C"``) among those that cover it
(``ST_Covers``: the boundary counts). A point no grid covers but within about a micrometre of one (on its
outer boundary up to floating-point rounding) goes to the lowest of those. The same rule picks the
community / street / district for points outside every grid (属地兜底).

In step with the database: every call looks up the ``areas`` revision (held in memory and told of changes by
the database: :mod:`geo_service.db.revisions`) and rebuilds the index when it moved, whichever process or
connection changed the areas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from geo_service.coords import invalid_lonlat_mask, lonlat_message, normalise_crs, to_wgs84_arrays
from geo_service.db.cache import RevisionCache
from geo_service.db.pool import Database
from geo_service.db.revisions import watch_of
from geo_service.errors import InvalidInput
from geo_service.i18n import message
from geo_service.locate import answers
from geo_service.locate.index import AreaInfo, LocateIndex
from geo_service.locate.lattice import OUTSIDE
from geo_service.settings import LocateSettings
from geo_service.store import areas as store

_MAX_LISTED = 20


@dataclass(frozen=True)
class NearestGrid:
    """The nearest grid to a point outside every grid."""

    code: str
    name: str
    version: int
    distance_m: float

    def as_dict(self) -> answers.NearestGrid:
        return {
            "code": self.code,
            "name": self.name,
            "version": self.version,
            "distance_m": round(self.distance_m, 2),
        }


@dataclass(frozen=True)
class LocateResult:
    """Where a point belongs.

    Attributes
    ----------
    lon, lat
        The point in WGS-84 degrees (after converting from the input ``crs``).
    grid
        The grid covering the point (tie rule applied), with its current version; None outside every grid.
    ancestors
        The grid's community, street and district (nearest first), each with its version. Outside every grid,
        the finest area covering the point and its own ancestors (属地兜底); empty when nothing covers it.
    distance_to_boundary_m
        Metres to the boundary of ``grid``; outside every grid, metres to the nearest grid (None if there
        are no grids at all).
    nearest_grid
        Only outside every grid: the nearest grid and its distance.
    revision
        The ``areas`` revision the answer was computed from.
    """

    lon: float
    lat: float
    grid: AreaInfo | None
    ancestors: tuple[AreaInfo, ...]
    distance_to_boundary_m: float | None
    nearest_grid: NearestGrid | None
    revision: int

    def as_dict(self) -> answers.Located:
        """The ``GET /api/locate`` body."""
        grid: answers.LocatedGrid | None = None
        if self.grid is not None:
            grid = {
                "code": self.grid.code,
                "name": self.grid.name,
                "version": self.grid.version,
                "level": "grid",
            }
        distance = None if self.distance_to_boundary_m is None else round(self.distance_to_boundary_m, 2)
        return {
            "grid": grid,
            "ancestors": [a.as_dict() for a in self.ancestors],
            "distance_to_boundary_m": distance,
            "nearest_grid": None if self.nearest_grid is None else self.nearest_grid.as_dict(),
            "lon": self.lon,
            "lat": self.lat,
        }


_INDEXES: RevisionCache[LocateIndex] = RevisionCache()


def current_index(db: Database, settings: LocateSettings | None = None) -> LocateIndex:
    """The index for ``db`` at the current ``areas`` revision (rebuilt when another writer moved it)."""
    revision = watch_of(db).revision("areas")

    def build() -> LocateIndex:
        with db.cursor() as cur:
            snapshot_revision, rows = store.index_snapshot(cur)
        return LocateIndex(snapshot_revision, rows, settings or LocateSettings())

    return _INDEXES.get(db, revision, build, key_of=lambda index: index.revision)


def cached_index(db: Database) -> LocateIndex | None:
    """The current index when it is in memory and the revisions need no query, else None (no I/O at all: what
    a caller on the event loop may use; otherwise call :func:`current_index` off the loop)."""
    values = watch_of(db).cached()
    if values is None:
        return None
    return _INDEXES.peek(db, int(values.get("areas", 0)))


def _index(db_or_index: Database | LocateIndex, settings: LocateSettings | None = None) -> LocateIndex:
    if isinstance(db_or_index, LocateIndex):
        return db_or_index
    return current_index(db_or_index, settings)


def _looks_swapped(index: LocateIndex, lon: np.ndarray, lat: np.ndarray, crs: str) -> np.ndarray:
    """For points (as given, in ``crs``) outside every area: does the swapped pair fall inside one?"""
    swapped_lon, swapped_lat = lat, lon
    plausible = (np.abs(swapped_lat) <= 90) & (np.abs(swapped_lon) <= 180)
    result = np.zeros(len(lon), dtype=bool)
    idx = np.flatnonzero(plausible)
    if len(idx):
        wlon, wlat = to_wgs84_arrays(swapped_lon[idx], swapped_lat[idx], crs)
        result[idx] = index.covered_by_any(wlon, wlat)
    return result


def locate(
    db_or_index: Database | LocateIndex,
    lon: float,
    lat: float,
    crs: str | None = "wgs84",
    *,
    reject_outside: bool = False,
) -> LocateResult:
    """Locate one point.

    Parameters
    ----------
    db_or_index
        The database (the cached index is used, refreshed when areas changed) or a built :class:`LocateIndex`.
    lon, lat
        Degrees in ``crs``: ``wgs84`` (default), ``gcj02`` (AMap/Tencent), ``bd09`` (Baidu) or ``cgcs2000``.
    reject_outside
        Raise instead of answering for a point that no area of any level covers.

    Raises
    ------
    InvalidInput
        NaN / infinite / out-of-range coordinates, an unknown ``crs``, coordinates that look swapped (outside
        every area but inside one when swapped), or (``reject_outside``) a point outside every area.
    """
    problem = lonlat_message(lon, lat)
    if problem is not None:
        raise InvalidInput(problem.code, **problem.params)
    crs = normalise_crs(crs)
    wlon, wlat = (float(v) for v in to_wgs84_arrays(float(lon), float(lat), crs))
    index = _index(db_or_index)
    x, y = np.array([wlon]), np.array([wlat])
    i = int(index.assign("grid", x, y)[0])
    if i != OUTSIDE:
        grid = index.grids.infos[i]
        return LocateResult(
            wlon,
            wlat,
            grid,
            tuple(index.ancestors(grid)),
            index.distance_to_boundary_m(grid.code, wlon, wlat),
            None,
            index.revision,
        )
    owner = index.covering(wlon, wlat)
    if owner is None:
        if bool(_looks_swapped(index, np.array([float(lon)]), np.array([float(lat)]), crs)[0]):
            raise InvalidInput("locate.swapped", lon=float(lon), lat=float(lat))
        if reject_outside:
            raise InvalidInput("locate.outside_every_area", lon=lon, lat=lat)
    ancestors = () if owner is None else (owner, *index.ancestors(owner))
    nearest = index.nearest_grid(wlon, wlat)
    if nearest is None:
        return LocateResult(wlon, wlat, None, ancestors, None, None, index.revision)
    info, distance = nearest
    return LocateResult(
        wlon,
        wlat,
        None,
        ancestors,
        distance,
        NearestGrid(info.code, info.name, info.version, distance),
        index.revision,
    )


def locate_batch(
    db_or_index: Database | LocateIndex,
    lon: Any,
    lat: Any,
    crs: str | None = "wgs84",
    settings: LocateSettings | None = None,
) -> tuple[LocateIndex, np.ndarray]:
    """Locate many points at once (vectorised; the same tie rule as :func:`locate`).

    Returns
    -------
    (index, positions)
        ``positions[k]`` indexes ``index.grids.infos`` (the grid of point k) or is -1 outside every grid.

    Raises
    ------
    InvalidInput
        Too many points, NaN / out of range, or points that look swapped — listing the first offending
        positions (0-based); nothing is answered for a batch with bad points.
    """
    settings = settings or LocateSettings()
    crs = normalise_crs(crs)
    lon = np.asarray(lon, dtype=np.float64).ravel()
    lat = np.asarray(lat, dtype=np.float64).ravel()
    if len(lon) != len(lat):
        raise InvalidInput("locate.lengths_differ")
    if len(lon) > settings.max_batch_points:
        raise InvalidInput("locate.too_many_points", count=len(lon), limit=settings.max_batch_points)
    bad = np.flatnonzero(invalid_lonlat_mask(lon, lat))
    if len(bad):
        listed = [
            message("locate.bad_point", index=int(k), reason=lonlat_message(lon[k], lat[k]))
            for k in bad[:_MAX_LISTED]
        ]
        raise InvalidInput("locate.bad_points", count=len(bad), points=listed)
    wlon, wlat = to_wgs84_arrays(lon, lat, crs)
    index = _index(db_or_index, settings)
    positions = index.assign("grid", wlon, wlat)
    outside = np.flatnonzero(positions == OUTSIDE)
    if len(outside):
        nowhere = outside[~index.covered_by_any(wlon[outside], wlat[outside])]
        if len(nowhere):
            swapped = nowhere[_looks_swapped(index, lon[nowhere], lat[nowhere], crs)]
            if len(swapped):
                listed = [
                    message("locate.swapped_point", index=int(k), lon=float(lon[k]), lat=float(lat[k]))
                    for k in swapped[:_MAX_LISTED]
                ]
                raise InvalidInput("locate.swapped_points", count=len(swapped), points=listed)
    return index, positions


def grid_codes(index: LocateIndex, positions: np.ndarray) -> list[str | None]:
    """Grid codes (None outside every grid) for positions from :func:`locate_batch`."""
    table = np.concatenate([index.grids.codes, np.array([None], dtype=object)])
    return table[np.where(positions == OUTSIDE, len(table) - 1, positions)].tolist()
