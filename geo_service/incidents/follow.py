"""Merged duplicates (并案) follow their case: whenever a case changes state, the incidents merged into it take
the same state, each with a ``followed`` entry in its own history.

One exception: a duplicate is never closed by following. Closing needs its own caller's callback (回访), so
when its case closes a duplicate waits in ``resolved`` for its call; and a duplicate its caller already closed
stays closed whatever its case does next.
"""

from __future__ import annotations

from datetime import datetime

from geo_service.db.rows import DictCursor as Cursor
from geo_service.store import incidents as store
from geo_service.store.incidents import IncidentRow

ACTION = "followed"


def follow_status(case_status: str) -> str:
    """The state a duplicate takes when its case is in ``case_status``."""
    return "resolved" if case_status == "closed" else case_status


def follow(
    cur: Cursor,
    case_id: int,
    case_status: str,
    *,
    at: datetime,
    actor: str,
    followers: list[IncidentRow] | None = None,
) -> list[int]:
    """Move the duplicates of case ``case_id`` (locked here unless given) to follow ``case_status``; the ids
    of those that moved."""
    target = follow_status(case_status)
    moved = []
    for row in followers if followers is not None else store.followers(cur, case_id, lock=True):
        if row["status"] == "closed" or row["status"] == target:
            continue
        store.set_status(cur, row["id"], target, at, None)
        if target == "resolved":
            store.update_incident(cur, row["id"], {"callback_attempts": 0}, at)
        store.add_history(
            cur,
            row["id"],
            at=at,
            actor=actor,
            action=ACTION,
            from_status=row["status"],
            to_status=target,
            detail={"case": case_id},
        )
        moved.append(int(row["id"]))
    return moved
