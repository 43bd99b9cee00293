"""The area model: levels, a drafted area from a GeoJSON Feature, and a problem found in one.

One hierarchy: ``district`` → ``street`` → ``community`` → ``grid``. A child's level is always finer than
its parent's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import shapely

from geo_service.grids.geometry import GeometryProblem, parse_polygonal, to_geojson

LEVELS = ("district", "street", "community", "grid")
LEVEL_RANK = {level: rank for rank, level in enumerate(LEVELS)}
_CORE = ("code", "name", "level", "parent_code", "households", "population", "workers", "version")
_READ_ONLY = ("id", "valid_from", "valid_to", "changed_by", "change", "closed_by", "closed_change", "source")


@dataclass
class Problem:
    """One thing wrong with a write: ``problem`` is a stable id, ``location`` a WGS-84 GeoJSON geometry."""

    problem: str
    message: str
    codes: list[str] = field(default_factory=list)
    location: dict[str, Any] | None = None
    feature: int | None = None
    area_m2: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"problem": self.problem, "message": self.message}
        if self.codes:
            out["code"] = self.codes[0]
            out["codes"] = self.codes
        if self.feature is not None:
            out["feature"] = self.feature
        if self.area_m2 is not None:
            out["area_m2"] = round(self.area_m2, 3)
        out["location"] = self.location
        return out


def point_location(location: tuple[float, float] | None) -> dict[str, Any] | None:
    if location is None or not all(math.isfinite(v) for v in location):
        return None
    return {"type": "Point", "coordinates": [location[0], location[1]]}


def geometry_location(geom: Any) -> dict[str, Any] | None:
    return None if geom is None or geom.is_empty else to_geojson(geom)


@dataclass
class AreaDraft:
    """An area as a planner sent it (geometry in WGS-84 degrees)."""

    feature: int
    code: str | None
    name: str | None
    level: str
    parent_code: str | None
    households: int | None
    population: int | None
    workers: list[dict[str, Any]]
    properties: dict[str, Any]
    geom: shapely.MultiPolygon
    version: int | None = None
    source: str = "api"

    def row(self) -> dict[str, Any]:
        """Values for :func:`geo_service.store.areas.insert_version`."""
        return {
            "code": self.code, "name": self.name or self.code, "level": self.level,
            "parent_code": self.parent_code, "households": self.households, "population": self.population,
            "workers": self.workers, "properties": self.properties, "source": self.source,
            "wkb": shapely.to_wkb(self.geom),
        }  # fmt: skip


def _optional_count(
    props: dict[str, Any], key: str, problems: list[Problem], index: int, code: str | None
) -> int | None:
    value = props.get(key)
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not math.isfinite(number) or number < 0 or number != int(number):
        problems.append(Problem("invalid_property", f"{key} must be a whole number ≥ 0, got {value!r}",
                                [code] if code else [], None, index))  # fmt: skip
        return None
    return int(number)


def _workers(value: Any, problems: list[Problem], index: int, code: str | None) -> list[dict[str, Any]]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value)  # shapefiles and GeoPackages carry it as JSON text
        except ValueError:
            value = None
    if not isinstance(value, list) or not all(isinstance(w, dict) for w in value):
        problems.append(Problem("invalid_property", 'workers must be a list of {"name", "phone"} objects',
                                [code] if code else [], None, index))  # fmt: skip
        return []
    return [{str(k): v for k, v in w.items()} for w in value]


def draft_from_feature(
    feature: Any, index: int, problems: list[Problem], default_level: str = "grid"
) -> AreaDraft | None:
    """Read one GeoJSON Feature into a draft; what is wrong goes to ``problems`` (and None comes back when
    the feature cannot be used at all)."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        problems.append(Problem("invalid_feature", "each item must be a GeoJSON Feature", [], None, index))
        return None
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        problems.append(Problem("invalid_feature", "properties must be an object", [], None, index))
        return None
    code = props.get("code")
    code = None if code is None or str(code).strip() == "" else str(code).strip()
    if code is not None and (len(code) > 64 or any(c in code for c in "/?#%\\") or not code.isprintable()):
        problems.append(Problem("invalid_property", f"code {code!r} must be printable, ≤ 64 characters, without / ? # % \\",
                                [code], None, index))  # fmt: skip
        return None
    level = str(props.get("level") or default_level).strip().lower()
    if level not in LEVEL_RANK:
        problems.append(Problem("invalid_property", f"level must be one of {', '.join(LEVELS)}, not {level!r}",
                                [code] if code else [], None, index))  # fmt: skip
        return None
    parent = props.get("parent_code")
    parent = None if parent is None or str(parent).strip() == "" else str(parent).strip()
    name = props.get("name")
    name = None if name is None or str(name).strip() == "" else str(name).strip()[:200]
    try:
        geom = parse_polygonal(feature.get("geometry"))
    except GeometryProblem as exc:
        problems.append(
            Problem(exc.problem, exc.message, [code] if code else [], point_location(exc.location), index)
        )
        return None
    version = props.get("version")
    try:
        version = None if version in (None, "") else int(version)
    except (TypeError, ValueError):
        problems.append(Problem("invalid_property", f"version must be a whole number, got {version!r}",
                                [code] if code else [], None, index))  # fmt: skip
        version = None
    # null extras are absent ones (file formats give every feature every column)
    extra = {k: v for k, v in props.items() if k not in _CORE and k not in _READ_ONLY and v is not None}
    return AreaDraft(
        feature=index, code=code, name=name, level=level, parent_code=parent,
        households=_optional_count(props, "households", problems, index, code),
        population=_optional_count(props, "population", problems, index, code),
        workers=_workers(props.get("workers"), problems, index, code),
        properties=_jsonable(extra), geom=geom, version=version,
    )  # fmt: skip


def _jsonable(value: Any) -> Any:
    """Extra properties as plain JSON (NaN and numpy scalars from file readers become null / numbers)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
