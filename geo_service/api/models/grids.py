"""Answers of the areas and grids routes (``/api/grids``, ``/api/areas``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from geo_service.api.models.geojson import Feature, FeatureCollection


class AreaProperties(BaseModel):
    """One version of an area. Properties the planner added besides these are kept and sent as they are."""

    model_config = ConfigDict(extra="allow")

    code: str
    name: str | None
    level: Literal["district", "street", "community", "grid"]
    parent_code: str | None
    households: int | None
    population: int | None
    workers: list[dict[str, Any]] = Field(description="grid workers: name, phone, ...")
    version: int = Field(description="the ETag of the area")
    valid_from: str | None = Field(description="ISO 8601, when this version started")
    valid_to: str | None = Field(description="ISO 8601, when this version was closed; null while current")
    changed_by: str | None
    change: str = Field(description="create, update, restore, merge ...")
    source: str | None
    closed_by: str | None = Field(default=None, description="only on a closed version")
    closed_change: str | None = Field(default=None, description="only on a closed version")


class AreaFeature(Feature):
    id: str
    properties: AreaProperties  # type: ignore[assignment]


class AreaCollection(FeatureCollection):
    features: list[AreaFeature]  # type: ignore[assignment]


class WrittenArea(BaseModel):
    """What a single-area write did (create, update, merge); ``feature`` is the stored version."""

    id: int
    code: str
    version: int
    change: str
    snapped_vertices: int = Field(description="vertices moved onto a neighbour's edge")
    feature: AreaFeature


class ImportResult(BaseModel):
    created: list[str]
    updated: list[str]
    restored: list[str]
    unchanged: list[str]
    snapped_vertices: int
    count: int = Field(description="areas written (created + updated + restored)")


class ValidationResult(BaseModel):
    """A clean dry run (problems answer 422)."""

    valid: Literal[True]
    problems: list[Any] = Field(max_length=0)


class ProposalProperties(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str
    name: str
    level: str
    parent_code: str
    households: int
    residences: int
    blocks: int
    area_m2: float
    in_band: bool = Field(description="households within the band asked for")


class ProposalFeature(Feature):
    properties: ProposalProperties  # type: ignore[assignment]


class Proposal(FeatureCollection):
    """Proposed grids to edit and import; nothing is written."""

    features: list[ProposalFeature]  # type: ignore[assignment]
    summary: dict[str, Any]


class AreaStats(BaseModel):
    """Planning numbers of one area."""

    code: str
    name: str | None
    level: str
    parent_code: str | None
    version: int
    area_km2: float
    households: int
    households_source: Literal["record", "residences"]
    residence_households: float
    population: int
    population_source: Literal["record", "estimated"]
    residences: int
    children: int
    staffing_norm_per_10k: float
    staffing_need: int
    workers: int
    staffing_gap: int
