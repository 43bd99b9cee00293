"""并案: duplicates suggested on intake by walking distance (a river or a railway separates), the dispatcher's
merge, duplicates following their case, and every caller called back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.clock import ManualClock
from geo_service.db.pool import Database
from geo_service.incidents.context import IncidentContext
from geo_service.incidents.escalation import sweep
from geo_service.settings import IncidentSettings
from tests.incidents.areas import incident

pytestmark = pytest.mark.usefixtures("areas")
START = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
# inside the test district, more than 300 m from every walkable edge of the Helsinki extract (its data stops at
# 24.935 E, 60.164 N): positions only a straight line can compare
OFF_NETWORK = (24.9308, 60.1606)
KM_PER_DEG_LAT = 111.2


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture(scope="module")
def app_client(db: Database, areas: None, clock: ManualClock) -> Iterator[TestClient]:
    app = create_app(db=db, clock=clock, incident_settings=IncidentSettings(escalation_enabled=False))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def fresh_window(clock: ManualClock) -> None:
    """Each test starts a week after the last one: no earlier case is within the duplicate window."""
    clock.advance(days=7)


def _offset(lon: float, lat: float, metres: float, bearing: float) -> tuple[float, float]:
    return (
        lon + metres * np.cos(bearing) / (KM_PER_DEG_LAT * 1000 * np.cos(np.radians(lat))),
        lat + metres * np.sin(bearing) / (KM_PER_DEG_LAT * 1000),
    )


def _route_m(client: TestClient, a: tuple[float, float], b: tuple[float, float]) -> float:
    """The walking route's length from the public route API (inf when no route joins them)."""
    found = client.get("/api/route", params={"from": f"{a[0]},{a[1]}", "to": f"{b[0]},{b[1]}"})
    return float(found.json()["properties"]["distance_m"]) if found.status_code == 200 else float("inf")


@pytest.fixture(scope="module")
def pairs(app_client: TestClient) -> dict[str, tuple[tuple[float, float], tuple[float, float]]]:
    """Two pairs of points 50–100 m apart in a straight line, found on the real Helsinki network: one an easy
    walk (under 130 m on foot), one that water, a railway or a fence separates (over 300 m on foot, or no
    walk at all)."""
    rng = np.random.default_rng(17)
    found: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {}
    for _ in range(400):
        a = (rng.uniform(24.938, 24.951), rng.uniform(60.1655, 60.1775))
        b = _offset(*a, rng.uniform(50, 100), rng.uniform(0, 2 * np.pi))
        walk = _route_m(app_client, a, b)
        if walk == float("inf") and _route_m(app_client, a, a) == float("inf"):
            continue  # a is off the network
        kind = "walkable" if walk < 130 else "separated" if walk > 300 else None
        if kind and kind not in found:
            found[kind] = (a, b)
        if len(found) == 2:
            return found
    raise AssertionError(f"no pair of each kind found: {found}")


def _file(client: TestClient, headers: dict, point: tuple[float, float], category: str = "E0102", **extra):
    response = incident(client, headers, point, category=category, **extra)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_second_report_of_the_same_event_is_suggested(
    app_client: TestClient, dispatcher_headers: dict, pairs: dict, clock: ManualClock, fresh_window: None
) -> None:
    a, b = pairs["walkable"]
    first = _file(app_client, dispatcher_headers, a, "E0102", description="小区门口垃圾")
    assert first["duplicates"] == []
    clock.advance(hours=2)
    # a related class (积存垃圾渣土, same major class 市容环境) from a second caller, an easy walk away
    second = _file(app_client, dispatcher_headers, b, "E0103", description="门口有一堆垃圾")
    suggested = {d["id"]: d for d in second["duplicates"]}
    assert first["id"] in suggested
    hit = suggested[first["id"]]
    assert hit["method"] == "walk" and hit["straight_m"] <= hit["distance_m"] <= 150
    # listed for the dispatcher too, both ways
    listed = app_client.get(f"/api/incidents/{first['id']}/duplicates", headers=dispatcher_headers).json()
    assert second["id"] in {d["id"] for d in listed["duplicates"]} and listed["walk_m"] == 150
    # another major class at the same spot is not the same event
    other = _file(app_client, dispatcher_headers, b, "E0501")
    assert first["id"] not in {d["id"] for d in other["duplicates"]}


