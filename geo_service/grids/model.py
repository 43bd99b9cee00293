"""The area model: levels, a drafted area from a GeoJSON Feature, and a problem found in one.

One hierarchy: ``district`` → ``street`` → ``community`` → ``grid``. A child's level is always finer than
its parent's.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from typing import Any, NotRequired, TypedDict, cast

import shapely

from geo_service.feature_input import MAX_PROPERTY_DEPTH, contains_nul, depth_exceeds
from geo_service.geojson import Geometry
from geo_service.grids.geometry import GeometryProblem, parse_polygonal, to_geojson
from geo_service.i18n import Message, message
from geo_service.store.areas import NewArea

LEVELS = ("district", "street", "community", "grid")
LEVEL_RANK = {level: rank for rank, level in enumerate(LEVELS)}
_CORE = ("code", "name", "level", "parent_code", "households", "population", "workers", "version")
_READ_ONLY = ("id", "valid_from", "valid_to", "changed_by", "change", "closed_by", "closed_change", "source")
# Codes of new areas: GB/T 30428 codes are digits; planners' working codes (grid_2, D01-S02) use a few more
# ASCII characters. Nothing that needs escaping in a URL path or an HTTP header (Location) is allowed.
CODE_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
CODE_RULE = "1–64 characters: ASCII letters, digits, _ . -"
MAX_NAME_CHARS = 200
# Households and population are PostgreSQL integers.
MAX_COUNT = 2_147_483_647


# Words of the API under /api/grids/ (routes, not areas): never codes.
RESERVED_CODES = frozenset({"validate", "import", "export", "propose"})


def code_allowed(code: str) -> bool:
    """Whether ``code`` may name a new area (:data:`CODE_PATTERN`, not a :data:`RESERVED_CODES` word)."""
    return CODE_PATTERN.fullmatch(code) is not None and code not in RESERVED_CODES


class GridProblem(TypedDict):
    """A problem as the 422 lists it (``openapi.SCHEMAS["GridProblem"]`` documents it): the first code
    concerned, all of them, the feature's index in the request, the area of an overlap or gap."""

    problem: str
    message: Message
    code: NotRequired[str]
    codes: NotRequired[list[str]]
    feature: NotRequired[int]
    area_m2: NotRequired[float]
    location: Geometry | None


@dataclass
class Problem:
    """One thing wrong with a write: ``problem`` is a stable id, ``message`` its text (a catalogue message
    ``grid.<problem>…``, rendered in the caller's language), ``location`` a WGS-84 GeoJSON geometry."""

    problem: str
    message: Message
    codes: list[str] = field(default_factory=list)
    location: Geometry | None = None
    feature: int | None = None
    area_m2: float | None = None

    def as_dict(self) -> GridProblem:
        # members in the order they have always been sent: location last, the optional ones only when known
        out: dict[str, object] = {"problem": self.problem, "message": self.message}
        if self.codes:
            out["code"] = self.codes[0]
            out["codes"] = self.codes
        if self.feature is not None:
            out["feature"] = self.feature
        if self.area_m2 is not None:
            out["area_m2"] = round(self.area_m2, 3)
        out["location"] = self.location
        return cast(GridProblem, out)


def point_location(location: tuple[float, float] | None) -> Geometry | None:
    if location is None or not all(math.isfinite(v) for v in location):
        return None
    return {"type": "Point", "coordinates": [location[0], location[1]]}


def geometry_location(geom: Any) -> Geometry | None:
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
    provisional: bool = False  # dry run: a shape still being drawn, checked under a made-up code

    def row(self) -> NewArea:
        """Values for :func:`geo_service.store.areas.insert_version`."""
        return {
            "code": self.code,
            "name": self.name or self.code,
            "level": self.level,
            "parent_code": self.parent_code,
            "households": self.households,
            "population": self.population,
            "workers": self.workers,
            "properties": self.properties,
            "source": self.source,
            "wkb": shapely.to_wkb(self.geom),
        }


@dataclass
class CodedDraft(AreaDraft):
    """A draft with its code (given, numbered or provisional): what the checks and the writes see."""

    code: str

    @classmethod
    def of(cls, draft: AreaDraft) -> CodedDraft:
        assert draft.code is not None
        return cls(**{f.name: getattr(draft, f.name) for f in fields(draft)})


def _optional_count(
    props: dict[str, Any], key: str, problems: list[Problem], index: int, code: str | None
) -> int | None:
    value = props.get(key)
    if value is None or value == "":
        return None
    number = float("nan")
    if not isinstance(value, bool):  # JSON true is not one household
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            number = float("nan")
    if not math.isfinite(number) or number < 0 or number != int(number) or number > MAX_COUNT:
        problems.append(
            Problem(
                "invalid_property",
                message("grid.invalid_property.count", field=key, value=str(value)[:40], limit=MAX_COUNT),
                [code] if code else [],
                None,
                index,
            )
        )
        return None
    return int(number)


