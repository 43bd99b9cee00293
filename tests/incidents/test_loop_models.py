"""The answers of the 12345 loop and dashboard routes match the response models /openapi.json publishes for them
(duplicates, merge, callbacks, photos, rates, inspections, dashboard), the binary answers are of the media types
documented, and a body that loses a member or changes a type no longer matches."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from geo_service.db.pool import Database
from tests.conftest import auth_headers
from tests.documented import answered, mismatches, response_schema
from tests.incidents.areas import DISTRICT, POINTS, incident
from tests.media import photos

pytestmark = pytest.mark.usefixtures("areas")


def _schema(document: dict[str, Any], path: str, method: str, status: str, media: str) -> dict[str, Any]:
    return document["paths"][path][method]["responses"][status]["content"][media]["schema"]


def _check(document: dict[str, Any], path: str, method: str, response: Any, status: int = 200) -> Any:
    """The JSON body of ``response``, after checking it has ``status`` and matches the model documented,
    member by member."""
    assert set(_schema(document, path, method, str(status), "application/json")) == {"$ref"}  # a named model
    return answered(document, path, method, response, status)


def _valid(document: dict[str, Any], path: str, method: str, body: Any) -> bool:
    schema = _schema(document, path, method, "200", "application/json")
    return jsonschema.Draft202012Validator({**schema, "components": document["components"]}).is_valid(body)


def test_loop_answers_match_their_models(client: TestClient, dispatcher_headers: dict, db: Database) -> None:
    document = client.get("/openapi.json").json()
    base = "/api/incidents/{incident_id}"
    first = incident(client, dispatcher_headers, "grid_1").json()["id"]
    second = incident(client, dispatcher_headers, "grid_1").json()["id"]

    found = _check(
        document,
        base + "/duplicates",
        "get",
        client.get(f"/api/incidents/{second}/duplicates", headers=dispatcher_headers),
    )
    assert first in [d["id"] for d in found["duplicates"]]
    assert not _valid(document, base + "/duplicates", "get", {**found, "duplicates": None})

    merged = client.post(f"/api/incidents/{second}/merge", json={"into": first}, headers=dispatcher_headers)
    assert _check(document, base + "/merge", "post", merged)["merged_into"] == first

    for to in ("filed", "dispatched", "in_progress", "resolved"):
        moved = client.post(f"/api/incidents/{first}/transition", json={"to": to}, headers=dispatcher_headers)
        assert moved.status_code == 200, moved.text
    called = client.post(
        f"/api/incidents/{first}/feedback",
        json={"reached": False},
        headers=dispatcher_headers,
    )
    assert _check(document, base + "/feedback", "post", called)["callback"]["outcome"] == "retry"
    calls = _check(
        document,
        base + "/callbacks",
        "get",
        client.get(f"/api/incidents/{first}/callbacks", headers=dispatcher_headers),
    )
    assert [c["reached"] for c in calls["callbacks"]] == [False]
    assert not _valid(document, base + "/callbacks", "get", {"id": first, "callbacks": [{"id": 1}]})

    upload = {"file": ("photo.jpg", photos.phone_jpeg(), "image/jpeg")}
    posted = client.post(f"/api/incidents/{first}/media", files=upload, headers=dispatcher_headers)
    photo = _check(document, base + "/media", "post", posted, 201)
    again = client.post(f"/api/incidents/{first}/media", files=upload, headers=dispatcher_headers)
    assert _check(document, base + "/media", "post", again, 200)["id"] == photo["id"]
    listed = client.get(f"/api/incidents/{first}/media", headers=dispatcher_headers)
    assert [p["id"] for p in _check(document, base + "/media", "get", listed)["media"]] == [photo["id"]]
    for path, url in (
        (base + "/media/{media_id}", photo["url"]),
        (base + "/media/{media_id}/thumbnail", photo["thumbnail_url"]),
    ):
        read = client.get(url, headers=dispatcher_headers)
        documented = document["paths"][path]["get"]["responses"]["200"]["content"]
        assert read.status_code == 200 and read.headers["content-type"] in documented
        assert "application/json" not in documented

    rates = _check(
        document,
        "/api/stats/rates",
        "get",
        client.get("/api/stats/rates", params={"level": "grid"}, headers=dispatcher_headers),
    )
    assert rates["totals"]["counts"]["incidents"] >= 2
    assert not _valid(
        document, "/api/stats/rates", "get", {**rates, "totals": {**rates["totals"], "counts": {}}}
    )

    headers = auth_headers(db, "dispatcher")
    period = {"level": "district", "code": DISTRICT}
    board = _check(
        document,
        "/api/stats/dashboard",
        "get",
        client.get("/api/stats/dashboard", params=period, headers=headers),
    )
    assert board["summary"]["reported"] >= 2 and board["area"]["code"] == DISTRICT
    assert not _valid(document, "/api/stats/dashboard", "get", {**board, "staffing": {"workers": "many"}})
    areas = client.get("/api/stats/dashboard/areas", headers=headers)
    assert DISTRICT in [
        a["code"] for a in _check(document, "/api/stats/dashboard/areas", "get", areas)["areas"]
    ]
    documented = document["paths"]["/api/stats/dashboard/export"]["get"]["responses"]["200"]["content"]
    for fmt in ("csv", "xlsx"):
        exported = client.get(
            "/api/stats/dashboard/export", params={**period, "format": fmt}, headers=headers
        )
        assert exported.status_code == 200
        assert exported.headers["content-type"].split(";")[0] in documented


def test_inspection_answers_match_their_models(client: TestClient, planner_headers: dict) -> None:
    document = client.get("/openapi.json").json()
    lon, lat = POINTS["grid_1"]
    station = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "name": "巡查驿站",
            "kind": "care_station",
            "amenities": ["hot_water"],
            "opening_hours": "24/7",
        },
    }
    created = client.post("/api/stations", json=station, headers=planner_headers)
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    path = "/api/stations/{station_id}/inspections"
    overdue = client.get("/api/stations/inspections/overdue", headers=planner_headers)
    assert sid in [
        s["station_id"]
        for s in _check(document, "/api/stations/inspections/overdue", "get", overdue)["stations"]
    ]
    visit = {
        "open_as_published": True,
        "amenities": {"hot_water": False},
        "notes": "没有热水",
        "lon": lon,
        "lat": lat,
    }
    refused = client.post(
        f"/api/stations/{sid}/inspections",
        json={**visit, "open_as_published": "perhaps"},
        headers=planner_headers,
    )
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == "open_as_published"
    assert mismatches(document, "ErrorBody", refused.json()) == []  # the FieldProblem list, member by member
    recorded = client.post(f"/api/stations/{sid}/inspections", json=visit, headers=planner_headers)
    assert _check(document, path, "post", recorded, 201)["missing"] == ["hot_water"]
    history = _check(
        document, path, "get", client.get(f"/api/stations/{sid}/inspections", headers=planner_headers)
    )
    assert [i["notes"] for i in history["inspections"]] == ["没有热水"]
    assert not _valid(
        document, path, "get", {**history, "inspections": [{**history["inspections"][0], "ok": "yes"}]}
    )


def test_incident_answers_have_the_members_their_schemas_name(
    client: TestClient, dispatcher_headers: dict
) -> None:
    """The categories, a new incident, one incident, a move, a merge, a callback, the duplicates and photos:
    each answer has every member its documented schema names and no other (with and without the reporter)."""
    document = client.get("/openapi.json").json()
    base = "/api/incidents/{incident_id}"

    def members(path: str, method: str, response: Any, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        body = response.json()
        assert mismatches(document, response_schema(document, path, method, str(status)), body) == [], path
        return body

    listed = members("/api/incidents/categories", "get", client.get("/api/incidents/categories"))
    assert all(c["response_hours"] > 0 for c in listed["categories"])  # a member the schema lacked before
    first = members("/api/incidents", "post", incident(client, dispatcher_headers, "grid_1"), 201)
    second = members("/api/incidents", "post", incident(client, dispatcher_headers, "grid_1"), 201)
    assert first["id"] in [d["id"] for d in second["duplicates"]] and "reporter" in first
    one = f"/api/incidents/{first['id']}"
    members(base, "get", client.get(one, headers=dispatcher_headers))
    members(
        base + "/duplicates",
        "get",
        client.get(f"/api/incidents/{second['id']}/duplicates", headers=dispatcher_headers),
    )
    merged = client.post(
        f"/api/incidents/{second['id']}/merge", json={"into": first["id"]}, headers=dispatcher_headers
    )
    members(base + "/merge", "post", merged)
    for to in ("filed", "dispatched", "in_progress", "resolved"):
        moved = client.post(f"{one}/transition", json={"to": to}, headers=dispatcher_headers)
        members(base + "/transition", "post", moved)
    called = client.post(
        f"{one}/feedback", json={"reached": True, "satisfaction": "satisfied"}, headers=dispatcher_headers
    )
    assert members(base + "/feedback", "post", called)["callback"]["outcome"] == "closed"
    members(base + "/callbacks", "get", client.get(f"{one}/callbacks", headers=dispatcher_headers))
    steps = members(base + "/history", "get", client.get(f"{one}/history", headers=dispatcher_headers))
    assert len(steps["history"]) >= 5
    upload = {"file": ("photo.jpg", photos.phone_jpeg(), "image/jpeg")}
    members(
        base + "/media", "post", client.post(f"{one}/media", files=upload, headers=dispatcher_headers), 201
    )
    members(base + "/media", "get", client.get(f"{one}/media", headers=dispatcher_headers))
