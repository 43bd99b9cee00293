"""The closed loop over HTTP: the main path, every illegal move refused with nothing changed, roles, history."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from geo_service.db.pool import Database
from geo_service.incidents import states
from tests.conftest import auth_headers
from tests.incidents.areas import incident

pytestmark = pytest.mark.usefixtures("areas")
# the callback closes the case (POST .../feedback): no transition does since the loop issue
MAIN_PATH = ["filed", "dispatched", "in_progress", "resolved", "verified"]


def _move(client: TestClient, headers: dict, incident_id: int, to: str, note: str | None = None):
    return client.post(
        f"/api/incidents/{incident_id}/transition", json={"to": to, "note": note}, headers=headers
    )


def _snapshot(client: TestClient, headers: dict, incident_id: int) -> tuple[dict, int]:
    row = client.get(f"/api/incidents/{incident_id}", headers=headers).json()
    history = client.get(f"/api/incidents/{incident_id}/history", headers=headers).json()["history"]
    return row, len(history)


def test_every_illegal_transition_is_refused_along_the_loop(
    client: TestClient, dispatcher_headers: dict
) -> None:
    incident_id = incident(client, dispatcher_headers, "grid_1").json()["id"]
    for target in [*MAIN_PATH, None]:
        row, entries = _snapshot(client, dispatcher_headers, incident_id)
        current = row["status"]
        for illegal in states.STATES:
            if (current, illegal) in states.TRANSITIONS:
                continue
            response = _move(client, dispatcher_headers, incident_id, illegal, "trying")
            assert response.status_code == 409, (current, illegal, response.text)
            assert f"cannot go from {current} to {illegal}" in response.json()["detail"]
        assert _snapshot(client, dispatcher_headers, incident_id) == (row, entries)  # nothing changed
        if target is not None:
            moved = _move(client, dispatcher_headers, incident_id, target, f"to {target}")
            assert moved.status_code == 200, moved.text
            assert moved.json()["status"] == target
    assert row["status"] == "verified" and row["closed_at"] is None
    # closing is the callback's: a transition to closed is refused, the callback closes it
    refused = _move(client, dispatcher_headers, incident_id, "closed", "done")
    assert refused.status_code == 409 and refused.json()["code"] == "incident.needs_callback"
    called = client.post(
        f"/api/incidents/{incident_id}/feedback",
        headers=dispatcher_headers,
        json={"reached": True, "satisfaction": "basically_satisfied", "note": "基本满意"},
    )
    assert called.status_code == 200, called.text
    row, _ = _snapshot(client, dispatcher_headers, incident_id)
    assert row["status"] == "closed" and row["closed_at"] is not None
    for illegal in states.STATES:  # closed is final for dispatchers
        assert _move(client, dispatcher_headers, incident_id, illegal, "trying").status_code in (
            403,
            409,
            422,
        )


def test_history_records_actor_note_and_time(client: TestClient, db: Database) -> None:
    headers = auth_headers(db, "dispatcher")  # actor label test-dispatcher
    incident_id = incident(client, headers, "grid_2").json()["id"]
    _move(client, headers, incident_id, "filed", "立案：属实")
    _move(client, headers, incident_id, "dispatched", "派遣至网格员张三")
    history = client.get(f"/api/incidents/{incident_id}/history", headers=headers).json()["history"]
    assert [(h["action"], h["from_status"], h["to_status"]) for h in history] == [
        ("created", None, "reported"),
        ("transition", "reported", "filed"),
        ("transition", "filed", "dispatched"),
    ]
    assert {h["actor"] for h in history} == {"test-dispatcher"}
    assert history[2]["note"] == "派遣至网格员张三"
    assert history[0]["at"] <= history[1]["at"] <= history[2]["at"] and history[2]["at"].endswith("+08:00")
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            "SELECT count(*) FROM audit_log WHERE entity = 'incident' AND entity_id = %s", (str(incident_id),)
        )
        assert cur.fetchone()[0] == 3


def test_side_paths_and_roles(
    client: TestClient, dispatcher_headers: dict, planner_headers: dict, admin_headers: dict
) -> None:
    incident_id = incident(client, dispatcher_headers, "grid_1").json()["id"]
    assert _move(client, planner_headers, incident_id, "filed").status_code == 403
    assert _move(client, {}, incident_id, "filed").status_code == 401
    assert (
        _move(client, dispatcher_headers, incident_id, "rejected").status_code == 422
    )  # a reason is required
    assert (
        _move(client, dispatcher_headers, incident_id, "rejected", "not within our remit").status_code == 200
    )
    reopen = _move(client, dispatcher_headers, incident_id, "filed", "caller insists")
    assert reopen.status_code == 403 and "admin" in reopen.json()["detail"]
    assert _move(client, admin_headers, incident_id, "filed", "caller insists").json()["status"] == "filed"
    # verification failed: back to work
    for step in ("dispatched", "in_progress", "resolved"):
        _move(client, dispatcher_headers, incident_id, step)
    back = _move(client, dispatcher_headers, incident_id, "in_progress", "rubbish still there")
    assert back.status_code == 200 and back.json()["status"] == "in_progress"
    assert _move(client, dispatcher_headers, 999999, "filed").status_code == 404
    assert _move(client, dispatcher_headers, incident_id, "teleported").status_code == 422
