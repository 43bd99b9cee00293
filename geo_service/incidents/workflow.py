"""The closed loop over stored incidents: read, list, move through states, confirm or correct assignment."""

from __future__ import annotations

from geo_service.auth import Principal
from geo_service.errors import Conflict, Forbidden, InvalidInput, NotFound
from geo_service.incidents import records, states
from geo_service.incidents.assignment import level_name
from geo_service.incidents.context import IncidentContext
from geo_service.incidents.escalation import escalate_row
from geo_service.incidents.follow import follow
from geo_service.incidents.states import state_name
from geo_service.locate.service import current_index
from geo_service.store import audit
from geo_service.store import incidents as store
from geo_service.store.incidents import IncidentRow, IncidentUpdate

MAX_NOTE_CHARS = 4000
MAX_LIST = 5000
# a dispatcher may still move an incident to another grid until it has been dispatched
REASSIGNABLE = frozenset({"reported", "filed"})


def may_see_reporter(principal: Principal) -> bool:
    """Callers' contact details are for dispatchers (and admins), not for planners or grid workers."""
    return principal.has_role("dispatcher")


def check_grid(principal: Principal, row: IncidentRow) -> None:
    """A grid worker reads and handles only the incidents of their own grids (403 otherwise)."""
    if principal.role == "worker" and not principal.covers_grid(row["grid_code"]):
        raise Forbidden("incident.not_your_grid", id=row["id"], grids=list(principal.grids))


def get_incident(ctx: IncidentContext, incident_id: int, principal: Principal | None = None) -> IncidentRow:
    """One incident; with ``principal``, a worker only of their own grids."""
    with ctx.db.cursor() as cur:
        row = store.get_incident(cur, incident_id)
    if row is None:
        raise NotFound("incident.not_found", id=incident_id)
    if principal is not None:
        check_grid(principal, row)
    return row


def list_incidents(
    ctx: IncidentContext,
    *,
    grid_code: str | None,
    statuses: list[str] | None,
    categories: list[str] | None,
    bbox: tuple[float, float, float, float] | None,
    overdue: bool,
    limit: int,
    offset: int,
    grid_codes: list[str] | None = None,
) -> list[IncidentRow]:
    """Incidents, newest first, filtered (``grid_codes``: only those grids, a worker's view). Unknown statuses
    or categories are a 422, not an empty answer."""
    for status in statuses or []:
        if status not in states.STATES:
            raise InvalidInput("incident.unknown_state", state=repr(status), states=list(states.STATES))
    codes = [ctx.classification.resolve(c).code for c in categories or []]
    if not 1 <= limit <= MAX_LIST:
        raise InvalidInput("incident.limit_range", max_limit=MAX_LIST)
    if bbox is not None:
        west, south, east, north = bbox
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise InvalidInput("incident.bad_bbox")
    with ctx.db.cursor() as cur:
        return store.list_incidents(
            cur,
            grid_code=grid_code,
            statuses=statuses,
            categories=codes or None,
            bbox=bbox,
            overdue_at=ctx.now() if overdue else None,
            limit=limit,
            offset=offset,
            grid_codes=grid_codes,
        )


