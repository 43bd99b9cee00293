"""Incident rows → the JSON the API returns (one shape for POST, GET one, and list properties)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, NotRequired, cast

from pydantic import Field
from typing_extensions import TypedDict

from geo_service.geocode.service import GeocodeMatch
from geo_service.geojson import Feature, FeatureCollection
from geo_service.i18n import Message, message
from geo_service.incidents import notes
from geo_service.incidents.context import IncidentContext
from geo_service.incidents.states import ACTIVE, AWAITING_CALLBACK, state_name
from geo_service.store.areas import AreaRef
from geo_service.store.incidents import Contact, HistoryRow, IncidentRow


class Incident(TypedDict):
    """One incident as the dispatcher sees it (the reporter only for those allowed to see it); times ISO 8601
    in the service's zone."""

    id: int
    external_id: str | None
    status: str
    status_name: Annotated[Message, Field(description="the state in the reader's language")]
    category: str
    category_name: str | None
    category_name_en: str | None
    category_kind: str | None
    description: str | None
    address: str | None
    lon: Annotated[float, Field(description="WGS-84")]
    lat: float
    crs: str
    input_lon: float | None
    input_lat: float | None
    grid_code: str | None
    grid_version: int | None
    owner_level: str | None
    owner_code: str | None
    areas: Annotated[list[AreaRef], Field(description="the areas it was assigned in, grid first")]
    near_boundary: bool
    distance_to_boundary_m: float | None
    assignment_confirmed: bool
    overdue: bool
    escalations: int
    source: str
    geocode: GeocodeMatch | None
    media_url: str | None
    attributes: dict[str, Any]  # the category's own attributes: open by design
    client_id: str | None
    accuracy_m: float | None
    merged_into: Annotated[int | None, Field(description="the case this one was merged into (并案)")]
    duplicates_merged: Annotated[list[int], Field(description="the cases merged into this one")]
    awaiting_callback: bool
    callback_attempts: int
    reopened: int
    missed_deadline: bool
    settled_level: str | None
    created_at: str | None
    updated_at: str | None
    due_at: str | None
    closed_at: str | None
    merged_at: str | None
    responded_at: str | None
    resolved_at: str | None
    reporter: NotRequired[Contact]


class HistoryEntry(TypedDict):
    """One step of an incident: a state change, an assignment, a merge, a call ... (``at`` ISO 8601 in the
    service's zone; ``detail`` as the step recorded it, with a ``label`` in the reader's language)."""

    at: str | None
    actor: str | None
    action: str
    from_status: str | None
    to_status: str | None
    note: str | Message | None
    detail: dict[str, Any]  # as the step recorded it (audit detail): open by design


class IncidentHistory(TypedDict):
    id: int
    history: Annotated[
        list[HistoryEntry], Field(description="oldest first: the state changes and assignments")
    ]


def is_overdue(row: IncidentRow, now: datetime) -> bool:
    return row["status"] in ACTIVE and row["due_at"] is not None and row["due_at"] < now


def present(ctx: IncidentContext, row: IncidentRow, include_reporter: bool = True) -> Incident:
    """One incident. ``include_reporter``: the caller's contact details, for dispatchers only."""
    category = ctx.classification.get(row["category"])
    out: Incident = {
        "id": row["id"],
        "external_id": row["external_id"],
        "status": row["status"],
        "status_name": state_name(row["status"]),
        "category": row["category"],
        "category_name": category.name if category else None,
        "category_name_en": category.name_en if category else None,
        "category_kind": category.kind if category else None,
        "description": row["description"],
        "address": row["address"],
        "lon": round(row["lon"], 7),
        "lat": round(row["lat"], 7),
        "crs": row["crs"],
        "input_lon": row["input_lon"],
        "input_lat": row["input_lat"],
        "grid_code": row["grid_code"],
        "grid_version": row["grid_version"],
        "owner_level": row["owner_level"],
        "owner_code": row["owner_code"],
        "areas": row["area_snapshot"],
        "near_boundary": row["near_boundary"],
        "distance_to_boundary_m": row["distance_to_boundary_m"],
        "assignment_confirmed": row["assignment_confirmed_at"] is not None,
        "overdue": is_overdue(row, ctx.now()),
        "escalations": row["escalations"],
        "source": row["source"],
        "geocode": row["geocode"],
        "media_url": row["media_url"],
        "attributes": row["attributes"],
        "client_id": row["client_id"],
        "accuracy_m": row["accuracy_m"],
        # 并案: the case this one was merged into, and the duplicates merged into this one
        "merged_into": row["merged_into"],
        "duplicates_merged": list(row["followers"] or []),
        # 回访 and the milestones the rates count
        "awaiting_callback": row["status"] in AWAITING_CALLBACK,
        "callback_attempts": row["callback_attempts"],
        "reopened": row["reopened"],
        "missed_deadline": row["missed_deadline"],
        "settled_level": row["settled_level"],
        "created_at": ctx.local(row["created_at"]),
        "updated_at": ctx.local(row["updated_at"]),
        "due_at": ctx.local(row["due_at"]),
        "closed_at": ctx.local(row["closed_at"]),
        "merged_at": ctx.local(row["merged_at"]),
        "responded_at": ctx.local(row["responded_at"]),
        "resolved_at": ctx.local(row["resolved_at"]),
    }
    if include_reporter:
        out["reporter"] = row["reporter"]
    return out


def present_history(ctx: IncidentContext, rows: list[HistoryRow]) -> list[HistoryEntry]:
    """History entries; notes the system wrote (codes) come back as messages for the reader's language."""
    return [_history_entry(ctx, row) for row in rows]


def _history_entry(ctx: IncidentContext, row: HistoryRow) -> HistoryEntry:
    detail = dict(row["detail"] or {})
    note = row["note"]
    if not note and detail.get("note") is not None:
        note = notes.readable(detail["note"])
    if "notes" in detail:
        detail["notes"] = notes.readable(detail["notes"])
    if "action" in detail:
        detail["label"] = message(f"incident.action.{detail['action']}")
    return {**row, "at": ctx.local(row["at"]), "note": note, "detail": detail}


def feature(ctx: IncidentContext, row: IncidentRow, include_reporter: bool) -> Feature:
    """The incident as a GeoJSON Point Feature (for lists and maps)."""
    props = present(ctx, row, include_reporter)
    return {
        "type": "Feature",
        "id": row["id"],
        "geometry": {"type": "Point", "coordinates": [props["lon"], props["lat"]]},
        "properties": cast(dict[str, Any], props),  # a GeoJSON feature's properties are any members
    }


class IncidentCollection(FeatureCollection):
    """The queue, newest first."""

    numberReturned: int


def collection(ctx: IncidentContext, rows: list[IncidentRow], include_reporter: bool) -> IncidentCollection:
    """A page of the queue as a FeatureCollection (``numberReturned`` as in OGC API Features)."""
    return {
        "type": "FeatureCollection",
        "numberReturned": len(rows),
        "features": [feature(ctx, row, include_reporter) for row in rows],
    }
