"""Answers of the incident routes (``/api/incidents``, ``/api/stats/incidents``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from geo_service.api.models.geojson import FeatureCollection


class Incident(BaseModel):
    """One incident as the dispatcher sees it (the reporter only for those allowed to see it)."""

    model_config = ConfigDict(extra="allow")

    id: int
    external_id: str | None
    status: str
    status_name: str = Field(description="the state in the reader's language")
    category: str
    description: str | None
    address: str | None
    lon: float = Field(description="WGS-84")
    lat: float
    grid_code: str | None
    owner_level: str | None
    owner_code: str | None
    near_boundary: bool
    overdue: bool


class NewIncident(Incident):
    """``created``: false when an incident with the same ``external_id`` existed (answered 200)."""

    created: bool
    notes: list[str]
    note_codes: list[str]


class IncidentCollection(FeatureCollection):
    """The queue, newest first."""

    numberReturned: int


class IncidentHistory(BaseModel):
    id: int
    history: list[dict[str, Any]] = Field(description="oldest first: the state changes and assignments")


class Category(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str
    kind: str
    name: str
    name_en: str
    major_code: str
    major_name: str
    deadline_hours: dict[str, float] = Field(description="hours to close, per owner level")


class IncidentCategories(BaseModel):
    levels: list[str]
    categories: list[Category]


class ImportReport(BaseModel):
    """What a CSV import did (the errors listed are at most the first ones; ``error_count`` counts all)."""

    created: int
    existing: int
    errors: list[dict[str, Any]]
    error_count: int
    rows: list[dict[str, Any]]
    encoding: str
    atomic: bool


class IncidentStats(BaseModel):
    model_config = ConfigDict(extra="allow")

    level: str
    since: str | None = Field(description="start of the period (null: since the beginning)")
    as_of: str
    areas: list[dict[str, Any]]
    totals: dict[str, Any]
