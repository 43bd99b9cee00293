"""Siting request and answer types. Coordinates are WGS-84 longitude/latitude degrees (GeoJSON order).

The request is a pydantic model, so the HTTP layer and Python callers share one set of checks: a wrong
type, NaN or out-of-range coordinates, a negative ``k`` or weight, an unknown method all fail here with the
field named. Limits that come from settings (how many points, how long a walk) and checks that need the
resolved inputs (``k`` against the number of candidates) are in :mod:`geo_service.siting.service`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NotRequired, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict  # pydantic documents the answer on Python 3.11

from geo_service.coords import lonlat_message

SiteId = str | int
# Strict: JSON true is not 1, "5" is not 5 and 1.5 is not an integer (a lax parser would read them so).
_STRICT = ConfigDict(strict=True)


class _Point(BaseModel):
    model_config = _STRICT

    lon: float = Field(allow_inf_nan=False, description="longitude, degrees (WGS-84)")
    lat: float = Field(allow_inf_nan=False, description="latitude, degrees (WGS-84)")

    @model_validator(mode="after")
    def _in_range(self) -> _Point:
        problem = lonlat_message(self.lon, self.lat)
        if problem is not None:
            # the validation problem's type names the catalogue entry validation.<type>
            raise PydanticCustomError(
                problem.code.removeprefix("input."), problem.render("en"), dict(problem.params)
            )
        return self


class SiteIn(_Point):
    """A candidate or fixed site: an id of the caller's choosing (echoed back) and a position."""

    id: SiteId
    name: str | None = None


class DemandIn(_Point):
    """A demand point: where people live, with how many (households, residents: any non-negative unit)."""

    weight: float = Field(default=1.0, ge=0, allow_inf_nan=False)


class SitingRequest(BaseModel):
    """``POST /api/siting``. Omitted ``candidates`` / ``demand`` / ``fixed`` come from the database
    (facilities of the candidate categories, residences weighted by households, rest stations); an empty
    ``fixed`` list means "no existing sites"."""

    model_config = ConfigDict(
        strict=True,
        json_schema_extra={
            "example": {
                "k": 2,
                "minutes": 5,
                "method": "mclp",
                "candidates": [
                    {"id": "a", "lon": 24.9410, "lat": 60.1690},
                    {"id": "b", "lon": 24.9480, "lat": 60.1720},
                    {"id": "c", "lon": 24.9440, "lat": 60.1660},
                ],
                "demand": [
                    {"lon": 24.9420, "lat": 60.1700, "weight": 120},
                    {"lon": 24.9500, "lat": 60.1730, "weight": 80},
                ],
                "fixed": [],
            }
        },
    )

    k: int | None = Field(
        default=None, ge=0, description="new sites to open (mclp, p-median: at most k; lscp: not used)"
    )
    minutes: float = Field(
        gt=0, allow_inf_nan=False, description="walking-time cutoff of a catchment, minutes"
    )
    speed_kmh: float = Field(default=4.5, gt=0, le=30, allow_inf_nan=False, description="walking speed, km/h")
    method: Literal["mclp", "lscp", "p-median"]
    candidates: list[SiteIn] | None = None
    demand: list[DemandIn] | None = None
    fixed: list[SiteIn] | None = None
    time_limit_s: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="wall-clock limit of the whole request, seconds (inputs, walking catchments and solver; "
        "default from settings): past it the best answer so far comes back with optimal false and its gap, "
        "or 503 siting.time_limit when the catchments are not measured yet",
    )

    @model_validator(mode="after")
    def _k_when_needed(self) -> SitingRequest:
        if self.k is None and self.method != "lscp":
            raise PydanticCustomError(
                "siting_k_required",
                "k is required for method '{method}' (the number of new sites to open)",
                {"method": self.method},
            )
        return self


@dataclass(frozen=True)
class Site:
    """A candidate or fixed site as the solver sees it: position in WGS-84 degrees."""

    id: SiteId
    lon: float
    lat: float
    name: str | None = None
    category: str | None = None  # the facility category or station kind of a default site