def test_water_or_a_railway_between_them_means_another_event(
    app_client: TestClient, dispatcher_headers: dict, pairs: dict, fresh_window: None
) -> None:
    a, b = pairs["separated"]
    first = _file(app_client, dispatcher_headers, a)
    second = _file(app_client, dispatcher_headers, b)
    assert first["id"] not in {d["id"] for d in second["duplicates"]}
    assert _route_m(app_client, a, b) > 300  # though a straight line says they are 50–100 m apart


def test_off_the_network_the_straight_line_decides(
    app_client: TestClient, dispatcher_headers: dict, fresh_window: None
) -> None:
    first = _file(app_client, dispatcher_headers, OFF_NETWORK)
    near = _file(app_client, dispatcher_headers, _offset(*OFF_NETWORK, 40, 0.3))
    far = _file(app_client, dispatcher_headers, _offset(*OFF_NETWORK, 250, 0.3))
    hit = next(d for d in near["duplicates"] if d["id"] == first["id"])
    assert hit["method"] == "straight" and 35 < hit["distance_m"] < 45
    assert first["id"] not in {d["id"] for d in far["duplicates"]}


def test_only_open_cases_within_the_window(
    app_client: TestClient, dispatcher_headers: dict, pairs: dict, clock: ManualClock, fresh_window: None
) -> None:
    a, b = pairs["walkable"]
    old = _file(app_client, dispatcher_headers, a)
    clock.advance(hours=73)  # beyond the 72-hour window
    rejected = _file(app_client, dispatcher_headers, a)
    app_client.post(
        f"/api/incidents/{rejected['id']}/transition",
        json={"to": "rejected", "note": "误报"},
        headers=dispatcher_headers,
    )
    late = _file(app_client, dispatcher_headers, b)
    ids = {d["id"] for d in late["duplicates"]}
    assert old["id"] not in ids and rejected["id"] not in ids


