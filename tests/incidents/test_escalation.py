"""Escalation after the deadline, grid → community → street → district, with an injected clock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.clock import ManualClock
from geo_service.db.pool import Database
from geo_service.incidents.escalation import ACTOR, sweep
from geo_service.settings import IncidentSettings
from tests.conftest import auth_headers
from tests.incidents.areas import COMMUNITY_SE, COMMUNITY_SW, DISTRICT, GRID_1, STREET_E, STREET_W, incident

pytestmark = pytest.mark.usefixtures("areas")
START = datetime(2024, 3, 1, 1, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def timed(db: Database, clock: ManualClock) -> Iterator[TestClient]:
    """A client whose incident services read ``clock``; the periodic job is off (sweeps are called here)."""
    app = create_app(db=db, clock=clock, incident_settings=IncidentSettings(escalation_enabled=False))
    with TestClient(app) as client:
        yield client


def _history(client: TestClient, headers: dict, incident_id: int) -> list[dict]:
    return client.get(f"/api/incidents/{incident_id}/history", headers=headers).json()["history"]


def test_overdue_incident_climbs_the_ladder(
    timed: TestClient, clock: ManualClock, dispatcher_headers: dict
) -> None:
    ctx = timed.app.state.incident_context
    created = incident(timed, dispatcher_headers, "grid_1", category="E0102").json()  # 4 h, 8 h, 24 h, 120 h
    assert created["owner_level"] == "grid"
    assert datetime.fromisoformat(created["due_at"]) == START + timedelta(hours=4)

    clock.advance(hours=3, minutes=59)
    assert [e.incident_id for e in sweep(ctx)].count(created["id"]) == 0  # not yet
    clock.advance(minutes=2)
    assert created["id"] in [e.incident_id for e in sweep(ctx)]
    now = timed.get(f"/api/incidents/{created['id']}", headers=dispatcher_headers).json()
    assert (
        now["status"] == "escalated"
        and now["owner_level"] == "community"
        and now["owner_code"] == COMMUNITY_SW
    )
    assert datetime.fromisoformat(now["due_at"]) == clock.now + timedelta(hours=8)  # the community's own time
    assert now["grid_code"] == GRID_1  # the territory does not change, the owner does

    clock.advance(hours=8, minutes=1)
    sweep(ctx)
    clock.advance(hours=24, minutes=1)
    sweep(ctx)
    now = timed.get(f"/api/incidents/{created['id']}", headers=dispatcher_headers).json()
    assert now["owner_level"] == "district" and now["owner_code"] == DISTRICT and now["escalations"] == 3

    clock.advance(hours=121)
    sweep(ctx)
    sweep(ctx)  # a second sweep adds nothing: the top-level miss is recorded once
    history = _history(timed, dispatcher_headers, created["id"])
    escalations = [h for h in history if h["action"] == "escalated"]
    assert [(h["detail"]["from_level"], h["detail"]["to_level"]) for h in escalations] == [
        ("grid", "community"),
        ("community", "street"),
        ("street", "district"),
    ]
    assert [h["detail"]["to_code"] for h in escalations] == [COMMUNITY_SW, STREET_W, DISTRICT]
    assert all(h["actor"] == ACTOR and h["to_status"] == "escalated" for h in escalations)
    assert datetime.fromisoformat(escalations[0]["at"]) == START + timedelta(hours=4, minutes=1)
    assert [h["action"] for h in history].count("overdue") == 1


def test_escalation_skips_missing_levels(
    timed: TestClient, clock: ManualClock, dispatcher_headers: dict
) -> None:
    created = incident(timed, dispatcher_headers, "community_only", category="E0102").json()
    assert created["owner_level"] == "community"
    clock.advance(hours=9)  # the community's 8 h
    sweep(timed.app.state.incident_context)
    now = timed.get(f"/api/incidents/{created['id']}", headers=dispatcher_headers).json()
    assert now["owner_level"] == "street" and now["owner_code"] == STREET_E
    assert created["areas"][0]["code"] == COMMUNITY_SE


def test_resolved_and_rejected_incidents_do_not_escalate(
    timed: TestClient, clock: ManualClock, dispatcher_headers: dict
) -> None:
    done = incident(timed, dispatcher_headers, "grid_1").json()
    for step in ("filed", "dispatched", "in_progress", "resolved"):
        assert (
            timed.post(
                f"/api/incidents/{done['id']}/transition", json={"to": step}, headers=dispatcher_headers
            ).status_code
            == 200
        )
    rejected = incident(timed, dispatcher_headers, "grid_1").json()
    timed.post(
        f"/api/incidents/{rejected['id']}/transition",
        json={"to": "rejected", "note": "duplicate"},
        headers=dispatcher_headers,
    )
    clock.advance(days=30)
    escalated = {e.incident_id for e in sweep(timed.app.state.incident_context)}
    assert done["id"] not in escalated and rejected["id"] not in escalated


def test_manual_escalation_needs_a_note_and_moves_one_level(
    timed: TestClient, dispatcher_headers: dict
) -> None:
    created = incident(timed, dispatcher_headers, "grid_1").json()
    url = f"/api/incidents/{created['id']}/transition"
    timed.post(url, json={"to": "filed"}, headers=dispatcher_headers)
    assert timed.post(url, json={"to": "escalated"}, headers=dispatcher_headers).status_code == 422
    moved = timed.post(
        url,
        json={"to": "escalated", "note": "needs the street's law enforcement team"},
        headers=dispatcher_headers,
    )
    assert moved.status_code == 200 and moved.json()["owner_level"] == "community"
    last = _history(timed, dispatcher_headers, created["id"])[-1]
    assert last["action"] == "escalated" and last["detail"]["reason"] == "manual"
    assert last["note"] == "needs the street's law enforcement team"


def test_the_job_runs_inside_the_service(db: Database) -> None:
    """The lifespan starts the periodic sweep; with a clock far ahead it escalates on its own."""
    clock = ManualClock(START)
    settings = IncidentSettings(escalation_interval_s=0.05)
    app = create_app(db=db, clock=clock, incident_settings=settings)
    headers = auth_headers(db, "dispatcher")
    with TestClient(app) as client:
        created = incident(client, headers, "grid_2", category="E0402").json()  # emergency: 1 h at the grid
        clock.advance(hours=2)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            history = _history(client, headers, created["id"])
            if any(h["action"] == "escalated" for h in history):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the escalation job did not run")
        assert app.state.escalation.sweeps >= 1
    assert not app.state.escalation.running  # stopped with the app
