"""Intake: a 12345 ticket or grid report becomes an incident assigned to a grid (or 属地兜底 to an area).

Located by coordinates (``lon``/``lat`` in ``crs``) or, without them, by the caller's ``address`` through the
geocoder: the best candidate is used when it is clear, and the incident says which one it was; otherwise 422
with the candidates. The same ``external_id`` (the ticket number) twice gives back the first incident, also
when the two posts race (the unique constraint decides, ``ON CONFLICT DO NOTHING``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from geo_service.coords import normalise_crs
from geo_service.errors import InvalidInput
from geo_service.geocode.service import best_match
from geo_service.incidents import records
from geo_service.incidents.assignment import Assignment, assign
from geo_service.incidents.categories import Category
from geo_service.incidents.context import IncidentContext
from geo_service.store import audit
from geo_service.store import incidents as store

MAX_DESCRIPTION_CHARS = 4000  # Open311's limit, and plenty for a hotline note
SOURCES = ("api", "import", "open311", "demo")


@dataclass(frozen=True)
class IncidentInput:
    """What a caller reports. Either ``lon``/``lat`` (degrees in ``crs``) or an ``address``."""

    category: str
    description: str | None = None
    lon: float | None = None
    lat: float | None = None
    crs: str | None = "wgs84"
    address: str | None = None
    external_id: str | None = None
    reporter: dict[str, Any] = field(default_factory=dict)
    media_url: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IntakeResult:
    incident: dict[str, Any]
    created: bool
    notes: list[str]


def check_input(data: IncidentInput) -> None:
    """Shape checks that do not need the database (raises :class:`InvalidInput`)."""
    if (data.lon is None) != (data.lat is None):
        raise InvalidInput("give both lon and lat, or neither (then an address)")
    if data.lon is None and not (data.address or "").strip():
        raise InvalidInput("an incident needs a location: lon and lat, or an address")
    if data.description is not None and len(data.description) > MAX_DESCRIPTION_CHARS:
        raise InvalidInput(f"description is longer than {MAX_DESCRIPTION_CHARS} characters")
    if data.external_id is not None and not data.external_id.strip():
        raise InvalidInput("external_id must not be blank")


def clean_reporter(reporter: dict[str, Any]) -> dict[str, Any]:
    """The caller's contact fields that carry a value."""
    return {k: v for k, v in reporter.items() if v not in (None, "")}


def input_crs(data: IncidentInput) -> str:
    """The canonical CRS the input's coordinates are in (``wgs84`` for an address-only intake)."""
    return normalise_crs(data.crs) if data.lon is not None else "wgs84"


def new_row(data: IncidentInput, category: Category, where: Assignment, *, now: datetime, actor: str,
            source: str, geocode: dict[str, Any] | None) -> dict[str, Any]:  # fmt: skip
    """The incident row for a new intake (columns of :data:`geo_service.store.incidents.INSERT_COLUMNS`)."""
    return {
        "external_id": data.external_id.strip() if data.external_id else None,
        "category": category.code,
        "description": data.description,
        "address": data.address,
        "reporter": clean_reporter(data.reporter),
        "status": "reported",
        "crs": input_crs(data),
        "input_lon": data.lon,
        "input_lat": data.lat,
        "created_at": now,
        "updated_at": now,
        "due_at": now + category.deadline(where.owner_level),
        "source": source,
        "created_by": actor,
        "media_url": data.media_url,
        "attributes": data.attributes,
        "geocode": geocode,
        **where.columns(),
    }


def locate_input(
    ctx: IncidentContext, data: IncidentInput
) -> tuple[Assignment, dict[str, Any] | None, list[str]]:
    """The assignment for the input's coordinates, or for its address through the geocoder.

    Returns the assignment, the geocoding record (None for coordinates) and notes for the dispatcher.
    """
    near_m = ctx.settings.near_boundary_m
    if data.lon is not None and data.lat is not None:
        where = assign(ctx.db, data.lon, data.lat, data.crs, near_m)
        return where, None, list(where.notes)
    match = best_match(ctx.db, data.address or "", ctx.settings.geocode_min_score, ctx.settings.geocode_margin,
                       ctx.settings.geocode_same_place_m)  # fmt: skip
    where = assign(ctx.db, match.candidate.lon, match.candidate.lat, "wgs84", near_m)
    found = match.candidate
    note = (
        f"located by address: {data.address!r} matched {found.name!r} ({found.kind}, score {found.score:.2f}) "
        f"at {found.lon:.6f}, {found.lat:.6f}"
    )
    if found.kind in ("street", "grid", "community", "district"):
        note += "; that is a whole street or area, so the point is approximate: please check it"
    return where, match.as_dict(), [note, *where.notes]


def create_incident(
    ctx: IncidentContext, data: IncidentInput, actor: str, role: str, source: str = "api"
) -> IntakeResult:
    """Create an incident, or return the one already filed under ``data.external_id``.

    Raises
    ------
    InvalidInput
        Unknown category, no or bad location, outside every area, an unclear address (with candidates).
    """
    check_input(data)
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    if data.external_id:
        with ctx.db.cursor() as cur:
            existing = store.find_by_external_id(cur, data.external_id.strip())
        if existing is not None:
            return IntakeResult(existing, False, [f"external_id {data.external_id!r} was filed before"])
    category = ctx.classification.resolve(data.category)
    where, geocode, notes = locate_input(ctx, data)
    now = ctx.now()
    row = new_row(data, category, where, now=now, actor=actor, source=source, geocode=geocode)
    with ctx.db.cursor() as cur:
        new_id = store.insert_incident(cur, row, where.lon, where.lat)
        if new_id is None:  # a concurrent post of the same ticket won
            existing = store.find_by_external_id(cur, row["external_id"])
            return IntakeResult(existing, False, [f"external_id {data.external_id!r} was filed before"])
        store.add_history(
            cur, new_id, at=now, actor=actor, action="created", to_status="reported",
            detail={"source": source, "owner_level": where.owner_level, "owner_code": where.owner_code,
                    "grid_code": where.grid_code, "grid_version": where.grid_version,
                    "near_boundary": where.near_boundary, "notes": notes},
        )  # fmt: skip
        audit.record(cur, actor=actor, role=role, action="create", entity="incident", entity_id=new_id,
                     detail={"external_id": row["external_id"], "owner_code": where.owner_code})  # fmt: skip
        created = store.get_incident(cur, new_id)
    return IntakeResult(created, True, notes)


def present_result(ctx: IncidentContext, result: IntakeResult) -> dict[str, Any]:
    """The POST answer: the incident, whether it was created now, and notes for the dispatcher."""
    return {**records.present(ctx, result.incident), "created": result.created, "notes": result.notes}
