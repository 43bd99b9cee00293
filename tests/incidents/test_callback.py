"""回访: a resolved case is called back; only the call closes it, an unsatisfied caller reopens it to its owner
with a fresh deadline, and three unreached calls close it as a failed callback. Open311 follows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.clock import ManualClock
from geo_service.db.pool import Database
from geo_service.settings import IncidentSettings
from tests.incidents.areas import incident

pytestmark = pytest.mark.usefixtures("areas")
START = datetime(2025, 6, 2, 0, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture(scope="module")
def app_client(db: Database, areas: None, clock: ManualClock) -> Iterator[TestClient]:
    app = create_app(db=db, clock=clock, incident_settings=IncidentSettings(escalation_enabled=False))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _resolved(client: TestClient, headers: dict, point: str = "grid_1", category: str = "E0102") -> int:
    incident_id = incident(client, headers, point, category=category).json()["id"]
    for step in ("filed", "dispatched", "in_progress", "resolved"):
        assert (
            client.post(
                f"/api/incidents/{incident_id}/transition", json={"to": step}, headers=headers
            ).status_code
            == 200
        )
    return incident_id


def _call(client: TestClient, headers: dict, incident_id: int, **body):
    return client.post(f"/api/incidents/{incident_id}/feedback", json=body, headers=headers)


def test_satisfied_closes(app_client: TestClient, dispatcher_headers: dict, clock: ManualClock) -> None:
    incident_id = _resolved(app_client, dispatcher_headers)
    clock.advance(hours=3)
    done = _call(app_client, dispatcher_headers, incident_id, reached=True, satisfaction="satisfied")
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "closed" and datetime.fromisoformat(body["closed_at"]) == clock.now
    assert body["callback"]["outcome"] == "closed" and body["callback"]["satisfaction"] == "satisfied"
    history = app_client.get(f"/api/incidents/{incident_id}/history", headers=dispatcher_headers).json()[
        "history"
    ]
    last = history[-1]
    assert (last["action"], last["from_status"], last["to_status"]) == ("feedback", "resolved", "closed")
    assert last["note"] == "已回访，群众满意，结案。"  # the system's note, in the reader's language
    again = _call(app_client, dispatcher_headers, incident_id, reached=True, satisfaction="satisfied")
    assert again.status_code == 409 and again.json()["code"] == "loop.callback_not_due"


def test_unsatisfied_reopens_to_the_owner_with_its_own_deadline(
    app_client: TestClient, dispatcher_headers: dict, clock: ManualClock
) -> None:
    incident_id = _resolved(app_client, dispatcher_headers)  # E0102: 4 hours at the grid
    clock.advance(hours=30)
    answer = _call(
        app_client,
        dispatcher_headers,
        incident_id,
        reached=True,
        satisfaction="unsatisfied",
        note="垃圾没有清干净",
    )
    body = answer.json()
    assert body["status"] == "dispatched" and body["owner_level"] == "grid" and body["reopened"] == 1
    assert datetime.fromisoformat(body["due_at"]) == clock.now + timedelta(hours=4)
    assert body["overdue"] is False and body["closed_at"] is None
    history = app_client.get(f"/api/incidents/{incident_id}/history", headers=dispatcher_headers).json()[
        "history"
    ]
    assert history[-1]["note"] == "垃圾没有清干净" and history[-1]["detail"]["due_at"]
    # handled again and called again
    for step in ("in_progress", "resolved"):
        app_client.post(
            f"/api/incidents/{incident_id}/transition", json={"to": step}, headers=dispatcher_headers
        )
    assert (
        _call(
            app_client, dispatcher_headers, incident_id, reached=True, satisfaction="basically_satisfied"
        ).json()["status"]
        == "closed"
    )


def test_three_unreached_calls_close_as_a_failed_callback(
    app_client: TestClient, dispatcher_headers: dict, clock: ManualClock
) -> None:
    incident_id = _resolved(app_client, dispatcher_headers)
    app_client.post(
        f"/api/incidents/{incident_id}/transition", json={"to": "verified"}, headers=dispatcher_headers
    )
    outcomes = []
    for _ in range(3):
        clock.advance(hours=4)
        outcomes.append(_call(app_client, dispatcher_headers, incident_id, reached=False).json())
    assert [o["callback"]["outcome"] for o in outcomes] == ["retry", "retry", "failed"]
    assert [o["status"] for o in outcomes] == ["verified", "verified", "closed"]
    assert outcomes[-1]["callback_attempts"] == 3
    notes = [
        h["note"]
        for h in app_client.get(f"/api/incidents/{incident_id}/history", headers=dispatcher_headers).json()[
            "history"
        ][-3:]
    ]
    assert (
        notes[0] == "第 1 次回访未接通（共可回访 3 次）。"
        and notes[-1] == "回访 3 次均未接通，按回访失败结案。"
    )


def test_bad_answers_change_nothing(
    app_client: TestClient, dispatcher_headers: dict, planner_headers: dict
) -> None:
    incident_id = _resolved(app_client, dispatcher_headers)
    before = app_client.get(f"/api/incidents/{incident_id}", headers=dispatcher_headers).json()
    for body, code in (
        ({"reached": True}, "loop.satisfaction_required"),
        ({"reached": True, "satisfaction": "thrilled"}, "loop.unknown_satisfaction"),
        ({"reached": False, "satisfaction": "satisfied"}, "loop.satisfaction_unreached"),
    ):
        refused = _call(app_client, dispatcher_headers, incident_id, **body)
        assert refused.status_code == 422 and refused.json()["code"] == code
    assert _call(app_client, planner_headers, incident_id, reached=False).status_code == 403
    assert _call(app_client, {}, incident_id, reached=False).status_code == 401
    assert _call(app_client, dispatcher_headers, 999999, reached=False).status_code == 404
    fresh = incident(app_client, dispatcher_headers, "grid_1").json()["id"]
    not_due = _call(app_client, dispatcher_headers, fresh, reached=False)
    assert not_due.status_code == 409 and "还不需要回访" in not_due.json()["message"]
    assert app_client.get(f"/api/incidents/{incident_id}", headers=dispatcher_headers).json() == before
    assert (
        app_client.get(f"/api/incidents/{incident_id}/callbacks", headers=dispatcher_headers).json()[
            "callbacks"
        ]
        == []
    )


def test_open311_stays_open_until_the_callback(app_client: TestClient, dispatcher_headers: dict) -> None:
    incident_id = _resolved(app_client, dispatcher_headers)
    url = f"/open311/v2/requests/{incident_id}.json"
    assert app_client.get(url).json()[0]["status"] == "open"
    _call(app_client, dispatcher_headers, incident_id, reached=False)
    full = app_client.get(url, headers=dispatcher_headers).json()[0]
    assert full["status"] == "open" and full["status_notes"] == "第 1 次回访未接通（共可回访 3 次）。"
    _call(
        app_client, dispatcher_headers, incident_id, reached=True, satisfaction="satisfied", note="群众满意"
    )
    full = app_client.get(url, headers={**dispatcher_headers, "Accept-Language": "en"}).json()[0]
    assert full["status"] == "closed" and full["status_notes"] == "群众满意"
    assert app_client.get(url).json()[0]["status"] == "closed"
