"""Which grid (and so which grid worker) an incident goes to, decided once, at intake.

The locate service (:mod:`geo_service.locate.service`) answers with the grid covering the point at this
moment, by its documented tie rule, and that grid's ancestors with their versions. The incident keeps that
answer as a snapshot: later boundary edits never move it (FixMyStreet keeps the areas of a report the same way).

- Inside a grid: the grid owns it; closer than ``near_boundary_m`` to the grid's boundary it is flagged for a
  dispatcher to confirm (the most common misrouting: a pin next to the line).
- Outside every grid but inside a community, street or district: the finest such area owns it (属地兜底).
  Within ``near_boundary_m`` of a grid it is flagged too: it may belong to that grid.
- Outside every area: refused (422), never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely

from geo_service.crs import metres_per_degree
from geo_service.db.pool import Database
from geo_service.errors import InvalidInput
from geo_service.i18n import Message, message
from geo_service.incidents.categories import LEVELS
from geo_service.locate.answers import NearestGrid
from geo_service.locate.index import AreaInfo, LocateIndex
from geo_service.locate.lattice import OUTSIDE
from geo_service.locate.service import LocateResult, locate
from geo_service.store.areas import AreaRef
from geo_service.store.incidents import AssignedColumns


@dataclass(frozen=True)
class Assignment:
    """Where an incident belongs.

    Attributes
    ----------
    lon, lat
        The point, WGS-84 degrees.
    snapshot
        The owning area and its ancestors, finest first: ``{"level", "code", "name", "version"}``.
    distance_to_boundary_m
        Metres to the grid's boundary (inside a grid) or to the nearest grid (outside every grid).
    """

    lon: float
    lat: float
    grid_code: str | None
    grid_version: int | None
    owner_level: str
    owner_code: str
    snapshot: list[AreaRef]
    near_boundary: bool
    distance_to_boundary_m: float | None
    nearest_grid: NearestGrid | None = None
    notes: list[Message] = field(default_factory=list)

    @property
    def rounded_distance_m(self) -> float | None:
        return None if self.distance_to_boundary_m is None else round(self.distance_to_boundary_m, 2)

    def code_at(self, level: str) -> str | None:
        return next((a["code"] for a in self.snapshot if a["level"] == level), None)

    def columns(self) -> AssignedColumns:
        """The incident columns this assignment fills."""
        return {
            "grid_code": self.grid_code,
            "grid_version": self.grid_version,
            "owner_level": self.owner_level,
            "owner_code": self.owner_code,
            "area_snapshot": self.snapshot,
            "near_boundary": self.near_boundary,
            "distance_to_boundary_m": self.rounded_distance_m,
            "community_code": self.code_at("community"),
            "street_code": self.code_at("street"),
            "district_code": self.code_at("district"),
        }


def _in_grid(
    lon: float,
    lat: float,
    grid: AreaInfo,
    snapshot: list[AreaRef],
    distance: float,
    near_boundary_m: float,
) -> Assignment:
    near = distance < near_boundary_m
    notes = (
        [message("incident.note.near_boundary", distance_m=f"{distance:.1f}", grid=grid.code)] if near else []
    )
    return Assignment(
        lon, lat, grid.code, grid.version, "grid", grid.code, snapshot, near, distance, None, notes
    )


def from_locate(result: LocateResult, near_boundary_m: float) -> Assignment:
    """Turn a locate answer into an assignment.

    Raises
    ------
    InvalidInput
        The point lies outside every area (no grid, community, street or district covers it).
    """
    chain: list[AreaInfo] = ([result.grid] if result.grid is not None else []) + list(result.ancestors)
    if not chain:
        raise InvalidInput("incident.outside_every_area", lon=f"{result.lon:.6f}", lat=f"{result.lat:.6f}")
    snapshot = [a.as_dict() for a in chain]
    distance = result.distance_to_boundary_m
    if result.grid is not None and distance is not None:
        return _in_grid(result.lon, result.lat, result.grid, snapshot, distance, near_boundary_m)
    owner = chain[0]
    notes = [
        message(
            "incident.note.owner_fallback",
            level=level_name(owner.level),
            area_code=owner.code,
            name=owner.name,
        )
    ]
    nearest = result.nearest_grid.as_dict() if result.nearest_grid is not None else None
    near = distance is not None and distance < near_boundary_m
    if near and nearest is not None:
        notes.append(message("incident.note.near_grid", distance_m=f"{distance:.1f}", grid=nearest["code"]))
    return Assignment(
        result.lon, result.lat, None, None, owner.level, owner.code, snapshot, near, distance, nearest, notes
    )


def assign(
    db_or_index: Database | LocateIndex, lon: float, lat: float, crs: str | None, near_boundary_m: float
) -> Assignment:
    """Assign a point given in ``crs`` (``wgs84``, ``gcj02``, ``bd09``, ``cgcs2000``).

    Raises
    ------
    InvalidInput
        Bad or swapped coordinates, an unknown ``crs``, or a point outside every area.
    """
    return from_locate(locate(db_or_index, lon, lat, crs), near_boundary_m)


def _boundary_distances_m(grid: shapely.Geometry, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Metres from each point to the grid's boundary, in one local equirectangular frame at the points' centre.

    The frame's scale varies with latitude by tan(φ)·Δφ across the grid: about 0.1 % over 5 km at 60° N, so
    centimetres at the 20 m flagging distance.
    """
    lon0, lat0 = float(lon.mean()), float(lat.mean())
    kx, ky = metres_per_degree(lat0)
    boundary = shapely.transform(
        shapely.boundary(grid), lambda c: np.column_stack([(c[:, 0] - lon0) * kx, (c[:, 1] - lat0) * ky])
    )
    return np.asarray(shapely.distance(boundary, shapely.points((lon - lon0) * kx, (lat - lat0) * ky)))


