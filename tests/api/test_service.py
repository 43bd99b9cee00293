"""The service skeleton: health, docs, errors, auth and roles, body limit, overview map."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from geo_service.db.pool import Database
from geo_service.maps import overview
from geo_service.settings import APISettings
from tests.conftest import auth_headers


def test_health_and_docs(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert client.get("/docs").status_code == 200
    assert "/readyz" in client.get("/openapi.json").json()["paths"]


def test_unknown_route_is_json_404(client: TestClient) -> None:
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_auth_roles(client: TestClient, db: Database) -> None:
    assert client.get("/api/auth/whoami").status_code == 401
    assert client.get("/api/auth/whoami", headers={"Authorization": "Bearer gs_nope"}).status_code == 401
    dispatcher = auth_headers(db, "dispatcher")
    assert client.get("/api/auth/whoami", headers=dispatcher).json()["role"] == "dispatcher"
    forbidden = client.post("/api/tokens", json={"role": "planner"}, headers=dispatcher)
    assert forbidden.status_code == 403
    assert "admin" in forbidden.json()["detail"]
    admin = auth_headers(db, "admin")
    created = client.post("/api/tokens", json={"role": "planner", "name": "p"}, headers=admin)
    assert created.status_code == 201
    token = created.json()["token"]
    assert (
        client.get("/api/auth/whoami", headers={"Authorization": f"Bearer {token}"}).json()["role"]
        == "planner"
    )
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(*) FROM api_tokens WHERE token_hash = %s", (token,))
        assert cur.fetchone()[0] == 0, "the token itself is never stored"


def test_bad_body_is_422_json(client: TestClient, db: Database) -> None:
    admin = auth_headers(db, "admin")
    response = client.post("/api/tokens", json={"role": "emperor"}, headers=admin)
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)
    broken = client.post(
        "/api/tokens", content=b"{not json", headers={**admin, "Content-Type": "application/json"}
    )
    assert broken.status_code == 422


def test_request_size_limit(db: Database) -> None:
    from geo_service.api.app import create_app

    app = create_app(db=db, api_settings=APISettings(max_body_bytes=2048))
    with TestClient(app) as small:
        response = small.post(
            "/api/tokens", content=b"x" * 5000, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


def test_overview_map_uses_only_local_assets(client: TestClient) -> None:
    response = client.get("/maps/overview.html")
    assert response.status_code == 200
    html = response.text
    assert "/vendor/leaflet/dist/leaflet.js" in html
    external = [u for u in re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", html)]
    assert external == [], external
    assert "walking network" in html and "residences" in html and "facilities" in html


def test_overview_map_is_drawn_again_only_when_its_data_moves(
    client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[str] = []
    draw = overview._draw

    def counted(database: Database) -> str:
        drawn.append("page")
        return draw(database)

    monkeypatch.setattr(overview, "_draw", counted)
    first = client.get("/maps/overview.html").text
    assert client.get("/maps/overview.html").text == first
    before = len(drawn)
    assert before <= 1  # none when an earlier test of this module drew the page at this data state

    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [24.9375, 60.1685]},
        "properties": {"category": "canteen", "name": "overview-test-canteen"},
    }
    created = client.post("/api/facilities", json=feature, headers=auth_headers(db, "planner"))
    assert created.status_code == 201, created.text
    after = client.get("/maps/overview.html").text
    assert "overview-test-canteen" in after and "overview-test-canteen" not in first
    assert len(drawn) == before + 1
