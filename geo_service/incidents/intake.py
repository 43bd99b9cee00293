"""Intake: a 12345 ticket or grid report becomes an incident assigned to a grid (or 属地兜底 to an area).

Located by coordinates (``lon``/``lat`` in ``crs``) or, without them, by the caller's ``address`` through the
geocoder: the best candidate is used only when it is a house number, building or POI, confident and without a
rival elsewhere, and the incident says which one it was; otherwise 409 with the candidates, and nothing is
written (:func:`geo_service.geocode.service.decide`). The same ``external_id`` (the ticket number) twice gives back the first incident, also
when the two posts race (the unique constraint decides, ``ON CONFLICT DO NOTHING``); so does the same
``client_id`` (a phone's own id for a report it queued offline) from the same sender.

Sources: ``hotline`` (a dispatcher's 12345 ticket), ``patrol`` (a grid worker's report, 网格发现: filed only in
the worker's own grids; a point in another grid is refused, naming it, so a worker's report never lands in a
neighbour's queue unseen), ``open311`` and ``import``. Every intake answers with the open cases it may
duplicate (:mod:`.duplicates`) for the dispatcher to merge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from geo_service.coords import normalise_crs
from geo_service.db.rows import DictCursor as Cursor
from geo_service.errors import Conflict, InvalidInput
from geo_service.geocode.service import GeocodeMatch, Match, best_match
from geo_service.i18n import Message, message
from geo_service.incidents import duplicates, records
from geo_service.incidents.assignment import Assignment, assign
from geo_service.incidents.categories import Category
from geo_service.incidents.context import IncidentContext
from geo_service.incidents.duplicates import Candidate, DuplicateCandidate, find_candidates
from geo_service.incidents.notes import stored
from geo_service.media.images import CleanImage
from geo_service.store import audit
from geo_service.store import incidents as store
from geo_service.store import media as media_store
from geo_service.store.incidents import Contact, IncidentRow, NewIncidentRow

MAX_DESCRIPTION_CHARS = 4000  # Open311's limit, and plenty for a hotline note
SOURCES = ("hotline", "patrol", "open311", "import")
MAX_ACCURACY_M = 10_000.0  # a phone's position worse than this is no position


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
    reporter: Contact = field(default_factory=lambda: Contact())
    media_url: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)  # the category's own: open by design
    client_id: str | None = None
    accuracy_m: float | None = None


@dataclass(frozen=True)
class IntakeResult:
    incident: IncidentRow
    created: bool
    notes: list[Message]
    duplicates: list[Candidate] = field(default_factory=list)


def check_input(data: IncidentInput) -> None:
    """Shape checks that do not need the database (raises :class:`InvalidInput`)."""
    if (data.lon is None) != (data.lat is None):
        raise InvalidInput("incident.lonlat_pair")
    if data.lon is None and not (data.address or "").strip():
        raise InvalidInput("incident.location_required")
    if data.description is not None and len(data.description) > MAX_DESCRIPTION_CHARS:
        raise InvalidInput("incident.description_too_long", max_chars=MAX_DESCRIPTION_CHARS)
    if data.external_id is not None and not data.external_id.strip():
        raise InvalidInput("incident.external_id_blank")
    if data.client_id is not None and not data.client_id.strip():
        raise InvalidInput("loop.client_id_blank")
    if data.accuracy_m is not None and not 0 <= data.accuracy_m <= MAX_ACCURACY_M:
        raise InvalidInput("loop.bad_accuracy", accuracy_m=data.accuracy_m, max_m=f"{MAX_ACCURACY_M:g}")


def clean_reporter(reporter: Contact) -> Contact:
    """The caller's contact fields that carry a value."""
    return cast(Contact, {k: v for k, v in reporter.items() if v not in (None, "")})


def input_crs(data: IncidentInput) -> str:
    """The canonical CRS the input's coordinates are in (``wgs84`` for an address-only intake)."""
    return normalise_crs(data.crs) if data.lon is not None else "wgs84"


def new_row(
    data: IncidentInput,
    category: Category,
    where: Assignment,
    *,
    now: datetime,
    actor: str,
    source: str,
    geocode: GeocodeMatch | None,
) -> NewIncidentRow:
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
        "client_id": data.client_id.strip() if data.client_id else None,
        "accuracy_m": data.accuracy_m,
        **where.columns(),
    }


def geocode_address(ctx: IncidentContext, address: str) -> Match:
    """The one place an address alone may put an incident (raises 409 ``Conflict`` with candidates)."""
    settings = ctx.settings
    return best_match(
        ctx.db, address, settings.geocode_min_score, settings.geocode_margin, settings.geocode_same_place_m
    )


def located_note(address: str, match: Match) -> Message:
    """What the dispatcher is told about an address-only intake: what the address matched, how exactly."""
    found = match.candidate
    return message(
        "incident.note.located_by_address",
        address=address,
        name=found.name,
        precision=message(f"geocode.precision.{found.precision}"),
        score=f"{found.score:.2f}",
        lon=f"{found.lon:.6f}",
        lat=f"{found.lat:.6f}",
    )


