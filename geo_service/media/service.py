"""Photos of incidents: attach (checked and cleaned first), list, read.

Who may see them is who handles the incident: dispatchers (and admins) and the grid workers of the incident's
grid; never an anonymous caller, and not planners either (photos show faces, number plates, the inside of
homes). The same rule guards the list, each photo and its thumbnail. A photo is written in one transaction with
a ``media`` entry in the incident's history; the same file sent twice to one incident is stored once (the
checksum of the upload decides), so a phone that resends a queued photo does no harm.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from typing_extensions import TypedDict

from geo_service.auth import Principal
from geo_service.errors import Conflict, Forbidden, InvalidInput, NotFound
from geo_service.incidents.context import IncidentContext
from geo_service.media.images import CleanImage, clean
from geo_service.settings import MediaSettings
from geo_service.store import audit
from geo_service.store import incidents as incident_store
from geo_service.store import media as store
from geo_service.store.incidents import IncidentRow
from geo_service.store.media import MediaRow

INCIDENT_STAGES = ("report", "resolution")


class Photo(TypedDict):
    """A photo of an incident as listed: links (its bytes are read at ``url``, with the same token), type,
    pixels, bytes, checksum, stage, who, when."""

    id: int
    incident_id: int
    stage: Annotated[str, Field(description="report or resolution")]
    content_type: Annotated[str, Field(description="image/jpeg or image/png (as stored)")]
    source_format: Annotated[str, Field(description="the format uploaded")]
    width: Annotated[int, Field(description="pixels")]
    height: int
    bytes: int
    sha256: str
    created_at: str | None
    created_by: str | None
    url: str
    thumbnail_url: str


class NewPhoto(Photo):
    """``created``: false when the same file was stored before (answered 200)."""

    created: bool


class Photos(TypedDict):
    id: int
    media: Annotated[list[Photo], Field(description="oldest first")]


class PhotoData(TypedDict):
    """A photo's (or thumbnail's) bytes to send: ``data``, its media type and the photo's checksum."""

    id: int
    incident_id: int
    data: bytes
    content_type: str
    sha256: str


def may_see(principal: Principal | None, grid_code: str | None) -> bool:
    """Dispatchers and admins see every incident's photos; a grid worker those of their own grids."""
    return principal is not None and principal.covers_grid(grid_code)


def _incident(ctx: IncidentContext, incident_id: int, principal: Principal) -> IncidentRow:
    with ctx.db.cursor() as cur:
        row = incident_store.get_incident(cur, incident_id)
    if row is None:
        raise NotFound("incident.not_found", id=incident_id)
    if not may_see(principal, row["grid_code"]):
        raise Forbidden("media.forbidden", id=incident_id)
    return row


def url(incident_id: int, media_id: int, base: str = "", thumbnail: bool = False) -> str:
    """Where a photo (or its thumbnail) is read: ``{base}/api/incidents/{id}/media/{media_id}``."""
    return f"{base}/api/incidents/{incident_id}/media/{media_id}" + ("/thumbnail" if thumbnail else "")


def present(ctx: IncidentContext, row: MediaRow, base: str = "") -> Photo:
    """One photo of an incident as listed: its links, type, size, checksum, stage, who and when."""
    incident_id = row["incident_id"]
    assert incident_id is not None  # listed by incident
    return Photo(
        id=row["id"],
        incident_id=incident_id,
        stage=row["stage"],
        content_type=row["content_type"],
        source_format=row["source_format"],
        width=row["width"],
        height=row["height"],
        bytes=row["bytes"],
        sha256=row["sha256"],
        created_at=ctx.local(row["created_at"]),
        created_by=row["created_by"],
        url=url(incident_id, row["id"], base),
        thumbnail_url=url(incident_id, row["id"], base, thumbnail=True),
    )


def check_photo(data: bytes, settings: MediaSettings) -> CleanImage:
    """The upload checked and cleaned (413, 415 or 422 when it is not a photo we keep); nothing is written."""
    return clean(data, settings)


def attach(
    ctx: IncidentContext,
    settings: MediaSettings,
    incident_id: int,
    data: bytes,
    stage: str,
    principal: Principal,
) -> tuple[Photo, bool]:
    """Add a photo to incident ``incident_id``: (the photo as listed, whether it was stored now).

    Raises
    ------
    NotFound, Forbidden
        No such incident; the caller does not handle it.
    InvalidInput, PayloadTooLarge, UnsupportedMediaType
        An unknown stage; not a photo we keep (see :func:`geo_service.media.images.clean`).
    Conflict
        The incident has its most photos already.
    """
    if stage not in INCIDENT_STAGES:
        raise InvalidInput("media.unknown_stage", stage=repr(stage), stages=list(INCIDENT_STAGES))
    _incident(ctx, incident_id, principal)
    image = check_photo(data, settings)  # the CPU work, outside any transaction
    now = ctx.now()
    with ctx.db.cursor() as cur:
        row = incident_store.get_incident(cur, incident_id, lock=True)
        if row is None:
            raise NotFound("incident.not_found", id=incident_id)
        if store.count(cur, incident_id=incident_id) >= settings.per_owner_max:
            raise Conflict("media.too_many", id=incident_id, max_photos=settings.per_owner_max)
        stored, created = store.insert(
            cur, image, incident_id=incident_id, stage=stage, at=now, actor=principal.actor
        )
        if created:
            incident_store.add_history(
                cur,
                incident_id,
                at=now,
                actor=principal.actor,
                action="media",
                from_status=row["status"],
                to_status=row["status"],
                detail={
                    "media_id": stored["id"],
                    "stage": stage,
                    "sha256": image.sha256,
                    "bytes": len(image.content),
                },
            )
            audit.record(
                cur,
                actor=principal.actor,
                role=principal.role,
                action="media",
                entity="incident",
                entity_id=incident_id,
                detail={"media_id": stored["id"], "sha256": image.sha256},
            )
    return present(ctx, stored), created


def list_media(ctx: IncidentContext, incident_id: int, principal: Principal, base: str = "") -> list[Photo]:
    """The photos of an incident, oldest first (403 for a caller who does not handle it)."""
    _incident(ctx, incident_id, principal)
    with ctx.db.cursor() as cur:
        rows = store.list_for(cur, incident_ids=[incident_id])
    return [present(ctx, row, base) for row in rows]


def read(
    ctx: IncidentContext, incident_id: int, media_id: int, principal: Principal, thumbnail: bool = False
) -> PhotoData:
    """A photo's bytes (``data``), type and checksum; 404 unless it belongs to that incident."""
    _incident(ctx, incident_id, principal)
    with ctx.db.cursor() as cur:
        row = store.get(cur, media_id, thumbnail)
    if row is None or row["incident_id"] != incident_id:
        raise NotFound("media.not_found", id=media_id, incident_id=incident_id)
    return PhotoData(
        id=row["id"],
        incident_id=incident_id,
        data=bytes(row["data"]),
        content_type="image/jpeg" if thumbnail else row["content_type"],
        sha256=row["sha256"],
    )


def first_photo_urls(ctx: IncidentContext, incident_ids: list[int], base: str) -> dict[int, str]:
    """The link of each incident's first photo (for Open311 ``media_url``)."""
    if not incident_ids:
        return {}
    with ctx.db.cursor() as cur:
        rows = store.list_for(cur, incident_ids=incident_ids)
    first: dict[int, str] = {}
    for row in rows:
        if row["incident_id"] is not None:
            first.setdefault(row["incident_id"], url(row["incident_id"], row["id"], base))
    return first
