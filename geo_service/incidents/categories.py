"""The incident classification: events (事件) and components (部件), with a resolution deadline per level.

Read from a YAML data file (bundled: ``geo_service/data/incident_categories.yaml``, GB/T 30428.2-style major
and minor classes) so a city can swap in its own classes and deadlines without touching code.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field
from typing_extensions import TypedDict  # pydantic documents IncidentCategories on Python 3.11

from geo_service.errors import InvalidInput

BUNDLED_FILE = Path(__file__).resolve().parent.parent / "data" / "incident_categories.yaml"
LEVELS = ("grid", "community", "street", "district")  # escalation order, finest first
Kind = Literal["event", "component"]


DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")


@dataclass(frozen=True)
class Attribute:
    """A question a caller answers when reporting a category (an Open311 service attribute)."""

    code: str
    datatype: str
    required: bool
    description: str
    description_en: str
    values: tuple[tuple[str, str, str], ...] = ()  # (key, name, name_en) for the list types

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for key, _, _ in self.values)


class IncidentCategory(TypedDict):
    """A category as ``GET /api/incidents/categories`` lists it."""

    code: str
    kind: str
    name: str
    name_en: str
    major_code: str
    major_name: str
    deadline_hours: Annotated[dict[str, float], Field(description="hours to close, per owner level")]
    response_hours: Annotated[float, Field(description="hours to take a case in hand after intake")]


class IncidentCategories(TypedDict):
    levels: list[str]
    categories: list[IncidentCategory]


@dataclass(frozen=True)
class Category:
    """One class of the classification (a major class, or a minor class within one).

    ``deadline_hours`` holds, for every level, the hours that level has to resolve an incident it owns;
    ``response_hours`` how soon a case must be taken in hand (响应: ``in_progress``) after intake.
    """

    code: str
    kind: Kind
    name: str
    name_en: str
    major_code: str
    major_name: str
    deadline_hours: dict[str, float]
    attributes: tuple[Attribute, ...] = ()
    response_hours: float = 24.0

    @property
    def is_major(self) -> bool:
        return self.code == self.major_code

    def response_time(self) -> timedelta:
        """How soon after intake a case of this category must be taken in hand."""
        return timedelta(hours=self.response_hours)

    def deadline(self, level: str) -> timedelta:
        """How long ``level`` has to resolve an incident of this category."""
        return timedelta(hours=self.deadline_hours[level])

    def as_dict(self) -> IncidentCategory:
        return {
            "code": self.code,
            "kind": self.kind,
            "name": self.name,
            "name_en": self.name_en,
            "major_code": self.major_code,
            "major_name": self.major_name,
            "deadline_hours": dict(self.deadline_hours),
            "response_hours": self.response_hours,
        }


def _key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


class Classification:
    """All categories in file order, looked up by code or by name (Chinese or English)."""

    def __init__(self, categories: list[Category]) -> None:
        self.categories = {c.code: c for c in categories}
        self._by_key: dict[str, Category] = {}
        # first writer wins: file order decides between an event and a component class of the same name
        for category in categories:
            for key in (category.code, category.name, category.name_en):
                self._by_key.setdefault(_key(key), category)

    def __iter__(self) -> Iterator[Category]:
        return iter(self.categories.values())

    def __len__(self) -> int:
        return len(self.categories)

    def get(self, code: str) -> Category | None:
        return self.categories.get(code)

    def related(self, category: Category) -> list[str]:
        """Codes of the categories a report of ``category`` may duplicate: its major class and every class in it."""
        return [c.code for c in self if c.major_code == category.major_code]

    def response_hours(self) -> dict[str, float]:
        """Category code → hours to respond (for the rates)."""
        return {c.code: c.response_hours for c in self}

    def resolve(self, text: str) -> Category:
        """The category named by ``text``: a code (``E0102``), or a Chinese or English name.

        Raises
        ------
        InvalidInput
            When nothing matches; the message lists the major classes.
        """
        found = self._by_key.get(_key(text or ""))
        if found is None:
            majors = [f"{c.code} {c.name}" for c in self if c.is_major]
            raise InvalidInput("incident.unknown_category", category=repr(text), majors=majors)
        return found

    @classmethod
    def load(cls, path: Path | None = None) -> Classification:
        """Read and check a classification file (the bundled one when ``path`` is None)."""
        source = Path(path) if path else BUNDLED_FILE
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
        return cls(_parse(data, source))


def _deadlines(raw: Any, inherited: dict[str, float] | None, where: str) -> dict[str, float]:
    if raw is not None and not isinstance(raw, dict):
        raise ValueError(f"{where}: deadline_hours must be a mapping of level → hours")
    merged = dict(inherited or {})
    for level, hours in (raw or {}).items():
        if level not in LEVELS:
            raise ValueError(
                f"{where}: unknown level {level!r} in deadline_hours (levels: {', '.join(LEVELS)})"
            )
        if not isinstance(hours, int | float) or hours <= 0:
            raise ValueError(f"{where}: deadline for {level} must be a positive number of hours")
        merged[level] = float(hours)
    missing = [level for level in LEVELS if level not in merged]
    if missing:
        raise ValueError(f"{where}: no deadline for {', '.join(missing)}")
    return merged


def _response_hours(raw: Any, inherited: float | None, deadlines: dict[str, float], where: str) -> float:
    """Hours to respond: as given; else the major class's, but never later than the class's own grid deadline
    (a 2-hour case cannot wait 4 hours to be taken in hand); else the grid's resolution deadline."""
    if raw is None:
        return min(inherited, deadlines["grid"]) if inherited is not None else deadlines["grid"]
    if not isinstance(raw, int | float) or raw <= 0:
        raise ValueError(f"{where}: response_hours must be a positive number of hours")
    return float(raw)