def _workers(value: Any, problems: list[Problem], index: int, code: str | None) -> list[dict[str, Any]]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value)  # shapefiles and GeoPackages carry it as JSON text
        except (ValueError, RecursionError):
            value = None
    if not isinstance(value, list) or not all(isinstance(w, dict) for w in value):
        problems.append(
            Problem(
                "invalid_property",
                message("grid.invalid_property.workers"),
                [code] if code else [],
                None,
                index,
            )
        )
        return []
    return [{str(k): v for k, v in w.items()} for w in value]


def _text_problem(value: str) -> bool:
    return "\x00" in value or not value.isprintable()


def draft_from_feature(
    feature: Any,
    index: int,
    problems: list[Problem],
    default_level: str = "grid",
    max_vertices: int | None = None,
) -> AreaDraft | None:
    """Read one GeoJSON Feature into a draft; what is wrong goes to ``problems`` (and None comes back when
    the feature cannot be used at all). ``max_vertices`` caps the positions of its geometry."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        problems.append(Problem("invalid_feature", message("grid.invalid_feature"), [], None, index))
        return None
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        problems.append(
            Problem("invalid_feature", message("grid.invalid_feature.properties"), [], None, index)
        )
        return None
    if contains_nul(props):  # PostgreSQL text and jsonb cannot hold NUL
        problems.append(Problem("invalid_property", message("grid.invalid_property.nul"), [], None, index))
        return None
    code = props.get("code")
    if isinstance(code, bool) or (code is not None and not isinstance(code, str | int)):
        problems.append(
            Problem(
                "bad_code", message("grid.bad_code", code=str(code)[:80], rule=CODE_RULE), [], None, index
            )
        )
        return None
    code = None if code is None or str(code).strip() == "" else str(code).strip()
    if code is not None and (len(code) > 64 or any(c in code for c in "/?#%\\") or _text_problem(code)):
        # never usable, not even as the code of an area stored before the code rule (new codes: CODE_PATTERN)
        problems.append(
            Problem("bad_code", message("grid.bad_code", code=code[:80], rule=CODE_RULE), [], None, index)
        )
        return None
    level = str(props.get("level") or default_level).strip().lower()
    if level not in LEVEL_RANK:
        problems.append(
            Problem(
                "invalid_property",
                message("grid.invalid_property.level", level=level[:40], allowed=list(LEVELS)),
                [code] if code else [],
                None,
                index,
            )
        )
        return None
    parent = props.get("parent_code")
    parent = None if parent is None or str(parent).strip() == "" else str(parent).strip()
    if parent is not None and (
        len(parent) > 64 or _text_problem(parent) or isinstance(props.get("parent_code"), bool)
    ):
        problems.append(
            Problem(
                "bad_code",
                message("grid.bad_code.parent", code=parent[:80]),
                [code] if code else [],
                None,
                index,
            )
        )
        return None
    name = props.get("name")
    name = None if name is None or str(name).strip() == "" else str(name).strip()
    if name is not None and len(name) > MAX_NAME_CHARS:
        problems.append(
            Problem(
                "invalid_property",
                message("grid.invalid_property.name_too_long", limit=MAX_NAME_CHARS, length=len(name)),
                [code] if code else [],
                None,
                index,
            )
        )
        return None
    try:
        geom = parse_polygonal(feature.get("geometry"), max_vertices)
    except GeometryProblem as exc:
        problems.append(
            Problem(exc.problem, exc.message, [code] if code else [], point_location(exc.location), index)
        )
        return None
    version = props.get("version")
    try:
        if isinstance(version, bool):
            raise TypeError("a boolean is no version")
        version = None if version in (None, "") else int(version)
        if version is not None and not 1 <= version <= MAX_COUNT:
            raise ValueError("out of range")
    except (TypeError, ValueError, OverflowError):
        problems.append(
            Problem(
                "invalid_property",
                message("grid.invalid_property.version", value=str(version)[:40]),
                [code] if code else [],
                None,
                index,
            )
        )
        version = None
    # null extras are absent ones (file formats give every feature every column)
    extra = {k: v for k, v in props.items() if k not in _CORE and k not in _READ_ONLY and v is not None}
    if depth_exceeds(extra, MAX_PROPERTY_DEPTH):
        problems.append(
            Problem(
                "invalid_property",
                message("grid.invalid_property.extra", depth=MAX_PROPERTY_DEPTH),
                [code] if code else [],
                None,
                index,
            )
        )
        return None
    return AreaDraft(
        feature=index,
        code=code,
        name=name,
        level=level,
        parent_code=parent,
        households=_optional_count(props, "households", problems, index, code),
        population=_optional_count(props, "population", problems, index, code),
        workers=_workers(props.get("workers"), problems, index, code),
        properties=_jsonable(extra),
        geom=geom,
        version=version,
    )


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
