"""Answers of the 12345 loop routes: duplicates and merging (并案), callbacks (回访), photos, the rates, and the
inspections of rest stations (常态化巡查)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from geo_service.incidents.callback import Callback as Callback
from geo_service.incidents.callback import FeedbackResult as FeedbackResult
from geo_service.incidents.duplicates import DuplicateCandidate
from geo_service.media.service import NewPhoto as NewPhoto
from geo_service.media.service import Photo


class Duplicates(BaseModel):
    """Nearest first: the dispatcher's merge suggestions."""

    id: int
    duplicates: list[DuplicateCandidate]
    walk_m: float = Field(description="the walking distance a duplicate is looked for within")
    window_h: float = Field(description="hours either side of the incident's filing")


class Callbacks(BaseModel):
    id: int
    callbacks: list[Callback] = Field(description="oldest first")


class Photos(BaseModel):
    id: int
    media: list[Photo] = Field(description="oldest first")


class SettledAt(BaseModel):
    """Cases resolved now, by the level that owned them when last resolved."""

    grid: int
    community: int
    street: int
    district: int


class RateCounts(BaseModel):
    incidents: int
    cases: int
    rejected: int
    response_due: int
    responded_in_time: int
    resolved: int
    on_time_due: int
    on_time: int
    satisfied: int
    basically_satisfied: int
    unsatisfied: int
    unreached: int
    failed: int


class RateFeedback(BaseModel):
    satisfied: int
    basically_satisfied: int
    unsatisfied: int
    unreached_calls: int
    failed_callbacks: int


class RateNumbers(BaseModel):
    """Rates to 4 places, null when their denominator is 0."""

    response_rate: float | None = Field(description="响应率")
    resolution_rate: float | None = Field(description="解决率")
    satisfaction_rate: float | None = Field(description="满意率")
    on_time_rate: float | None = Field(description="按时办结率")
    settled_at: SettledAt
    counts: RateCounts
    feedback: RateFeedback


class AreaRates(RateNumbers):
    level: str
    code: str
    name: str | None


class Rates(BaseModel):
    """The rates per area of ``level`` for incidents filed in [since, until) (times in the service's zone)."""

    level: str
    code: str | None = Field(description="the one area asked for (null: every area)")
    since: str | None
    until: str | None
    as_of: str | None
    areas: list[AreaRates]
    totals: RateNumbers


class OverdueStation(BaseModel):
    station_id: int
    name: str
    kind: str
    lon: float = Field(description="WGS-84")
    lat: float
    last_inspection_at: str | None = Field(description="ISO 8601; null: never inspected")
    due_at: str | None
    days_overdue: float | None
    last_ok: bool | None


class OverdueInspections(BaseModel):
    """Stations not inspected for ``interval_days`` (or never), most overdue first."""

    as_of: str
    interval_days: float
    stations: list[OverdueStation]


class Inspection(BaseModel):
    """A visit to a station in full, as inspectors of it see it."""

    id: int
    station_id: int
    at: str = Field(description="ISO 8601")
    open_as_published: bool
    missing: list[str] = Field(description="published amenities not found")
    ok: bool = Field(description="open as published and nothing missing")
    inspector: str | None
    role: str | None
    notes: str | None
    amenities: dict[str, bool] = Field(description="each published amenity → found")
    lon: float | None = Field(description="where the inspector stood, WGS-84")
    lat: float | None
    photos: int


class Inspections(BaseModel):
    station_id: int
    inspections: list[Inspection] = Field(description="newest first")
