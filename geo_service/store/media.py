"""SQL for photos (``media``): the cleaned bytes and thumbnail in the row, listed without them."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict, cast

from geo_service.db.rows import DictCursor as Cursor
from geo_service.db.rows import fetch_one
from geo_service.media.images import CleanImage

_LISTED = """id, incident_id, inspection_id, stage, content_type, source_format, width, height, bytes, sha256,
             created_at, created_by"""


class MediaRow(TypedDict):
    """A photo as listed (never its bytes); of an incident or of an inspection (the other id is None)."""

    id: int
    incident_id: int | None
    inspection_id: int | None
    stage: str
    content_type: str
    source_format: str
    width: int
    height: int
    bytes: int
    sha256: str
    created_at: datetime
    created_by: str | None


class MediaData(MediaRow):
    """A photo with its bytes (``data``: the photo, or its thumbnail; a memoryview from the driver)."""

    data: memoryview | bytes


def insert(
    cur: Cursor,
    image: CleanImage,
    *,
    incident_id: int | None = None,
    inspection_id: int | None = None,
    stage: str,
    at: datetime,
    actor: str,
) -> tuple[MediaRow, bool]:
    """Store a photo of an incident or an inspection; (its row, True), or (the row already stored for the same
    upload of that incident, False)."""
    cur.execute(
        f"""INSERT INTO media (incident_id, inspection_id, stage, content_type, source_format, width, height,
                               bytes, sha256, source_sha256, content, thumbnail, created_at, created_by)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (incident_id, source_sha256) WHERE incident_id IS NOT NULL DO NOTHING
            RETURNING {_LISTED}""",
        (
            incident_id,
            inspection_id,
            stage,
            image.content_type,
            image.source_format,
            image.width,
            image.height,
            len(image.content),
            image.sha256,
            image.source_sha256,
            image.content,
            image.thumbnail,
            at,
            actor,
        ),
    )
    row = cur.fetchone()
    if row is not None:
        return cast(MediaRow, dict(row)), True
    cur.execute(
        f"SELECT {_LISTED} FROM media WHERE incident_id = %s AND source_sha256 = %s",
        (incident_id, image.source_sha256),
    )
    return cast(MediaRow, dict(fetch_one(cur))), False


def count(cur: Cursor, *, incident_id: int | None = None, inspection_id: int | None = None) -> int:
    cur.execute(
        "SELECT count(*) AS n FROM media WHERE incident_id IS NOT DISTINCT FROM %s "
        "AND inspection_id IS NOT DISTINCT FROM %s",
        (incident_id, inspection_id),
    )
    return int(fetch_one(cur)["n"])


def list_for(
    cur: Cursor, *, incident_ids: list[int] | None = None, inspection_ids: list[int] | None = None
) -> list[MediaRow]:
    """Photos of these incidents or inspections (never the bytes), oldest first."""
    if incident_ids is not None:
        cur.execute(f"SELECT {_LISTED} FROM media WHERE incident_id = ANY(%s) ORDER BY id", (incident_ids,))
    else:
        cur.execute(
            f"SELECT {_LISTED} FROM media WHERE inspection_id = ANY(%s) ORDER BY id", (inspection_ids,)
        )
    return [cast(MediaRow, dict(r)) for r in cur.fetchall()]


def get(cur: Cursor, media_id: int, thumbnail: bool = False) -> MediaData | None:
    """One photo with its bytes (``data``: the photo, or its thumbnail)."""
    column = "thumbnail" if thumbnail else "content"
    cur.execute(f"SELECT {_LISTED}, {column} AS data FROM media WHERE id = %s", (media_id,))
    row = cur.fetchone()
    return None if row is None else cast(MediaData, dict(row))