def _attributes(raw: Any, where: str) -> tuple[Attribute, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValueError(f"{where}: attributes must be a list")
    out = []
    for item in raw:
        code, datatype = str(item.get("code", "")), item.get("datatype", "string")
        if not code or datatype not in DATATYPES:
            raise ValueError(
                f"{where}: every attribute needs a code and a datatype of {', '.join(DATATYPES)}"
            )
        values = tuple(
            (str(v["key"]), str(v["name"]), str(v.get("name_en") or v["name"]))
            for v in item.get("values") or []
        )
        if datatype.endswith("valuelist") and not values:
            raise ValueError(f"{where}: attribute {code} lists no values")
        description = str(item.get("description") or code)
        out.append(
            Attribute(
                code,
                datatype,
                bool(item.get("required", False)),
                description,
                str(item.get("description_en") or description),
                values,
            )
        )
    return tuple(out)


def _parse(data: Any, source: Path) -> list[Category]:
    if not isinstance(data, dict) or not isinstance(data.get("classes"), list):
        raise ValueError(f"{source}: expected a mapping with a 'classes' list")
    out: list[Category] = []
    for major in data["classes"]:
        code, kind = str(major.get("code", "")), major.get("kind")
        where = f"{source.name}: class {code or '?'}"
        if not code or not major.get("name"):
            raise ValueError(f"{where}: every class needs a code and a name")
        if kind not in ("event", "component"):
            raise ValueError(f"{where}: kind must be 'event' or 'component'")
        deadlines = _deadlines(major.get("deadline_hours"), None, where)
        response = _response_hours(major.get("response_hours"), None, deadlines, where)
        out.append(
            Category(
                code,
                kind,
                str(major["name"]),
                str(major.get("name_en") or major["name"]),
                code,
                str(major["name"]),
                deadlines,
                response_hours=response,
            )
        )
        for minor in major.get("subclasses") or []:
            minor_code = str(minor.get("code", ""))
            if not minor_code or not minor.get("name"):
                raise ValueError(f"{where}: every subclass needs a code and a name")
            where_minor = f"{source.name}: class {minor_code}"
            minor_deadlines = _deadlines(minor.get("deadline_hours"), deadlines, where_minor)
            out.append(
                Category(
                    minor_code,
                    kind,
                    str(minor["name"]),
                    str(minor.get("name_en") or minor["name"]),
                    code,
                    str(major["name"]),
                    minor_deadlines,
                    _attributes(minor.get("attributes"), where_minor),
                    _response_hours(minor.get("response_hours"), response, minor_deadlines, where_minor),
                )
            )
    codes = [c.code for c in out]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise ValueError(f"{source}: codes used twice: {', '.join(duplicates)}")
    return out


@lru_cache(maxsize=8)
def load_classification(path: Path | None = None) -> Classification:
    """The classification at ``path`` (bundled when None), read once per process."""
    return Classification.load(path)
