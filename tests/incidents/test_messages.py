"""What the system writes about an incident is stored as a catalogue code and read in the reader's language:
escalation and intake notes, state and action names, errors of the loop; old free-text notes stay readable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.clock import ManualClock
from geo_service.db.pool import Database
from geo_service.incidents.escalation import sweep
from geo_service.settings import IncidentSettings
from tests.incidents.areas import incident

pytestmark = pytest.mark.usefixtures("areas")
START = datetime(2024, 5, 6, 1, 0, tzinfo=UTC)
EN = {"Accept-Language": "en"}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def timed(db: Database, clock: ManualClock) -> Iterator[TestClient]:
    app = create_app(db=db, clock=clock, incident_settings=IncidentSettings(escalation_enabled=False))
    with TestClient(app) as client:
        yield client


def _history(client: TestClient, headers: dict, incident_id: int) -> list[dict]:
    response = client.get(f"/api/incidents/{incident_id}/history", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["history"]


def test_escalation_notes_are_stored_as_codes_and_read_in_either_language(
    timed: TestClient, clock: ManualClock, dispatcher_headers: dict, db: Database
) -> None:
    created = incident(timed, dispatcher_headers, "grid_1", category="E0102").json()  # 4 h at the grid
    clock.advance(hours=5)
    sweep(timed.app.state.incident_context)
    with db.cursor() as cur:
        cur.execute(
            "SELECT note, detail FROM incident_history WHERE incident_id = %s AND action = 'escalated'",
            (created["id"],),
        )
        stored = cur.fetchone()
    assert stored["note"] is None  # no English sentence in the database
    assert stored["detail"]["note"]["code"] == "incident.note.escalated_overdue"
    zh = _history(timed, dispatcher_headers, created["id"])[-1]
    assert zh["note"] == "在网格一级超期未办结，已上报社区“西南社区”。"
    en = _history(timed, {**dispatcher_headers, **EN}, created["id"])[-1]
    assert en["note"] == "overdue at the grid level; escalated to community 西南社区"
    # the intake's notes too: the 'created' entry keeps its notes as codes
    first = _history(timed, dispatcher_headers, created["id"])[0]
    assert first["action"] == "created" and isinstance(first["detail"]["notes"], list)
    # Open311 reads the same note in the negotiated language (notes are for dispatchers: a token shows them)
    url = f"/open311/v2/requests/{created['id']}.json"
    zh_request = timed.get(url, headers=dispatcher_headers).json()[0]
    en_request = timed.get(url, headers={**dispatcher_headers, **EN}).json()[0]
    assert zh_request["status_notes"] == zh["note"] and en_request["status_notes"] == en["note"]


def test_old_free_text_notes_stay_readable(
    client: TestClient, dispatcher_headers: dict, db: Database
) -> None:
    created = incident(client, dispatcher_headers, "grid_2").json()
    with db.cursor() as cur:  # a row written before the catalogues existed
        cur.execute(
            """INSERT INTO incident_history (incident_id, at, actor, action, from_status, to_status, note, detail)
               VALUES (%s, now(), 'system:escalation', 'escalated', 'reported', 'escalated',
                       'overdue at the grid level; escalated to community 西南社区', '{"reason": "overdue"}')""",
            (created["id"],),
        )
    last = _history(client, dispatcher_headers, created["id"])[-1]
    assert last["note"] == "overdue at the grid level; escalated to community 西南社区"
    request = client.get(f"/open311/v2/requests/{created['id']}.json", headers=dispatcher_headers).json()[0]
    assert request["status_notes"] == last["note"]


def test_states_actions_and_loop_errors_in_the_readers_language(
    client: TestClient, dispatcher_headers: dict, planner_headers: dict
) -> None:
    created = incident(client, dispatcher_headers, "grid_1").json()
    assert created["status_name"] == "已上报"
    url = f"/api/incidents/{created['id']}/transition"
    wrong = client.post(url, json={"to": "closed"}, headers=dispatcher_headers)
    assert wrong.status_code == 409 and wrong.json()["code"] == "incident.transition_not_allowed"
    assert wrong.json()["message"] == "事件当前为“已上报”，不能直接改为“已结案”；可以改为：已立案、不予立案。"
    assert "cannot go from reported to closed" in wrong.json()["detail"]  # English detail, as before
    no_note = client.post(url, json={"to": "rejected"}, headers={**dispatcher_headers, **EN})
    assert no_note.status_code == 422 and no_note.json()["message"].startswith("reject (reported → rejected)")
    role = client.post(url, json={"to": "filed"}, headers=planner_headers)
    assert role.status_code == 403 and "规划人员无权执行“立案”" in role.json()["message"]
    moved = client.post(url, json={"to": "filed"}, headers=dispatcher_headers).json()
    assert moved["status_name"] == "已立案"
    step = _history(client, dispatcher_headers, created["id"])[-1]
    assert step["detail"]["label"] == "立案" and step["detail"]["action"] == "file"
    assert client.get("/api/incidents/999999", headers=dispatcher_headers).json()["message"] == (
        "找不到编号为 999999 的事件。"
    )
