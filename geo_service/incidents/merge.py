"""并案: a dispatcher merges a duplicate report into the case that carries on.

``merge(ctx, id, into)`` makes incident ``id`` a duplicate of case ``into``: from then on it follows the case's
state (:mod:`.follow`), keeps its own caller, location and grid (its caller is called back on their own,
:mod:`.callback`), and both histories say so (``merged`` on the duplicate, ``merged_in`` on the case).

Rules, so merges stay one level deep and never go round in circles:

- a case is never merged into itself, nor into a duplicate (merge into that duplicate's case instead);
- an incident already merged elsewhere is not merged again (merging it into the same case again changes
  nothing);
- when the incident merged has duplicates of its own, they move to the new case with it;
- nothing is merged into a rejected case (a duplicate of a rejected report is rejected on its own);
- merging where either side is finished (closed or rejected) needs a note saying why.
"""

from __future__ import annotations

from geo_service.auth import Principal
from geo_service.errors import Conflict, InvalidInput, NotFound
from geo_service.incidents import states
from geo_service.incidents.context import IncidentContext
from geo_service.incidents.follow import follow_status
from geo_service.incidents.workflow import MAX_NOTE_CHARS
from geo_service.store import audit
from geo_service.store import incidents as store
from geo_service.store.incidents import IncidentRow


def merge(
    ctx: IncidentContext, incident_id: int, into_id: int, note: str | None, principal: Principal
) -> IncidentRow:
    """Merge incident ``incident_id`` into case ``into_id``; the merged incident as it is now.

    Raises
    ------
    InvalidInput
        Into itself; a finished side without a note; a note too long (422).
    NotFound
        Either incident does not exist.
    Conflict
        Into a duplicate, into a rejected case, or already merged into another case (409).
    """
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise InvalidInput("incident.note_too_long", max_chars=MAX_NOTE_CHARS)
    note = (note or "").strip() or None
    if incident_id == into_id:
        raise InvalidInput("loop.merge_into_itself", id=incident_id)
    now = ctx.now()
    with ctx.db.cursor() as cur:
        rows = store.lock_incidents(cur, [incident_id, into_id])
        for wanted in (incident_id, into_id):
            if wanted not in rows:
                raise NotFound("incident.not_found", id=wanted)
        source, case = rows[incident_id], rows[into_id]
        if source["merged_into"] == into_id:
            return source
        if case["merged_into"] is not None:
            raise Conflict("loop.merge_into_duplicate", into=into_id, case=case["merged_into"])
        if source["merged_into"] is not None:
            raise Conflict("loop.already_merged", id=incident_id, case=source["merged_into"])
        if case["status"] == "rejected":
            raise Conflict("loop.merge_into_rejected", into=into_id)
        finished = source["status"] in states.FINISHED or case["status"] in states.FINISHED
        if finished and note is None:
            raise InvalidInput(
                "loop.merge_note_required",
                id=incident_id,
                into=into_id,
                status=states.state_name(source["status"]),
                case_status=states.state_name(case["status"]),
            )
        moving = [source, *store.followers(cur, incident_id, lock=True)]
        target = follow_status(case["status"])
        for row in moving:
            # the merged incident takes its case's state, even when it was closed (a note said why); its own
            # duplicates that their callers already closed stay closed
            keep = row["status"] == "closed" and row["id"] != incident_id
            status = row["status"] if keep else target
            store.update_incident(cur, row["id"], {"merged_into": into_id, "merged_at": now}, now)
            if status != row["status"]:
                store.set_status(cur, row["id"], status, now, None)
            detail = {"into": into_id, "case_status": case["status"]}
            if row["id"] != incident_id:
                detail["with"] = incident_id
            store.add_history(
                cur,
                row["id"],
                at=now,
                actor=principal.actor,
                action="merged",
                from_status=row["status"],
                to_status=status,
                note=note,
                detail=detail,
            )
        store.add_history(
            cur,
            into_id,
            at=now,
            actor=principal.actor,
            action="merged_in",
            from_status=case["status"],
            to_status=case["status"],
            note=note,
            detail={
                "incident": incident_id,
                "incidents": [r["id"] for r in moving],
                "category": source["category"],
                "source": source["source"],
            },
        )
        audit.record(
            cur,
            actor=principal.actor,
            role=principal.role,
            action="merge",
            entity="incident",
            entity_id=incident_id,
            detail={"into": into_id, "moved": [r["id"] for r in moving]},
        )
        merged = store.get_incident(cur, incident_id)
        assert merged is not None  # locked and updated in this transaction
        return merged
