"""The closed loop (发现 → 立案 → 派遣 → 处置 → 反馈 → 核查 → 结案) as a state machine.

Main path: ``reported → filed → dispatched → in_progress → resolved → verified → closed``. Side states:
``rejected`` (不予立案, not a case for us) and ``escalated`` (上报: the owner moved one level up, by hand or
because the deadline passed). Every allowed move is listed in :data:`TRANSITIONS` with the roles that may make
it and whether a note is required; anything else is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo_service.errors import Conflict, Forbidden, InvalidInput

STATES = (
    "reported", "filed", "dispatched", "in_progress", "resolved", "verified", "closed", "rejected", "escalated",
)  # fmt: skip
# still being handled: the deadline runs and the escalation job watches these
ACTIVE = frozenset({"reported", "filed", "dispatched", "in_progress", "escalated"})
RESOLVED = frozenset({"resolved", "verified", "closed"})
FINISHED = frozenset({"closed", "rejected"})
DISPATCHER_ROLES = ("dispatcher",)  # admin passes every check
ADMIN_ONLY: tuple[str, ...] = ()


@dataclass(frozen=True)
class Transition:
    """An allowed move. ``roles`` are the roles (besides admin) that may make it."""

    from_status: str
    to_status: str
    label: str
    roles: tuple[str, ...] = DISPATCHER_ROLES
    note_required: bool = False


_MOVES = [
    Transition("reported", "filed", "立案 file"),
    Transition("reported", "rejected", "不予立案 reject", note_required=True),
    Transition("filed", "dispatched", "派遣 dispatch"),
    Transition("filed", "rejected", "不予立案 reject", note_required=True),
    Transition("filed", "escalated", "上报 escalate", note_required=True),
    Transition("dispatched", "in_progress", "受理处置 start work"),
    Transition("dispatched", "filed", "退回 returned by the handler", note_required=True),
    Transition("dispatched", "escalated", "上报 escalate", note_required=True),
    Transition("in_progress", "resolved", "处置完成 resolved"),
    Transition("in_progress", "escalated", "上报 escalate", note_required=True),
    Transition("resolved", "verified", "核查通过 verified"),
    Transition("resolved", "in_progress", "核查不通过 verification failed", note_required=True),
    Transition("verified", "closed", "结案 close"),
    Transition("escalated", "dispatched", "派遣 dispatch"),
    Transition("escalated", "in_progress", "受理处置 start work"),
    Transition("escalated", "rejected", "不予立案 reject", note_required=True),
    Transition("escalated", "escalated", "上报 escalate", note_required=True),
    # reopening a finished case (重办) is an administrator's call
    Transition("closed", "filed", "重办 reopen", roles=ADMIN_ONLY, note_required=True),
    Transition("rejected", "filed", "重新立案 reopen", roles=ADMIN_ONLY, note_required=True),
]
TRANSITIONS: dict[tuple[str, str], Transition] = {(t.from_status, t.to_status): t for t in _MOVES}


def allowed_from(status: str) -> list[str]:
    """The states reachable from ``status`` in one move."""
    return [t.to_status for t in _MOVES if t.from_status == status]


def check_transition(current: str, target: str, role: str, note: str | None) -> Transition:
    """The transition ``current → target`` if ``role`` may make it now.

    Raises
    ------
    InvalidInput
        ``target`` is not a state, or the transition needs a note and none was given (422).
    Conflict
        The move is not allowed from the current state (409).
    Forbidden
        The role may not make this move (403).
    """
    if target not in STATES:
        raise InvalidInput(f"unknown state {target!r}; states: {', '.join(STATES)}")
    transition = TRANSITIONS.get((current, target))
    if transition is None:
        reachable = allowed_from(current)
        hint = f"allowed from {current}: {', '.join(reachable)}" if reachable else f"{current} is final"
        raise Conflict(f"cannot go from {current} to {target}; {hint}")
    if role != "admin" and role not in transition.roles:
        who = ", ".join(("admin", *transition.roles))
        raise Forbidden(f"role '{role}' may not {transition.label} ({current} → {target}); needs: {who}")
    if transition.note_required and not (note or "").strip():
        raise InvalidInput(f"{transition.label} ({current} → {target}) needs a note saying why")
    return transition


def open311_status(status: str) -> str:
    """GeoReport v2 knows two statuses: a request is ``closed`` once the loop is closed or it was rejected."""
    return "closed" if status in FINISHED else "open"


def statuses_for_open311(open311: str) -> list[str]:
    """Our states that an Open311 ``status`` filter value stands for."""
    if open311 == "closed":
        return sorted(FINISHED)
    if open311 == "open":
        return [s for s in STATES if s not in FINISHED]
    raise InvalidInput(f"status must be open or closed, not {open311!r}")
