"""SQL for the audit log: who changed what, written in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from psycopg2.extensions import cursor as Cursor
from psycopg2.extras import Json


def record(
    cur: Cursor,
    *,
    actor: str | None,
    role: str | None,
    action: str,
    entity: str,
    entity_id: str | int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    cur.execute(
        "INSERT INTO audit_log (actor, role, action, entity, entity_id, detail) VALUES (%s, %s, %s, %s, %s, %s)",
        (actor, role, action, entity, None if entity_id is None else str(entity_id), Json(detail or {})),
    )
