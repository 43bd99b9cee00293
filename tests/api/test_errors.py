"""Error bodies: a stable code, a message in the caller's language, the English detail kept."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_missing_token_in_chinese_by_default(client: TestClient) -> None:
    r = client.post("/api/incidents", json={"lon": 24.94, "lat": 60.17, "category": "E0102"})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    body = r.json()
    assert body["code"] == "auth.missing_token"
    assert "令牌" in body["message"]
    assert body["detail"] == "A bearer token is required."


def test_english_when_asked(client: TestClient) -> None:
    r = client.post("/api/incidents", json={}, headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert r.json()["message"] == "A bearer token is required."


def test_role_names_in_the_message(client: TestClient, dispatcher_headers: dict[str, str]) -> None:
    r = client.post(
        "/api/grids/validate",
        json={"type": "FeatureCollection", "features": []},
        headers={**dispatcher_headers, "Accept-Language": "zh-CN"},
    )
    if r.status_code == 403:
        assert r.json()["code"] == "auth.role_not_allowed"
        assert "调度员" in r.json()["message"] and "规划人员" in r.json()["message"]


def test_unknown_route_and_method(client: TestClient) -> None:
    r = client.get("/api/no-such-thing")
    assert r.status_code == 404 and r.json()["code"] == "http.not_found"
    assert r.json()["detail"] == "Not Found"  # what the pages' "route missing" check reads


def test_validation_problems_are_listed_and_localised(client: TestClient) -> None:
    r = client.get("/api/locate", params={"lon": "east", "lat": 60.17})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "request.validation"
    assert [p["loc"] for p in body["detail"]] == ["query.lon"]
    assert body["detail"][0]["code"] == "validation.float_parsing"
    assert "数字" in body["detail"][0]["message"]
