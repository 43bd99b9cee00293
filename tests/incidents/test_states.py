"""The closed-loop state machine, without the database: every move not listed is refused."""

from __future__ import annotations

import itertools

import pytest

from geo_service.errors import Conflict, Forbidden, InvalidInput
from geo_service.incidents import states

MAIN_PATH = ["reported", "filed", "dispatched", "in_progress", "resolved", "verified"]


def test_main_path_is_allowed_for_dispatchers() -> None:
    for current, target in itertools.pairwise(MAIN_PATH):
        assert states.check_transition(current, target, "dispatcher", None).to_status == target


@pytest.mark.parametrize(
    ("current", "target"), [k for k, t in states.TRANSITIONS.items() if t.via == "feedback"]
)
def test_closing_and_reopening_are_made_by_the_callback_only(current: str, target: str) -> None:
    """Since the loop issue: no one closes a case by a transition, not even an admin (回访 closes it)."""
    for role in ("dispatcher", "admin"):
        with pytest.raises(Conflict, match=f"cannot go from {current} to {target} by a transition"):
            states.check_transition(current, target, role, "a note")
    assert target not in states.allowed_from(current)


def test_grid_workers_take_hand_back_and_resolve() -> None:
    assert states.check_transition("dispatched", "in_progress", "worker", None).action == "start"
    assert states.check_transition("escalated", "in_progress", "worker", None).action == "start"
    assert states.check_transition("in_progress", "resolved", "worker", None).action == "resolve"
    assert states.check_transition("dispatched", "filed", "worker", "不属于本网格").action == "return"
    for current, target in (
        ("reported", "filed"),
        ("filed", "dispatched"),
        ("resolved", "verified"),
        ("in_progress", "escalated"),
    ):
        with pytest.raises(Forbidden):
            states.check_transition(current, target, "worker", "a note")


@pytest.mark.parametrize(
    ("current", "target"),
    [pair for pair in itertools.product(states.STATES, repeat=2) if pair not in states.TRANSITIONS],
)
def test_every_unlisted_transition_is_refused(current: str, target: str) -> None:
    for role in ("dispatcher", "admin"):
        with pytest.raises(Conflict, match=f"cannot go from {current} to {target}"):
            states.check_transition(current, target, role, "a note")


def test_unknown_state_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="unknown state"):
        states.check_transition("reported", "teleported", "dispatcher", None)


def test_roles() -> None:
    with pytest.raises(Forbidden):
        states.check_transition("reported", "filed", "planner", None)
    with pytest.raises(Forbidden):
        states.check_transition("reported", "filed", "worker", None)
    with pytest.raises(Forbidden, match="admin"):
        states.check_transition("closed", "filed", "dispatcher", "caller unhappy")
    assert states.check_transition("closed", "filed", "admin", "caller unhappy").to_status == "filed"


@pytest.mark.parametrize(("current", "target"), [k for k, t in states.TRANSITIONS.items() if t.note_required])
def test_notes_required_where_a_reason_matters(current: str, target: str) -> None:
    with pytest.raises(InvalidInput, match="needs a note"):
        states.check_transition(current, target, "admin", "  ")


def test_open311_status_mapping() -> None:
    assert states.open311_status("closed") == states.open311_status("rejected") == "closed"
    for status in ("reported", "filed", "dispatched", "in_progress", "resolved", "verified", "escalated"):
        assert states.open311_status(status) == "open"
    assert sorted(states.statuses_for_open311("open") + states.statuses_for_open311("closed")) == sorted(
        states.STATES
    )
