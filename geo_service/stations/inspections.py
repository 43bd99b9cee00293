"""常态化巡查督导: regular visits to the rest stations, from a phone.

A visit checks the station against what it publishes: is it open as its opening hours say, and is each
amenity it lists there (hot water, microwave, charging …)? Notes and a photo go with it. Who records visits:
**grid workers** for the stations in their own grids (they walk past them on patrol) and **planners** (the
street or union staff who supervise the stations) for any station; admins too.

A station shows its last visit (``last_inspection``: when, open as published, what was missing; the notes and
photo only to those who may record visits), and the planner lists the stations whose last visit is older than
``GEO_SERVICE_STATIONS_INSPECTION_INTERVAL_DAYS`` (or that were never visited), most overdue first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import Field
from typing_extensions import TypedDict  # pydantic documents the answers on Python 3.11

from geo_service.auth import Principal
from geo_service.coords import normalise_crs, to_wgs84
from geo_service.db.pool import Database
from geo_service.errors import Conflict, Forbidden, InvalidInput, NotFound
from geo_service.i18n import message
from geo_service.locate.service import locate
from geo_service.media.images import CleanImage
from geo_service.stations.context import StationContext
from geo_service.store import audit
from geo_service.store import inspections as store
from geo_service.store import media as media_store
from geo_service.store import stations as station_store
from geo_service.store.inspections import InspectionRow
from geo_service.store.stations import StationRow

MAX_NOTES_CHARS = 2000
INSPECTOR_ROLES = ("planner", "worker")


class LastInspection(TypedDict):
    """A visit as everyone sees it (a station's ``last_inspection``): when, open as published, what was missing."""

    id: int
    station_id: int
    at: Annotated[str, Field(description="ISO 8601")]
    open_as_published: bool
    missing: Annotated[list[str], Field(description="published amenities not found")]
    ok: Annotated[bool, Field(description="open as published and nothing missing")]


class Inspection(LastInspection):
    """A visit to a station in full, as inspectors of it see it."""

    inspector: str | None
    role: str | None
    notes: str | None
    amenities: Annotated[dict[str, bool], Field(description="each published amenity → found")]
    lon: Annotated[float | None, Field(description="where the inspector stood, WGS-84")]
    lat: float | None
    photos: int


class OverdueStation(TypedDict):
    station_id: int
    name: str
    kind: str
    lon: Annotated[float, Field(description="WGS-84")]
    lat: float
    last_inspection_at: Annotated[str | None, Field(description="ISO 8601; null: never inspected")]
    due_at: str | None
    days_overdue: float | None
    last_ok: bool | None


class OverdueInspections(TypedDict):
    """Stations not inspected for ``interval_days`` (or never), most overdue first."""

    as_of: str
    interval_days: float
    stations: list[OverdueStation]


class Inspections(TypedDict):
    station_id: int
    inspections: Annotated[list[Inspection], Field(description="newest first")]


@dataclass(frozen=True)
class InspectionInput:
    """One visit: open as published?, each published amenity found or not, notes, where the inspector stood."""

    open_as_published: bool
    amenities: dict[str, bool] = field(default_factory=dict)
    notes: str | None = None
    lon: float | None = None
    lat: float | None = None
    crs: str | None = "wgs84"


def station_grid(db: Database, row: StationRow) -> str | None:
    """The grid a station stands in (None outside every grid)."""
    found = locate(db, float(row["lon"]), float(row["lat"]))
    return found.grid.code if found.grid is not None else None


def check_inspector(db: Database, principal: Principal, row: StationRow) -> None:
    """Planners (and admins) inspect any station; a grid worker the stations in their grids (403 otherwise)."""
    if principal.has_role("planner"):
        return
    if principal.role == "worker":
        if station_grid(db, row) in principal.grids:
            return
        raise Forbidden("inspection.not_your_grid", station_id=row["id"], grids=list(principal.grids))
    raise Forbidden(
        "inspection.role",
        role=message(f"role.{principal.role}"),
        allowed=[message(f"role.{r}") for r in ("admin", *INSPECTOR_ROLES)],
    )


def check_input(row: StationRow, data: InspectionInput) -> tuple[dict[str, bool], list[str]]:
    """Every published amenity answered, nothing else; notes not too long. Returns (answers in the station's
    order, missing amenities)."""
    published = list(row["amenities"] or [])
    unknown = sorted(set(data.amenities) - set(published))
    if unknown:
        raise InvalidInput("inspection.unknown_amenities", unknown=unknown, published=published or ["—"])
    unanswered = [a for a in published if a not in data.amenities]
    if unanswered:
        raise InvalidInput("inspection.unanswered_amenities", unanswered=unanswered)
    if any(not isinstance(v, bool) for v in data.amenities.values()):
        raise InvalidInput("inspection.amenity_not_boolean")
    if data.notes is not None and len(data.notes) > MAX_NOTES_CHARS:
        raise InvalidInput("inspection.notes_too_long", max_chars=MAX_NOTES_CHARS)
    if (data.lon is None) != (data.lat is None):
        raise InvalidInput("incident.lonlat_pair")
    answers = {a: data.amenities[a] for a in published}
    return answers, [a for a, present in answers.items() if not present]


def _where(data: InspectionInput) -> tuple[float | None, float | None]:
    if data.lon is None or data.lat is None:
        return None, None
    return to_wgs84(data.lon, data.lat, normalise_crs(data.crs))


def record(
    db: Database,
    ctx: StationContext,
    station_id: int,
    data: InspectionInput,
    principal: Principal,
    photo: CleanImage | None = None,
) -> Inspection:
    """Record a visit to station ``station_id`` (with an optional photo, checked and cleaned already).

    Raises
    ------
    NotFound, Forbidden, InvalidInput
        No such station; not an inspector of it; answers that do not match what the station publishes.
    """
    with db.cursor() as cur:
        row = station_store.get(cur, station_id)
    if row is None:
        raise NotFound("station.not_found", station_id=station_id)
    check_inspector(db, principal, row)
    answers, missing = check_input(row, data)
    lon, lat = _where(data)
    now = ctx.clock()
    with db.cursor() as cur:
        if station_store.get(cur, station_id, for_update=True) is None:
            raise Conflict("inspection.station_gone", station_id=station_id)
        inspection = store.insert(
            cur,
            station_id,
            at=now,
            inspector=principal.actor,
            role=principal.role,
            open_as_published=data.open_as_published,
            amenities=answers,
            missing=missing,
            notes=(data.notes or "").strip() or None,
            lon=lon,
            lat=lat,
        )
        if photo is not None:
            media_store.insert(
                cur, photo, inspection_id=inspection["id"], stage="inspection", at=now, actor=principal.actor
            )
        audit.record(
            cur,
            actor=principal.actor,
            role=principal.role,
            action="inspect",
            entity="station",
            entity_id=station_id,
            detail={
                "inspection_id": inspection["id"],
                "missing": missing,
                "open_as_published": data.open_as_published,
            },
        )
    return present(inspection, photos=1 if photo is not None else 0)


def shown(row: InspectionRow) -> LastInspection:
    """A visit as everyone sees it: when, open as published, the missing amenities, all well?"""
    return LastInspection(
        id=row["id"],
        station_id=row["station_id"],
        at=row["at"].isoformat(),
        open_as_published=row["open_as_published"],
        missing=list(row["missing"] or []),
        ok=bool(row["open_as_published"]) and not row["missing"],
    )


def present(row: InspectionRow, photos: int = 0) -> Inspection:
    """A visit in full, for inspectors: what :func:`shown` shows, who, the notes, each answer and the number
    of ``photos``."""
    return Inspection(
        **shown(row),
        inspector=row["inspector"],
        role=row["role"],
        notes=row["notes"],
        amenities=row["amenities"],
        lon=row["lon"],
        lat=row["lat"],
        photos=photos,
    )


def last_inspections(db: Database, station_ids: list[int]) -> dict[int, LastInspection]:
    """The public form of each station's last visit (stations never visited are absent)."""
    if not station_ids:
        return {}
    with db.cursor() as cur:
        rows = store.last(cur, station_ids)
    return {int(r["station_id"]): shown(r) for r in rows}


def history(db: Database, station_id: int, principal: Principal) -> list[Inspection]:
    """Every visit to a station, newest first, in full (for inspectors of it)."""
    with db.cursor() as cur:
        row = station_store.get(cur, station_id)
    if row is None:
        raise NotFound("station.not_found", station_id=station_id)
    check_inspector(db, principal, row)
    with db.cursor() as cur:
        rows = store.for_station(cur, station_id)
        photos = media_store.list_for(cur, inspection_ids=[r["id"] for r in rows]) if rows else []
    count: dict[int, int] = {}
    for p in photos:
        if p["inspection_id"] is not None:
            count[p["inspection_id"]] = count.get(p["inspection_id"], 0) + 1
    return [present(r, photos=count.get(r["id"], 0)) for r in rows]


def overdue(db: Database, ctx: StationContext) -> OverdueInspections:
    """Stations whose last visit is older than the interval, or never visited; most overdue first."""
    now = ctx.clock()
    interval = timedelta(days=ctx.settings.inspection_interval_days)
    with db.cursor() as cur:
        rows = store.overdue(cur, now - interval)
    out = []
    for row in rows:
        last: datetime | None = row["last_at"]
        due = (last + interval) if last is not None else None
        out.append(
            OverdueStation(
                station_id=row["id"],
                name=row["name"],
                kind=row["kind"],
                lon=round(row["lon"], 7),
                lat=round(row["lat"], 7),
                last_inspection_at=last.isoformat() if last else None,
                due_at=due.isoformat() if due else None,
                days_overdue=round((now - due).total_seconds() / 86400, 1) if due else None,
                last_ok=row["last_ok"],
            )
        )
    return OverdueInspections(
        as_of=now.isoformat(), interval_days=ctx.settings.inspection_interval_days, stations=out
    )
