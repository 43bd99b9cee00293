"""Answers of the incident routes (``/api/incidents``, ``/api/stats/incidents``). An incident, a new one and the
queue are the service's typed dicts (:mod:`geo_service.incidents.records`, :mod:`geo_service.incidents.intake`),
named here for ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from geo_service.api.models.geojson import FeatureCollection
from geo_service.api.models.typed import extending
from geo_service.incidents import records
from geo_service.incidents.intake import NewIncident as NewIncident
from geo_service.incidents.records import HistoryEntry
from geo_service.incidents.records import Incident as Incident

IncidentCollection = extending(records.IncidentCollection, FeatureCollection, __name__)


class IncidentHistory(BaseModel):
    id: int
    history: list[HistoryEntry] = Field(description="oldest first: the state changes and assignments")


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
