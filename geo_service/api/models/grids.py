"""Answers of the areas and grids routes (``/api/grids``, ``/api/areas``). A write, an import, a dry run, the
planning numbers and a proposal are the service's typed dicts (:mod:`geo_service.grids.service`,
:mod:`geo_service.grids.propose`), named here for ``/openapi.json``; an area's properties are a model, as they
keep whatever members the planner added."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from geo_service.api.models.geojson import Feature, FeatureCollection
from geo_service.api.models.typed import extending
from geo_service.grids import propose
from geo_service.grids import service as grids
from geo_service.grids.propose import ProposalProperties
from geo_service.grids.service import AreaStats as AreaStats
from geo_service.grids.service import ImportResult as ImportResult
from geo_service.grids.service import ValidationResult as ValidationResult


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


class ProposalFeature(Feature):
    properties: ProposalProperties  # type: ignore[assignment]


WrittenArea = extending(grids.WrittenArea, BaseModel, __name__, feature=AreaFeature)
Proposal = extending(propose.Proposal, FeatureCollection, __name__, features=list[ProposalFeature])