class ChosenSite(TypedDict):
    id: SiteId
    lon: float
    lat: float
    name: NotRequired[Annotated[str, Field(description="only for a default candidate with a name")]]
    category: NotRequired[Annotated[str, Field(description="only for a default candidate")]]
    catchment_weight: float
    new_weight: Annotated[float, Field(description="the part of the catchment no fixed site covers")]


class SitingAnswer(TypedDict):
    """New sites and what they cover; weights in the demand's unit (households for the defaults)."""

    chosen: list[SiteId]
    covered_weight: float
    total_weight: float
    covered_weight_before: float
    optimal: bool
    gap: Annotated[float | None, Field(description="relative MIP gap")]
    method: str
    k: int | None
    minutes: float
    speed_kmh: float
    chosen_sites: list[ChosenSite]
    uncoverable_weight: float
    objective: float
    walk_seconds_mean: float | None
    status: str
    sources: dict[str, str]
    counts: dict[str, int]
    excluded_candidates: list[SiteId]
    unsnapped: dict[str, int]
    model: dict[str, int]
    timings_s: dict[str, float]


@dataclass(frozen=True)
class Choice:
    """A proposed new site, with the weight within its catchment and the part no fixed site covers."""

    site: Site
    catchment_weight: float
    new_weight: float

    def as_dict(self) -> ChosenSite:
        # members in the order they have always been sent: name and category only when known
        out: dict[str, Any] = {"id": self.site.id, "lon": self.site.lon, "lat": self.site.lat}
        if self.site.name is not None:
            out["name"] = self.site.name
        if self.site.category is not None:
            out["category"] = self.site.category
        out["catchment_weight"] = round(self.catchment_weight, 6)
        out["new_weight"] = round(self.new_weight, 6)
        return cast(ChosenSite, out)


@dataclass(frozen=True)
class SitingResult:
    """The answer. Weights are in the demand's unit (households for the defaults); times in seconds.

    ``covered_weight``: demand within the cutoff of a fixed or chosen site; ``covered_weight_before``: of a
    fixed site; ``uncoverable_weight``: of no site at all (no choice could cover it; includes demand off
    the walking network). ``objective``: the method's objective (mclp: covered weight; lscp: new sites;
    p-median: Σ weight × walk seconds, unserved demand at the penalty). ``gap``: relative MIP gap.
    """

    method: str
    k: int | None
    minutes: float
    speed_kmh: float
    chosen: list[Choice]
    covered_weight: float
    total_weight: float
    covered_weight_before: float
    uncoverable_weight: float
    optimal: bool
    gap: float | None
    objective: float
    walk_seconds_mean: float | None
    status: str
    sources: dict[str, str]
    counts: dict[str, int]
    excluded_candidates: list[SiteId]
    unsnapped: dict[str, int]
    model: dict[str, int] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> SitingAnswer:
        return {
            "chosen": [c.site.id for c in self.chosen],
            "covered_weight": round(self.covered_weight, 6),
            "total_weight": round(self.total_weight, 6),
            "covered_weight_before": round(self.covered_weight_before, 6),
            "optimal": self.optimal,
            "gap": None if self.gap is None else round(self.gap, 9),
            "method": self.method,
            "k": self.k,
            "minutes": self.minutes,
            "speed_kmh": self.speed_kmh,
            "chosen_sites": [c.as_dict() for c in self.chosen],
            "uncoverable_weight": round(self.uncoverable_weight, 6),
            "objective": round(self.objective, 6),
            "walk_seconds_mean": None if self.walk_seconds_mean is None else round(self.walk_seconds_mean, 3),
            "status": self.status,
            "sources": self.sources,
            "counts": self.counts,
            "excluded_candidates": self.excluded_candidates,
            "unsnapped": self.unsnapped,
            "model": self.model,
            "timings_s": {name: round(value, 4) for name, value in self.timings_s.items()},
        }
