"""Numbers per grid, community and street: counts by state, resolution rate, median hours to close, overdue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.clock import ManualClock
from geo_service.db.pool import Database
from geo_service.settings import IncidentSettings
from tests.documented import answered
from tests.incidents.areas import COMMUNITY_SE, COMMUNITY_SW, GRID_1, GRID_2, STREET_W, incident

pytestmark = pytest.mark.usefixtures("areas")
START = datetime(2024, 5, 6, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def story(db: Database, areas: None, dispatcher_headers: dict) -> Iterator[tuple[TestClient, ManualClock]]:
    """GRID_1: one closed after 10 h, one closed after 30 h, one rejected, one left open (and overdue).
    GRID_2: one in progress. COMMUNITY_SE (no grid): one reported."""
    clock = ManualClock(START)
    app = create_app(db=db, clock=clock, incident_settings=IncidentSettings(escalation_enabled=False))
    with TestClient(app) as client:

        def close_after(hours: float) -> None:
            incident_id = incident(client, dispatcher_headers, "grid_1").json()["id"]
            clock.advance(hours=hours)
            for step in ("filed", "dispatched", "in_progress", "resolved", "verified"):
                client.post(
                    f"/api/incidents/{incident_id}/transition", json={"to": step}, headers=dispatcher_headers
                )
            # closed by the callback (回访), the only way a case closes
            client.post(
                f"/api/incidents/{incident_id}/feedback",
                json={"reached": True, "satisfaction": "satisfied"},
                headers=dispatcher_headers,
            )
            clock.now = START

        close_after(10)
        close_after(30)
        rejected = incident(client, dispatcher_headers, "grid_1").json()["id"]
        client.post(
            f"/api/incidents/{rejected}/transition",
            json={"to": "rejected", "note": "duplicate"},
            headers=dispatcher_headers,
        )
        incident(client, dispatcher_headers, "grid_1")  # open; E0102 is due after 4 h
        working = incident(client, dispatcher_headers, "grid_2").json()["id"]
        for step in ("filed", "dispatched", "in_progress"):
            client.post(f"/api/incidents/{working}/transition", json={"to": step}, headers=dispatcher_headers)
        incident(client, dispatcher_headers, "community_only")
        clock.now = START.replace(day=8)  # two days later: the open ones are overdue
        yield client, clock


def _area(body: dict, code: str) -> dict:
    return next(a for a in body["areas"] if a["code"] == code)


def test_grid_numbers(story: tuple[TestClient, ManualClock]) -> None:
    client, _ = story
    document = client.get("/openapi.json").json()
    path = "/api/stats/incidents"
    body = answered(document, path, "get", client.get(path, params={"level": "grid"}))
    assert body["level"] == "grid"
    one = _area(body, GRID_1)
    assert one["name"] == "一网格" and one["total"] == 4
    assert (
        one["by_status"]["closed"] == 2
        and one["by_status"]["rejected"] == 1
        and one["by_status"]["reported"] == 1
    )
    assert one["resolution_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert one["median_hours_to_close"] == pytest.approx(20.0)
    assert one["overdue"] == 1
    two = _area(body, GRID_2)
    assert (two["total"], two["by_status"]["in_progress"], two["resolution_rate"], two["overdue"]) == (
        1,
        1,
        0.0,
        1,
    )
    assert two["median_hours_to_close"] is None
    assert all(a["code"] != COMMUNITY_SE for a in body["areas"])  # 属地兜底 incidents have no grid


def test_community_and_street_levels_and_since(story: tuple[TestClient, ManualClock]) -> None:
    client, _ = story
    community = client.get("/api/stats/incidents", params={"level": "community"}).json()
    assert _area(community, COMMUNITY_SW)["total"] == 5 and _area(community, COMMUNITY_SE)["total"] == 1
    street = client.get("/api/stats/incidents", params={"level": "street"}).json()
    assert _area(street, STREET_W)["total"] == 5 and street["totals"]["total"] == 6
    later = client.get("/api/stats/incidents", params={"level": "grid", "since": "2024-05-07T00:00:00+08:00"})
    assert later.status_code == 200 and later.json()["areas"] == []
    assert client.get("/api/stats/incidents", params={"level": "city"}).status_code == 422
    assert client.get("/api/stats/incidents", params={"since": "yesterday"}).status_code == 422


def test_map_view_matches(story: tuple[TestClient, ManualClock], db: Database) -> None:
    with db.cursor() as cur:
        cur.execute(
            "SELECT total, resolved, rejected FROM incident_area_stats(%s) WHERE code = %s",
            (["grid"], GRID_1),
        )
        row = cur.fetchone()
    assert (row["total"], row["resolved"], row["rejected"]) == (4, 2, 1)