def transition(
    ctx: IncidentContext, incident_id: int, target: str, note: str | None, principal: Principal
) -> IncidentRow:
    """Move an incident to ``target`` if the loop allows it from its current state and the role may.

    The case's milestones are kept for the rates: when it was first taken in hand (``in_progress``), when and
    at which level it was last resolved, and whether it ever missed a deadline (resolved after it). Duplicates
    merged into it follow (:mod:`.follow`); a duplicate itself moves only with its case (409).

    Raises
    ------
    NotFound, InvalidInput, Conflict, Forbidden
        No such incident; unknown state or missing note; not allowed from the current state (or a duplicate,
        or a close that only a callback makes); not this role, or a worker outside their grids.
    """
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise InvalidInput("incident.note_too_long", max_chars=MAX_NOTE_CHARS)
    now = ctx.now()
    with ctx.db.cursor() as cur:
        row = store.get_incident(cur, incident_id, lock=True)
        if row is None:
            raise NotFound("incident.not_found", id=incident_id)
        check_grid(principal, row)
        if row["merged_into"] is not None:
            raise Conflict("incident.merged_follows", id=incident_id, case=row["merged_into"])
        move = states.check_transition(row["status"], target, principal.role, note)
        if target == "escalated":
            done = escalate_row(ctx, cur, row, now=now, actor=principal.actor, reason="manual", note=note)
            if done.to_level is None:
                raise Conflict("incident.at_top_level", id=incident_id, level=level_name(row["owner_level"]))
        else:
            closed_at = None if target == "filed" else row["closed_at"]
            store.set_status(cur, incident_id, target, now, closed_at)
            fields: IncidentUpdate = {}
            detail: dict[str, str | None] = {"label": move.label, "action": move.action}
            if target == "in_progress" and row["responded_at"] is None:
                fields["responded_at"] = now
            if target == "resolved":
                fields.update(
                    {"resolved_at": now, "settled_level": row["owner_level"], "callback_attempts": 0}
                )
                if row["due_at"] is not None and now > row["due_at"]:
                    fields["missed_deadline"] = True
            if row["status"] in states.FINISHED:  # reopened: the owner gets a fresh deadline
                category = ctx.classification.get(row["category"])
                due_at = now + category.deadline(row["owner_level"]) if category else row["due_at"]
                fields.update({"due_at": due_at, "top_overdue_at": None, "callback_attempts": 0})
                detail["due_at"] = due_at.isoformat() if due_at else None
            if fields:
                store.update_incident(cur, incident_id, fields, now)
            store.add_history(
                cur,
                incident_id,
                at=now,
                actor=principal.actor,
                action="transition",
                from_status=row["status"],
                to_status=target,
                note=note,
                detail=detail,
            )
            follow(cur, incident_id, target, at=now, actor=principal.actor)
        audit.record(
            cur,
            actor=principal.actor,
            role=principal.role,
            action="transition",
            entity="incident",
            entity_id=incident_id,
            detail={"from": row["status"], "to": target},
        )
        updated = store.get_incident(cur, incident_id)
    assert updated is not None  # locked and updated in this transaction
    return updated


def history(
    ctx: IncidentContext, incident_id: int, principal: Principal | None = None
) -> list[records.HistoryEntry]:
    with ctx.db.cursor() as cur:
        row = store.get_incident(cur, incident_id)
        if row is None:
            raise NotFound("incident.not_found", id=incident_id)
        if principal is not None:
            check_grid(principal, row)
        return records.present_history(ctx, store.history(cur, incident_id))


def confirm_assignment(
    ctx: IncidentContext, incident_id: int, grid_code: str | None, note: str | None, principal: Principal
) -> IncidentRow:
    """A dispatcher confirms the grid of a (near-boundary) incident, or moves it to ``grid_code``.

    Moving is allowed until the incident is dispatched; the new grid's current version and ancestors become the
    snapshot. Both are recorded in the history.
    """
    now = ctx.now()
    with ctx.db.cursor() as cur:
        row = store.get_incident(cur, incident_id, lock=True)
        if row is None:
            raise NotFound("incident.not_found", id=incident_id)
        fields: IncidentUpdate = {"assignment_confirmed_by": principal.actor, "assignment_confirmed_at": now}
        action = "assignment_confirmed"
        detail: dict[str, str | int | None] = {"grid_code": row["grid_code"], "owner_code": row["owner_code"]}
        if grid_code is not None and grid_code != row["grid_code"]:
            if row["status"] not in REASSIGNABLE:
                raise Conflict(
                    "incident.reassign_after_dispatch", id=incident_id, status=state_name(row["status"])
                )
            index = current_index(ctx.db)
            grid = index.areas.get(grid_code)
            if grid is None or grid.level != "grid":
                raise InvalidInput("incident.no_such_grid", grid=repr(grid_code))
            snapshot = [a.as_dict() for a in (grid, *index.ancestors(grid))]
            by_level = {a["level"]: a["code"] for a in snapshot}
            fields.update(
                {
                    "grid_code": grid.code,
                    "grid_version": grid.version,
                    "owner_level": "grid",
                    "owner_code": grid.code,
                    "area_snapshot": snapshot,
                    "community_code": by_level.get("community"),
                    "street_code": by_level.get("street"),
                    "district_code": by_level.get("district"),
                }
            )
            action = "reassigned"
            detail = {
                "from_grid": row["grid_code"],
                "from_owner": row["owner_code"],
                "to_grid": grid.code,
                "to_version": grid.version,
            }
        store.update_incident(cur, incident_id, fields, now)
        store.add_history(
            cur,
            incident_id,
            at=now,
            actor=principal.actor,
            action=action,
            from_status=row["status"],
            to_status=row["status"],
            note=note,
            detail=detail,
        )
        audit.record(
            cur,
            actor=principal.actor,
            role=principal.role,
            action=action,
            entity="incident",
            entity_id=incident_id,
            detail=detail,
        )
        updated = store.get_incident(cur, incident_id)
        assert updated is not None  # locked and updated in this transaction
        return updated
