"""SQL for photos (``media``): the cleaned bytes and thumbnail in the row, listed without them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geo_service.db.rows import DictCursor as Cursor
from geo_service.db.rows import fetch_one
from geo_service.media.images import CleanImage

_LISTED = """id, incident_id, inspection_id, stage, content_type, source_format, width, height, bytes, sha256,
             created_at, created_by"""


def insert(
    cur: Cursor,
    image: CleanImage,
    *,
    incident_id: int | None = None,
    inspection_id: int | None = None,
    stage: str,
    at: datetime,
    actor: str,
) -> tuple[dict[str, Any], bool]:
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
        return dict(row), True
    cur.execute(
        f"SELECT {_LISTED} FROM media WHERE incident_id = %s AND source_sha256 = %s",
        (incident_id, image.source_sha256),
    )
    return dict(fetch_one(cur)), False


def count(cur: Cursor, *, incident_id: int | None = None, inspection_id: int | None = None) -> int:
    cur.execute(
        "SELECT count(*) AS n FROM media WHERE incident_id IS NOT DISTINCT FROM %s "
        "AND inspection_id IS NOT DISTINCT FROM %s",
        (incident_id, inspection_id),
    )
    return int(fetch_one(cur)["n"])


def list_for(
    cur: Cursor, *, incident_ids: list[int] | None = None, inspection_ids: list[int] | None = None
) -> list[dict[str, Any]]:
    """Photos of these incidents or inspections (never the bytes), oldest first."""
    if incident_ids is not None:
        cur.execute(f"SELECT {_LISTED} FROM media WHERE incident_id = ANY(%s) ORDER BY id", (incident_ids,))
    else:
        cur.execute(
            f"SELECT {_LISTED} FROM media WHERE inspection_id = ANY(%s) ORDER BY id", (inspection_ids,)
        )
    return [dict(r) for r in cur.fetchall()]


def get(cur: Cursor, media_id: int, thumbnail: bool = False) -> dict[str, Any] | None:
    """One photo with its bytes (``data``: the photo, or its thumbnail)."""
    column = "thumbnail" if thumbnail else "content"
    cur.execute(f"SELECT {_LISTED}, {column} AS data FROM media WHERE id = %s", (media_id,))
    row = cur.fetchone()
    return None if row is None else dict(row)
