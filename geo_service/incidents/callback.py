"""回访: every resolved case is called back, and only the call closes it.

A dispatcher records each call to the caller of a ``resolved`` (or ``verified``) incident:

- reached, ``satisfied`` or ``basically_satisfied`` → the incident is ``closed``;
- reached, ``unsatisfied`` → its case goes back to its owner (``dispatched``) with a fresh deadline for the
  owner's level (the category's), and counts one more reopening; the incident's duplicates follow;
- not reached → one more attempt is counted; the ``callback_max_attempts``-th (3) unreached call closes the
  incident as a failed callback.

A duplicate merged into another case (并案) has its own caller and its own calls: a satisfied answer closes the
duplicate alone; an unsatisfied one reopens the case it was merged into (even a case closed on another caller's
answer), and the duplicate follows it back to work. Every call is kept (``incident_callbacks``) and is in the
incident's history with what it decided.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field
from typing_extensions import TypedDict

from geo_service.auth import Principal
from geo_service.db.rows import DictCursor as Cursor
from geo_service.errors import Conflict, InvalidInput, NotFound
from geo_service.i18n import message
from geo_service.incidents import notes, states
from geo_service.incidents.context import IncidentContext
from geo_service.incidents.follow import follow, follow_status
from geo_service.incidents.records import Incident
from geo_service.incidents.states import state_name
from geo_service.incidents.workflow import MAX_NOTE_CHARS
from geo_service.store import audit
from geo_service.store import incidents as store
from geo_service.store.incidents import CallbackRow, IncidentRow, Outcome

ACTION = "feedback"


class Callback(TypedDict):
    """One call made to an incident's caller, as the API shows it."""

    id: int
    at: Annotated[str | None, Field(description="ISO 8601 in the service's zone")]
    actor: str | None
    reached: bool
    satisfaction: Annotated[str | None, Field(description="satisfied | basically_satisfied | unsatisfied")]
    note: str | None
    outcome: Outcome


class Callbacks(TypedDict):
    id: int
    callbacks: Annotated[list[Callback], Field(description="oldest first")]


class FeedbackResult(Incident):
    """The incident as it is after the call, with the ``callback`` just recorded."""

    callback: Callback


class Feedback(TypedDict):
    """What :func:`record_feedback` did: the incident as it is now and the call just recorded."""

    incident: IncidentRow
    callback: CallbackRow


def check_answer(reached: bool, satisfaction: str | None, note: str | None) -> None:
    """A reached call carries the caller's satisfaction; an unreached one cannot (422)."""
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise InvalidInput("incident.note_too_long", max_chars=MAX_NOTE_CHARS)
    if reached and satisfaction is None:
        raise InvalidInput("loop.satisfaction_required", choices=list(states.SATISFACTION))
    if satisfaction is not None and satisfaction not in states.SATISFACTION:
        raise InvalidInput(
            "loop.unknown_satisfaction", satisfaction=repr(satisfaction), choices=list(states.SATISFACTION)
        )
    if not reached and satisfaction is not None:
        raise InvalidInput("loop.satisfaction_unreached")


