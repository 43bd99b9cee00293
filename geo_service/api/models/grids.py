"""Answers of the areas and grids routes (``/api/grids``, ``/api/areas``). A write, an import, a dry run, the
planning numbers and a proposal are the service's typed dicts (:mod:`geo_service.grids.service`,
:mod:`geo_service.grids.propose`), named here for ``/openapi.json``; an area's properties are a model, as they
keep whatever members the planner added."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from geo_service.api.models.geojson import Feature, FeatureCollection, FeatureInput
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
    # each worker's members are the planner's (name, phone, ...): open by design
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


class GridInputProperties(BaseModel):
    """The properties of an area as a planner sends them. Any other member is the planner's own and is kept
    as sent (this object is open on purpose); members only the service writes (``valid_from``, ``change``
    ...) are ignored."""

    model_config = ConfigDict(extra="allow")  # the planner's own properties: open by design

    code: str | int | None = Field(
        default=None,
        description="[A-Za-z0-9_.-]{1,64}; may be left out with auto_number (and on PUT: the path's)",
    )
    name: str | None = None
    level: str | None = Field(
        default=None, description="district, street, community or grid (any case; default: grid)"
    )
    parent_code: str | int | None = None
    households: int | str | None = Field(
        default=None, description="a whole number, 0 or more (numeric text is read as one)"
    )
    population: int | str | None = Field(
        default=None, description="a whole number, 0 or more (numeric text is read as one)"
    )
    # each worker's members are the planner's (name, phone, ...): open by design
    workers: list[dict[str, Any]] | str | None = Field(
        default=None,
        description="grid workers: name, phone, ... (or that list as JSON text, as files carry it)",
    )
    version: int | str | None = Field(
        default=None, description="the version you read (412 when it is no longer the current one)"
    )


class GridFeatureInput(FeatureInput):
    """An area as a planner sends it: a GeoJSON Feature whose geometry is a Polygon or MultiPolygon."""

    properties: GridInputProperties | None = None  # type: ignore[assignment]


class NamedCrs(BaseModel):
    """The legacy GeoJSON ``crs`` member: ``{"type": "name", "properties": {"name": "EPSG:4547"}}``."""

    type: Literal["name"]
    properties: dict[Literal["name"], str]


class GridCollectionInput(BaseModel):
    """Areas as a planner sends them: a GeoJSON FeatureCollection (its ``crs`` member is read when the
    ``crs`` parameter is not given)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["FeatureCollection"]
    features: list[GridFeatureInput]
    crs: NamedCrs | None = None


class GridUpload(RootModel[GridCollectionInput | GridFeatureInput | list[GridFeatureInput]]):
    """Areas to import or check: a FeatureCollection, one Feature or a list of Features."""


WrittenArea = extending(grids.WrittenArea, BaseModel, __name__, feature=AreaFeature)
Proposal = extending(propose.Proposal, FeatureCollection, __name__, features=list[ProposalFeature])