def locate_input(
    ctx: IncidentContext, data: IncidentInput
) -> tuple[Assignment, GeocodeMatch | None, list[Message]]:
    """The assignment for the input's coordinates, or for its address through the geocoder.

    Returns the assignment, the geocoding record (None for coordinates) and notes for the dispatcher.
    """
    near_m = ctx.settings.near_boundary_m
    if data.lon is not None and data.lat is not None:
        where = assign(ctx.db, data.lon, data.lat, data.crs, near_m)
        return where, None, list(where.notes)
    match = geocode_address(ctx, data.address or "")
    where = assign(ctx.db, match.candidate.lon, match.candidate.lat, "wgs84", near_m)
    return where, match.as_dict(), [located_note(data.address or "", match), *where.notes]


def create_incident(
    ctx: IncidentContext,
    data: IncidentInput,
    actor: str,
    role: str,
    source: str = "hotline",
    *,
    patrol_grids: Sequence[str] | None = None,
    photos: Sequence[CleanImage] = (),
) -> IntakeResult:
    """Create an incident, or return the one already filed under ``data.external_id`` (or, from the same
    ``actor``, ``data.client_id``). ``patrol_grids``: a grid worker's grids, the only ones the report may land
    in. ``photos`` (checked and cleaned already) are stored with it, in the same transaction.

    Raises
    ------
    InvalidInput
        Unknown category, no or bad location, outside every area, outside the worker's grids, an unclear
        address (with candidates).
    Conflict
        ``client_id`` already names another sender's report.
    """
    check_input(data)
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    with ctx.db.cursor() as cur:
        existing = _existing(cur, data, actor)
    if existing is not None:
        return existing
    category = ctx.classification.resolve(data.category)
    where, geocode, notes = locate_input(ctx, data)
    if patrol_grids is not None and where.grid_code not in patrol_grids:
        raise InvalidInput(
            "loop.patrol_outside_grids",
            grid=where.grid_code or "—",
            grids=list(patrol_grids),
            lon=f"{where.lon:.6f}",
            lat=f"{where.lat:.6f}",
        )
    now = ctx.now()
    duplicates = find_candidates(ctx, lon=where.lon, lat=where.lat, category=category, at=now)
    row = new_row(data, category, where, now=now, actor=actor, source=source, geocode=geocode)
    with ctx.db.cursor() as cur:
        new_id = store.insert_incident(cur, row, where.lon, where.lat)
        if new_id is None:  # a concurrent post of the same ticket (or the same queued report) won
            again = _existing(cur, data, actor)
            if again is None:
                raise Conflict("loop.client_id_taken")
            return again
        store.add_history(
            cur,
            new_id,
            at=now,
            actor=actor,
            action="created",
            to_status="reported",
            detail={
                "source": source,
                "owner_level": where.owner_level,
                "owner_code": where.owner_code,
                "grid_code": where.grid_code,
                "grid_version": where.grid_version,
                "near_boundary": where.near_boundary,
                "notes": [stored(n) for n in notes],
                "duplicates": [c.id for c in duplicates],
                "accuracy_m": data.accuracy_m,
            },
        )
        for photo in photos:
            media_store.insert(cur, photo, incident_id=new_id, stage="report", at=now, actor=actor)
        audit.record(
            cur,
            actor=actor,
            role=role,
            action="create",
            entity="incident",
            entity_id=new_id,
            detail={
                "external_id": row["external_id"],
                "owner_code": where.owner_code,
                "source": source,
                "photos": len(photos),
            },
        )
        created = store.get_incident(cur, new_id)
        assert created is not None  # inserted just now, in this transaction
    return IntakeResult(created, True, notes, duplicates)


def _existing(cur: Cursor, data: IncidentInput, actor: str) -> IntakeResult | None:
    """The incident filed before under this ticket number or (from ``actor``) this client id, if any."""
    if data.external_id:
        found = store.find_by_external_id(cur, data.external_id.strip())
        if found is not None:
            return IntakeResult(found, False, [_filed_before(data.external_id)])
    if data.client_id:
        found = store.find_by_client_id(cur, data.client_id.strip())
        if found is not None:
            if found["created_by"] != actor:
                raise Conflict("loop.client_id_taken")
            return IntakeResult(found, False, [message("loop.note.sent_before", id=found["id"])])
    return None


def _filed_before(external_id: str) -> Message:
    return message("incident.note.filed_before", external_id=external_id)


class NewIncident(records.Incident):
    """``created``: false when an incident with the same ``external_id`` existed (answered 200)."""

    created: bool
    notes: list[Message]
    note_codes: list[str]
    duplicates: list[DuplicateCandidate]


def present_result(ctx: IncidentContext, result: IntakeResult, include_reporter: bool = True) -> NewIncident:
    """The POST answer: the incident, whether it was created now, and notes for the dispatcher (messages,
    with their codes in ``note_codes``)."""
    return {
        **records.present(ctx, result.incident, include_reporter),
        "created": result.created,
        "notes": result.notes,
        "note_codes": [n.code for n in result.notes],
        "duplicates": duplicates.present(ctx, result.duplicates),
    }