def record_feedback(
    ctx: IncidentContext,
    incident_id: int,
    *,
    reached: bool,
    satisfaction: str | None,
    note: str | None,
    principal: Principal,
) -> Feedback:
    """Record one callback of incident ``incident_id`` and apply what it decides (see the module doc).

    Returns the incident as it is now, with the ``callback`` just recorded.

    Raises
    ------
    InvalidInput
        A reached call without a satisfaction, an unreached one with one, an unknown satisfaction (422).
    NotFound
        No such incident.
    Conflict
        The incident is not waiting for a callback (not ``resolved`` or ``verified``).
    """
    check_answer(reached, satisfaction, note)
    note = (note or "").strip() or None
    now = ctx.now()
    with ctx.db.cursor() as cur:
        row = store.get_incident(cur, incident_id, lock=True)
        if row is None:
            raise NotFound("incident.not_found", id=incident_id)
        if row["status"] not in states.AWAITING_CALLBACK:
            raise Conflict("loop.callback_not_due", id=incident_id, status=state_name(row["status"]))
        attempt = row["callback_attempts"] + 1
        detail: dict[str, Any] = {"reached": reached, "satisfaction": satisfaction, "attempt": attempt}
        if reached and satisfaction in states.SATISFIED:
            outcome, status = "closed", "closed"
            store.set_status(cur, incident_id, "closed", now, now)
            system = message(
                "loop.note.callback_closed", satisfaction=message(f"loop.satisfaction.{satisfaction}")
            )
        elif reached:
            outcome = "reopened"
            status, due_at = _reopen(ctx, cur, row, now, principal.actor)
            detail["due_at"] = due_at.isoformat() if due_at else None
            system = message("loop.note.callback_reopened")
        elif attempt >= ctx.settings.callback_max_attempts:
            outcome, status = "failed", "closed"
            store.set_status(cur, incident_id, "closed", now, now)
            store.update_incident(cur, incident_id, {"callback_attempts": attempt}, now)
            system = message("loop.note.callback_failed", attempts=attempt)
        else:
            outcome, status = "retry", row["status"]
            store.update_incident(cur, incident_id, {"callback_attempts": attempt}, now)
            system = message(
                "loop.note.callback_unreached", attempt=attempt, attempts=ctx.settings.callback_max_attempts
            )
        if status == "closed" and row["merged_into"] is None:
            follow(cur, incident_id, status, at=now, actor=principal.actor)
        detail["outcome"] = outcome
        if note is None:
            detail["note"] = notes.stored(system)
        callback_id = store.insert_callback(
            cur,
            incident_id,
            at=now,
            actor=principal.actor,
            reached=reached,
            satisfaction=satisfaction,
            note=note,
            outcome=outcome,
        )
        store.add_history(
            cur,
            incident_id,
            at=now,
            actor=principal.actor,
            action=ACTION,
            from_status=row["status"],
            to_status=status,
            note=note,
            detail=detail,
        )
        audit.record(
            cur,
            actor=principal.actor,
            role=principal.role,
            action="feedback",
            entity="incident",
            entity_id=incident_id,
            detail={"outcome": outcome, "satisfaction": satisfaction},
        )
        updated = store.get_incident(cur, incident_id)
        calls = store.callbacks(cur, incident_id)
    assert updated is not None  # locked and updated in this transaction
    return Feedback(incident=updated, callback=next(c for c in calls if c["id"] == callback_id))


def _reopen(
    ctx: IncidentContext, cur: Cursor, row: IncidentRow, now: datetime, actor: str
) -> tuple[str, datetime | None]:
    """An unsatisfied caller: the case (the incident, or the one it was merged into) goes back to its owner
    with a fresh deadline, and its duplicates follow. Returns the incident's new state and the case's deadline."""
    case = row if row["merged_into"] is None else store.get_incident(cur, row["merged_into"], lock=True)
    assert case is not None  # a merged incident's case is kept (cases are closed, never deleted)
    status, due_at = case["status"], case["due_at"]
    if status in states.AWAITING_CALLBACK or status == "closed":
        category = ctx.classification.get(case["category"])
        due_at = now + category.deadline(case["owner_level"]) if category else case["due_at"]
        status = "dispatched"
        store.set_status(cur, case["id"], status, now, None)
        store.update_incident(
            cur,
            case["id"],
            {
                "due_at": due_at,
                "top_overdue_at": None,
                "callback_attempts": 0,
                "reopened": case["reopened"] + 1,
            },
            now,
        )
        if case["id"] != row["id"]:
            store.add_history(
                cur,
                case["id"],
                at=now,
                actor=actor,
                action="reopened",
                from_status=case["status"],
                to_status=status,
                detail={
                    "by_incident": row["id"],
                    "due_at": due_at.isoformat() if due_at else None,
                    "note": notes.stored(message("loop.note.reopened_by_duplicate", id=row["id"])),
                },
            )
    others = [f for f in store.followers(cur, case["id"], lock=True) if f["id"] != row["id"]]
    follow(cur, case["id"], status, at=now, actor=actor, followers=others)
    if case["id"] != row["id"]:  # the duplicate follows its case back to work (its own entry says so)
        status = follow_status(status)
        store.set_status(cur, row["id"], status, now, None)
        store.update_incident(cur, row["id"], {"callback_attempts": 0}, now)
    return status, due_at


def callbacks(ctx: IncidentContext, incident_id: int) -> list[Callback]:
    """The calls made to an incident's caller, oldest first (times in the service's zone)."""
    with ctx.db.cursor() as cur:
        if store.get_incident(cur, incident_id) is None:
            raise NotFound("incident.not_found", id=incident_id)
        rows = store.callbacks(cur, incident_id)
    return [presented(ctx, row) for row in rows]


def presented(ctx: IncidentContext, row: CallbackRow) -> Callback:
    """A call as the API shows it (its time in the service's zone)."""
    return Callback(
        id=row["id"],
        at=ctx.local(row["at"]),
        actor=row["actor"],
        reached=row["reached"],
        satisfaction=row["satisfaction"],
        note=row["note"],
        outcome=row["outcome"],
    )
