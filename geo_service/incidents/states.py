"""The closed loop (发现 → 立案 → 派遣 → 处置 → 反馈 → 核查 → 结案) as a state machine.

Main path: ``reported → filed → dispatched → in_progress → resolved → (verified) → closed``. Side states:
``rejected`` (不予立案, not a case for us) and ``escalated`` (上报: the owner moved one level up, by hand or
because the deadline passed). Every allowed move is listed in :data:`TRANSITIONS` with the roles that may make
it and whether a note is required; anything else is refused.

A case is closed only by its callback (回访, ``POST /api/incidents/{id}/feedback``): a satisfied answer, or a
third unreached call, closes a ``resolved`` or ``verified`` case; an unsatisfied one sends it back to its owner
(``dispatched``, with a fresh deadline). Those moves are listed with ``via="feedback"``: the plain transition
endpoint refuses them. A grid worker may take a dispatched case (``in_progress``), hand it back with a reason,
and report it resolved; only in their own grids (checked by the workflow).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from geo_service.errors import Conflict, Forbidden, InvalidInput
from geo_service.i18n import Message, message

STATES = (
    "reported",
    "filed",
    "dispatched",
    "in_progress",
    "resolved",
    "verified",
    "closed",
    "rejected",
    "escalated",
)
# still being handled: the deadline runs and the escalation job watches these
ACTIVE = frozenset({"reported", "filed", "dispatched", "in_progress", "escalated"})
RESOLVED = frozenset({"resolved", "verified", "closed"})
FINISHED = frozenset({"closed", "rejected"})
# waiting for the callback (回访) that closes or reopens them
AWAITING_CALLBACK = frozenset({"resolved", "verified"})
SATISFACTION = ("satisfied", "basically_satisfied", "unsatisfied")
SATISFIED = frozenset({"satisfied", "basically_satisfied"})
DISPATCHER_ROLES = ("dispatcher",)  # admin passes every check
HANDLER_ROLES = ("dispatcher", "worker")  # the grid worker handles cases in their grids
ADMIN_ONLY: tuple[str, ...] = ()


@dataclass(frozen=True)
class Transition:
    """An allowed move. ``roles`` are the roles (besides admin) that may make it."""

    from_status: str
    to_status: str
    label: str
    action: str  # catalogue: incident.action.{action}
    roles: tuple[str, ...] = DISPATCHER_ROLES
    note_required: bool = False
    via: str = "transition"  # "feedback": made only by recording a callback

    @property
    def action_name(self) -> Message:
        return message(f"incident.action.{self.action}")


_MOVES = [
    Transition("reported", "filed", "立案 file", "file"),
    Transition("reported", "rejected", "不予立案 reject", "reject", note_required=True),
    Transition("filed", "dispatched", "派遣 dispatch", "dispatch"),
    Transition("filed", "rejected", "不予立案 reject", "reject", note_required=True),
    Transition("filed", "escalated", "上报 escalate", "escalate", note_required=True),
    Transition("dispatched", "in_progress", "受理处置 start work", "start", roles=HANDLER_ROLES),
    Transition(
        "dispatched",
        "filed",
        "退回 returned by the handler",
        "return",
        roles=HANDLER_ROLES,
        note_required=True,
    ),
    Transition("dispatched", "escalated", "上报 escalate", "escalate", note_required=True),
    Transition("in_progress", "resolved", "处置完成 resolved", "resolve", roles=HANDLER_ROLES),
    Transition("in_progress", "escalated", "上报 escalate", "escalate", note_required=True),
    Transition("resolved", "verified", "核查通过 verified", "verify"),
    Transition(
        "resolved", "in_progress", "核查不通过 verification failed", "fail_verification", note_required=True
    ),
    Transition("escalated", "dispatched", "派遣 dispatch", "dispatch"),
    Transition("escalated", "in_progress", "受理处置 start work", "start", roles=HANDLER_ROLES),
    Transition("escalated", "rejected", "不予立案 reject", "reject", note_required=True),
    Transition("escalated", "escalated", "上报 escalate", "escalate", note_required=True),
    # 回访: the caller is satisfied (or could not be reached three times), or not: recorded as feedback
    Transition("resolved", "closed", "回访后结案 closed after the callback", "close", via="feedback"),
    Transition("verified", "closed", "回访后结案 closed after the callback", "close", via="feedback"),
    Transition("resolved", "dispatched", "回访不满意 重办", "reopen_unsatisfied", via="feedback"),
    Transition("verified", "dispatched", "回访不满意 重办", "reopen_unsatisfied", via="feedback"),
    # a merged caller unsatisfied after the case was closed on another caller's answer
    Transition("closed", "dispatched", "回访不满意 重办", "reopen_unsatisfied", via="feedback"),
    # reopening a finished case (重办) is an administrator's call
    Transition("closed", "filed", "重办 reopen", "reopen", roles=ADMIN_ONLY, note_required=True),
    Transition("rejected", "filed", "重新立案 reopen", "refile", roles=ADMIN_ONLY, note_required=True),
]
TRANSITIONS: dict[tuple[str, str], Transition] = {(t.from_status, t.to_status): t for t in _MOVES}


def allowed_from(status: str) -> list[str]:
    """The states reachable from ``status`` in one transition (moves made by a callback left out)."""
    return [t.to_status for t in _MOVES if t.from_status == status and t.via == "transition"]


def manual_transitions() -> list[Transition]:
    """The moves the transition endpoint makes (the pages show these as buttons)."""
    return [t for t in _MOVES if t.via == "transition"]


def check_transition(current: str, target: str, role: str, note: str | None) -> Transition:
    """The transition ``current → target`` if ``role`` may make it now.

    Raises
    ------
    InvalidInput
        ``target`` is not a state, or the transition needs a note and none was given (422).
    Conflict
        The move is not allowed from the current state (409), or is made only by a callback.
    Forbidden
        The role may not make this move (403).
    """
    if target not in STATES:
        raise InvalidInput("incident.unknown_state", state=repr(target), states=list(STATES))
    transition = TRANSITIONS.get((current, target))
    if transition is not None and transition.via == "feedback":
        raise Conflict("incident.needs_callback", current=state_name(current), target=state_name(target))
    if transition is None:
        reachable = allowed_from(current)
        if not reachable:
            raise Conflict("incident.state_final", current=state_name(current), target=state_name(target))
        raise Conflict(
            "incident.transition_not_allowed",
            current=state_name(current),
            target=state_name(target),
            allowed=[state_name(s) for s in reachable],
        )
    if role != "admin" and role not in transition.roles:
        raise Forbidden(
            "incident.role_may_not",
            role=message(f"role.{role}"),
            action=transition.action_name,
            current=state_name(current),
            target=state_name(target),
            roles=[message(f"role.{r}") for r in ("admin", *transition.roles)],
        )
    if transition.note_required and not (note or "").strip():
        raise InvalidInput(
            "incident.note_required",
            action=transition.action_name,
            current=state_name(current),
            target=state_name(target),
        )
    return transition


def state_name(status: str) -> Message:
    """A state in the reader's language (已上报, 已立案 …)."""
    return message(f"incident.state.{status}")


def open311_status(status: str) -> Literal["open", "closed"]:
    """GeoReport v2 knows two statuses: a request is ``closed`` once the loop is closed or it was rejected."""
    return "closed" if status in FINISHED else "open"


def statuses_for_open311(open311: str) -> list[str]:
    """Our states that an Open311 ``status`` filter value stands for."""
    if open311 == "closed":
        return sorted(FINISHED)
    if open311 == "open":
        return [s for s in STATES if s not in FINISHED]
    raise InvalidInput("open311.bad_status", status=repr(open311))