def assign_many(
    index: LocateIndex, lon: np.ndarray, lat: np.ndarray, near_boundary_m: float
) -> list[Assignment | InvalidInput]:
    """Assign many WGS-84 points at once: an :class:`Assignment`, or the error saying why a point has none.

    Points inside a grid are assigned vectorised (one lattice lookup for all, boundary distances per grid);
    the few outside every grid go through :func:`assign` one by one (属地兜底, swapped or outside every area).
    The answers are those of :func:`assign`.
    """
    out: list[Assignment | InvalidInput | None] = [None] * len(lon)
    positions = index.assign("grid", lon, lat)
    order = np.argsort(positions, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(positions[order])) + 1) if len(order) else []
    for members in groups:
        position = int(positions[members[0]])
        if position == OUTSIDE:
            for k in members:
                try:
                    out[k] = assign(index, float(lon[k]), float(lat[k]), "wgs84", near_boundary_m)
                except InvalidInput as exc:
                    out[k] = exc
            continue
        grid = index.grids.infos[position]
        snapshot = [a.as_dict() for a in (grid, *index.ancestors(grid))]
        distances = _boundary_distances_m(index.grids.geoms[position], lon[members], lat[members])
        for k, distance in zip(members, distances.tolist(), strict=True):
            out[k] = _in_grid(float(lon[k]), float(lat[k]), grid, snapshot, distance, near_boundary_m)
    return [a for a in out if a is not None]


def level_name(level: str) -> Message:
    """An area level in the reader's language (网格, 社区, 街道, 区)."""
    return message(f"incident.level.{level}")


def next_owner(snapshot: list[AreaRef], level: str) -> AreaRef | None:
    """The area one step up from ``level`` in an incident's snapshot (skipping levels it lacks), or None."""
    rank = LEVELS.index(level)
    for higher in LEVELS[rank + 1 :]:
        found = next((a for a in snapshot if a["level"] == higher), None)
        if found is not None:
            return found
    return None
