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
from typing import Any

from geo_service.db.pool import Database
from geo_service.errors import InvalidInput
from geo_service.incidents.categories import LEVELS
from geo_service.locate.index import AreaInfo, LocateIndex
from geo_service.locate.service import LocateResult, locate


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
    snapshot: list[dict[str, Any]]
    near_boundary: bool
    distance_to_boundary_m: float | None
    nearest_grid: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def code_at(self, level: str) -> str | None:
        return next((a["code"] for a in self.snapshot if a["level"] == level), None)

    def columns(self) -> dict[str, Any]:
        """The incident columns this assignment fills."""
        return {
            "grid_code": self.grid_code,
            "grid_version": self.grid_version,
            "owner_level": self.owner_level,
            "owner_code": self.owner_code,
            "area_snapshot": self.snapshot,
            "near_boundary": self.near_boundary,
            "distance_to_boundary_m": None
            if self.distance_to_boundary_m is None
            else round(self.distance_to_boundary_m, 2),
            "community_code": self.code_at("community"),
            "street_code": self.code_at("street"),
            "district_code": self.code_at("district"),
        }


def from_locate(result: LocateResult, near_boundary_m: float) -> Assignment:
    """Turn a locate answer into an assignment.

    Raises
    ------
    InvalidInput
        The point lies outside every area (no grid, community, street or district covers it).
    """
    chain: list[AreaInfo] = ([result.grid] if result.grid is not None else []) + list(result.ancestors)
    if not chain:
        raise InvalidInput(
            f"the point ({result.lon:.6f}, {result.lat:.6f}) is outside every grid and every community, street "
            "and district of this service: no one is responsible for it here"
        )
    snapshot = [a.as_dict() for a in chain]
    distance = result.distance_to_boundary_m
    near = distance is not None and distance < near_boundary_m
    notes = []
    if result.grid is not None:
        if near:
            notes.append(
                f"{distance:.1f} m from the boundary of grid {result.grid.code}: please confirm the assignment"
            )
        return Assignment(result.lon, result.lat, result.grid.code, result.grid.version, "grid",
                          result.grid.code, snapshot, near, distance, None, notes)  # fmt: skip
    owner = chain[0]
    notes.append(f"outside every grid: {owner.level} {owner.code} ({owner.name}) takes it (属地兜底)")
    nearest = result.nearest_grid.as_dict() if result.nearest_grid is not None else None
    if near and nearest is not None:
        notes.append(f"{distance:.1f} m from grid {nearest['code']}: please confirm the assignment")
    return Assignment(result.lon, result.lat, None, None, owner.level, owner.code, snapshot, near, distance,
                      nearest, notes)  # fmt: skip


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


def next_owner(snapshot: list[dict[str, Any]], level: str) -> dict[str, Any] | None:
    """The area one step up from ``level`` in an incident's snapshot (skipping levels it lacks), or None."""
    rank = LEVELS.index(level)
    for higher in LEVELS[rank + 1 :]:
        found = next((a for a in snapshot if a["level"] == higher), None)
        if found is not None:
            return found
    return None