def _move(client: TestClient, headers: dict, incident_id: int, *steps: str) -> dict:
    body = {}
    for step in steps:
        response = client.post(
            f"/api/incidents/{incident_id}/transition", json={"to": step, "note": "n"}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
    return body


def _get(client: TestClient, headers: dict, incident_id: int) -> dict:
    return client.get(f"/api/incidents/{incident_id}", headers=headers).json()


def _history(client: TestClient, headers: dict, incident_id: int) -> list[dict]:
    return client.get(f"/api/incidents/{incident_id}/history", headers=headers).json()["history"]


def test_merge_follow_and_call_every_caller_back(
    app_client: TestClient, dispatcher_headers: dict, pairs: dict, fresh_window: None
) -> None:
    h = dispatcher_headers
    a, b = pairs["walkable"]
    case = _file(app_client, h, a, reporter={"name": "甲", "phone": "13800000001"})
    dup = _file(app_client, h, b, reporter={"name": "乙", "phone": "13800000002"})
    _move(app_client, h, case["id"], "filed", "dispatched")
    merged = app_client.post(f"/api/incidents/{dup['id']}/merge", json={"into": case["id"]}, headers=h)
    assert merged.status_code == 200, merged.text
    assert merged.json()["merged_into"] == case["id"] and merged.json()["status"] == "dispatched"
    assert merged.json()["reporter"]["name"] == "乙"  # the duplicate keeps its own caller
    assert _get(app_client, h, case["id"])["duplicates_merged"] == [dup["id"]]
    merged_in = [e for e in _history(app_client, h, case["id"]) if e["action"] == "merged_in"]
    assert merged_in and merged_in[0]["detail"]["incident"] == dup["id"]
    # the duplicate moves only with its case
    refused = app_client.post(f"/api/incidents/{dup['id']}/transition", json={"to": "in_progress"}, headers=h)
    assert refused.status_code == 409 and refused.json()["code"] == "incident.merged_follows"
    _move(app_client, h, case["id"], "in_progress", "resolved")
    assert _get(app_client, h, dup["id"])["status"] == "resolved"
    assert [e["action"] for e in _history(app_client, h, dup["id"])][-2:] == ["followed", "followed"]
    # each caller is called back: the case's caller is satisfied and the case closes...
    closed = app_client.post(
        f"/api/incidents/{case['id']}/feedback",
        json={"reached": True, "satisfaction": "satisfied"},
        headers=h,
    )
    assert closed.json()["status"] == "closed"
    dup_now = _get(app_client, h, dup["id"])
    assert (
        dup_now["status"] == "resolved" and dup_now["awaiting_callback"]
    )  # ...the duplicate waits for its call
    # ...the duplicate's caller is not satisfied: the case goes back to work, the duplicate with it
    reopened = app_client.post(
        f"/api/incidents/{dup['id']}/feedback",
        headers=h,
        json={"reached": True, "satisfaction": "unsatisfied", "note": "垃圾还在"},
    )
    assert reopened.status_code == 200 and reopened.json()["status"] == "dispatched"
    case_now = _get(app_client, h, case["id"])
    assert case_now["status"] == "dispatched" and case_now["reopened"] == 1 and case_now["closed_at"] is None
    assert any(
        e["action"] == "reopened" and e["detail"]["by_incident"] == dup["id"]
        for e in _history(app_client, h, case["id"])
    )
    _move(app_client, h, case["id"], "in_progress", "resolved")
    for incident_id in (case["id"], dup["id"]):
        done = app_client.post(
            f"/api/incidents/{incident_id}/feedback",
            headers=h,
            json={"reached": True, "satisfaction": "basically_satisfied"},
        )
        assert done.json()["status"] == "closed"
    calls = app_client.get(f"/api/incidents/{dup['id']}/callbacks", headers=h).json()["callbacks"]
    assert [c["satisfaction"] for c in calls] == ["unsatisfied", "basically_satisfied"]


def test_merge_rules(
    app_client: TestClient, dispatcher_headers: dict, pairs: dict, fresh_window: None
) -> None:
    h = dispatcher_headers
    a, b = pairs["walkable"]
    one, two, three, four = (_file(app_client, h, p)["id"] for p in (a, b, a, b))

    def merge(source: int, into: int, note: str | None = None):
        return app_client.post(f"/api/incidents/{source}/merge", json={"into": into, "note": note}, headers=h)

    assert merge(one, one).json()["code"] == "loop.merge_into_itself"
    assert merge(one, 999999).status_code == 404
    assert merge(two, one).status_code == 200
    assert merge(two, one).status_code == 200  # again: nothing changes
    assert merge(one, two).json()["code"] == "loop.merge_into_duplicate"  # no cycle
    assert merge(two, three).json()["code"] == "loop.already_merged"
    # a case with duplicates merged into another takes them along: still one level deep
    assert merge(one, three).status_code == 200
    assert _get(app_client, h, two)["merged_into"] == three
    assert sorted(_get(app_client, h, three)["duplicates_merged"]) == sorted([one, two])
    # finished cases: a note is needed, and nothing goes into a rejected case
    _move(app_client, h, four, "rejected")
    assert merge(three, four, "同一事件").json()["code"] == "loop.merge_into_rejected"
    five = _file(app_client, h, a)["id"]
    _move(app_client, h, five, "filed", "dispatched", "in_progress", "resolved")
    app_client.post(
        f"/api/incidents/{five}/feedback", json={"reached": True, "satisfaction": "satisfied"}, headers=h
    )
    needs_note = merge(five, three)
    assert needs_note.status_code == 422 and needs_note.json()["code"] == "loop.merge_note_required"
    assert _get(app_client, h, five)["status"] == "closed"  # nothing changed
    assert (
        merge(five, three, "重复来电，并入处理中的事件").json()["status"]
        == _get(app_client, h, three)["status"]
    )
    # merging is a dispatcher's
    planner = app_client.post(f"/api/incidents/{one}/merge", json={"into": three})
    assert planner.status_code == 401


def test_duplicates_do_not_escalate_on_their_own(
    app_client: TestClient,
    db: Database,
    dispatcher_headers: dict,
    pairs: dict,
    clock: ManualClock,
    fresh_window: None,
) -> None:
    h = dispatcher_headers
    a, b = pairs["walkable"]
    case, dup = _file(app_client, h, a)["id"], _file(app_client, h, b)["id"]
    app_client.post(f"/api/incidents/{dup}/merge", json={"into": case}, headers=h)
    clock.advance(hours=5)  # E0102 is due after 4 hours at the grid
    ctx = IncidentContext.create(db, IncidentSettings(), clock=clock)
    escalated = {e.incident_id for e in sweep(ctx)}
    assert case in escalated and dup not in escalated
    assert _get(app_client, h, case)["missed_deadline"] is True
    dup_now = _get(app_client, h, dup)
    assert dup_now["status"] == "escalated" and dup_now["escalations"] == 0  # it follows, it is not escalated
