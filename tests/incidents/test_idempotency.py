"""The same 12345 ticket twice gives the first incident back, also under 50 concurrent posts to a real server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.db.pool import Database
from geo_service.settings import IncidentSettings
from tests.conftest import running_server
from tests.incidents.areas import GRID_1, POINTS, incident

pytestmark = pytest.mark.usefixtures("areas")
CONCURRENT_POSTS = 50


def test_same_external_id_returns_the_first(client: TestClient, dispatcher_headers: dict) -> None:
    first = incident(client, dispatcher_headers, "grid_1", external_id="12345-0001", description="first")
    assert first.status_code == 201
    again = incident(
        client, dispatcher_headers, "grid_2", external_id="12345-0001", description="second", category="E0501"
    )
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["created"] is False
    assert again.json()["description"] == "first" and again.json()["grid_code"] == GRID_1


@pytest.fixture
def server(db: Database) -> Iterator[str]:
    """A real uvicorn server over the module's database, on a free port."""
    app = create_app(db=db, incident_settings=IncidentSettings(escalation_enabled=False))
    with running_server(app, start_timeout_s=20) as base:
        yield base


def test_fifty_concurrent_posts_create_one_incident(
    server: str, db: Database, dispatcher_headers: dict
) -> None:
    lon, lat = POINTS["grid_1"]
    body = {"lon": lon, "lat": lat, "category": "E0102", "external_id": "12345-RACE", "description": "race"}
    barrier = threading.Barrier(CONCURRENT_POSTS)

    def post(_: int) -> httpx.Response:
        with httpx.Client(base_url=server, timeout=60) as http:
            barrier.wait()  # release all posts at once
            return http.post("/api/incidents", json=body, headers=dispatcher_headers)

    with ThreadPoolExecutor(CONCURRENT_POSTS) as pool:
        responses = list(pool.map(post, range(CONCURRENT_POSTS)))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1 and codes.count(200) == CONCURRENT_POSTS - 1, codes
    assert len({r.json()["id"] for r in responses}) == 1
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(*) FROM incidents WHERE external_id = '12345-RACE'")
        assert cur.fetchone()[0] == 1
        cur.execute(
            """SELECT count(*) FROM incident_history h JOIN incidents i ON i.id = h.incident_id
               WHERE i.external_id = '12345-RACE' AND h.action = 'created'"""
        )
        assert cur.fetchone()[0] == 1
