"""Intake: assignment to the covering grid at that moment, snapshots, the boundary flag, 属地兜底, 422 outside."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient

from geo_service.coords import from_wgs84
from geo_service.db.pool import Database
from tests.conftest import auth_headers
from tests.incidents.areas import (
    COMMUNITY_SE,
    COMMUNITY_SW,
    DISTRICT,
    GRID_1,
    GRID_2,
    POINTS,
    STREET_E,
    STREET_W,
    box,
    incident,
)

pytestmark = pytest.mark.usefixtures("areas")


def test_assigned_to_the_covering_grid_with_snapshot(client: TestClient, dispatcher_headers: dict) -> None:
    response = incident(
        client,
        dispatcher_headers,
        "grid_1",
        external_id="T-grid-1",
        reporter={"name": "王女士", "phone": "13800000000"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["created"] is True
    assert body["grid_code"] == GRID_1 and body["grid_version"] == 1
    assert body["status"] == "reported" and body["near_boundary"] is False
    assert body["owner_level"] == "grid" and body["owner_code"] == GRID_1
    assert [(a["level"], a["code"]) for a in body["areas"]] == [
        ("grid", GRID_1),
        ("community", COMMUNITY_SW),
        ("street", STREET_W),
        ("district", DISTRICT),
    ]
    assert all(a["version"] == 1 and a["name"] for a in body["areas"])
    assert body["category"] == "E0102" and body["category_name"] == "暴露垃圾"
    assert body["distance_to_boundary_m"] > 100
    assert body["due_at"] > body["created_at"]
    assert body["reporter"] == {"name": "王女士", "phone": "13800000000"}
    history = client.get(f"/api/incidents/{body['id']}/history", headers=dispatcher_headers).json()["history"]
    assert history[0]["action"] == "created" and history[0]["to_status"] == "reported"
    assert history[0]["detail"]["grid_code"] == GRID_1


def test_near_boundary_is_flagged_and_can_be_confirmed_or_moved(
    client: TestClient, dispatcher_headers: dict
) -> None:
    body = incident(client, dispatcher_headers, "near_edge").json()
    assert body["grid_code"] == GRID_1
    assert body["near_boundary"] is True and body["distance_to_boundary_m"] < 20
    assert "incident.note.near_boundary" in body["note_codes"]
    assert any("请确认" in note for note in body["notes"])  # zh-CN, the deployment default
    english = incident(client, {**dispatcher_headers, "Accept-Language": "en"}, "near_edge").json()
    assert any("please confirm" in note for note in english["notes"])
    assert body["assignment_confirmed"] is False
    moved = client.post(
        f"/api/incidents/{body['id']}/assignment",
        json={"grid_code": GRID_2, "note": "caller is on the east side"},
        headers=dispatcher_headers,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["grid_code"] == GRID_2 and moved.json()["owner_code"] == GRID_2
    assert moved.json()["assignment_confirmed"] is True
    assert moved.json()["areas"][1]["code"] == COMMUNITY_SW
    history = client.get(f"/api/incidents/{body['id']}/history", headers=dispatcher_headers).json()["history"]
    assert history[-1]["action"] == "reassigned" and history[-1]["detail"]["from_grid"] == GRID_1
    assert (
        client.post(
            f"/api/incidents/{body['id']}/assignment", json={"grid_code": "nope"}, headers=dispatcher_headers
        ).status_code
        == 422
    )


def test_near_boundary_distance_is_configurable(db: Database) -> None:
    from geo_service.api.app import create_app
    from geo_service.settings import IncidentSettings

    app = create_app(db=db, incident_settings=IncidentSettings(near_boundary_m=1.0, escalation_enabled=False))
    with TestClient(app) as strict:
        body = incident(strict, auth_headers(db, "dispatcher"), "near_edge").json()
    assert body["grid_code"] == GRID_1 and body["near_boundary"] is False


def test_outside_every_grid_the_covering_area_takes_it(client: TestClient, dispatcher_headers: dict) -> None:
    community = incident(client, dispatcher_headers, "community_only").json()
    assert community["grid_code"] is None and community["grid_version"] is None
    assert community["owner_level"] == "community" and community["owner_code"] == COMMUNITY_SE
    assert [a["code"] for a in community["areas"]] == [COMMUNITY_SE, STREET_E, DISTRICT]
    assert any("属地兜底" in note for note in community["notes"])
    street = incident(client, dispatcher_headers, "street_only").json()
    assert street["owner_level"] == "street" and street["owner_code"] == STREET_E
    assert [a["level"] for a in street["areas"]] == ["street", "district"]


def test_outside_every_area_is_422_and_writes_nothing(
    client: TestClient, dispatcher_headers: dict, db: Database
) -> None:
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(*) FROM incidents")
        before = cur.fetchone()[0]
    response = incident(client, dispatcher_headers, "outside", external_id="T-outside")
    assert response.status_code == 422
    assert "outside every" in response.json()["detail"]
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(*) FROM incidents")
        assert cur.fetchone()[0] == before


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"lon": 24.933, "category": "E0102"}, "both lon and lat"),
        ({"category": "E0102"}, "needs a location"),
        ({"lon": 24.933, "lat": 60.165, "category": "UFO"}, "unknown category"),
        ({"lon": 24.933, "lat": 60.165, "category": "E0102", "crs": "mars2000"}, "mars2000"),
        ({"lon": 60.165, "lat": 24.933, "category": "E0102"}, "swapped"),
        ({"lon": 24.933, "lat": 95.0, "category": "E0102"}, "out of range"),
        ({"lon": 24.933, "lat": 60.165, "category": "E0102", "external_id": "  "}, "blank"),
    ],
)
def test_bad_input_is_422(client: TestClient, dispatcher_headers: dict, body: dict, fragment: str) -> None:
    response = client.post("/api/incidents", json=body, headers=dispatcher_headers)
    assert response.status_code == 422, response.text
    assert fragment in str(response.json()["detail"])


def test_nan_is_refused(client: TestClient, dispatcher_headers: dict) -> None:
    response = client.post(
        "/api/incidents",
        content=b'{"lon": NaN, "lat": 60.165, "category": "E0102"}',
        headers={**dispatcher_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422


def test_gcj02_input_is_converted(client: TestClient, dispatcher_headers: dict) -> None:
    lon, lat = POINTS["grid_2"]
    # outside China GCJ-02 equals WGS-84; the conversion must still be applied and recorded
    glon, glat = from_wgs84(lon, lat, "gcj02")
    body = incident(client, dispatcher_headers, (glon, glat), crs="gcj02").json()
    assert body["grid_code"] == GRID_2 and body["crs"] == "gcj02"
    assert math.isclose(body["lon"], lon, abs_tol=1e-7) and body["input_lon"] == glon


def test_roles_and_reporter_privacy(
    client: TestClient, dispatcher_headers: dict, planner_headers: dict
) -> None:
    assert incident(client, {}, "grid_1").status_code == 401
    assert incident(client, planner_headers, "grid_1").status_code == 403
    created = incident(client, dispatcher_headers, "grid_1", reporter={"phone": "13900000000"}).json()
    as_planner = client.get(f"/api/incidents/{created['id']}", headers=planner_headers).json()
    assert "reporter" not in as_planner and as_planner["grid_code"] == GRID_1
    assert client.get(f"/api/incidents/{created['id']}", headers=dispatcher_headers).json()["reporter"]


def test_list_filters(client: TestClient, dispatcher_headers: dict) -> None:
    incident(client, dispatcher_headers, "grid_2", category="E0501")
    listed = client.get(
        "/api/incidents", params={"grid_code": GRID_2, "category": "E0501"}, headers=dispatcher_headers
    ).json()
    assert listed["type"] == "FeatureCollection" and listed["features"]
    assert {f["properties"]["grid_code"] for f in listed["features"]} == {GRID_2}
    lon, lat = POINTS["grid_2"]
    feature = listed["features"][0]
    assert feature["geometry"]["coordinates"] == pytest.approx([lon, lat])
    west = client.get(
        "/api/incidents", params={"bbox": "24.930,60.160,24.9375,60.171"}, headers=dispatcher_headers
    ).json()
    assert west["features"] and all(f["properties"]["lon"] <= 24.9375 for f in west["features"])
    assert (
        client.get("/api/incidents", params={"status": "lost"}, headers=dispatcher_headers).status_code == 422
    )
    assert (
        client.get("/api/incidents", params={"bbox": "1,2,3"}, headers=dispatcher_headers).status_code == 422
    )
    assert client.get("/api/incidents/999999", headers=dispatcher_headers).status_code == 404


def test_boundary_edit_never_moves_old_incidents(
    client: TestClient, dispatcher_headers: dict, planner_headers: dict
) -> None:
    point = (24.9370, 60.166)  # in GRID_1, 28 m west of the shared edge
    before = incident(client, dispatcher_headers, point, external_id="T-before-edit").json()
    assert before["grid_code"] == GRID_1 and before["grid_version"] == 1
    # the planners move the shared edge 100 m west: GRID_1 shrinks, then GRID_2 grows over the point
    new_edge = 24.9357
    for code, geometry in (
        (GRID_1, box(24.930, 60.160, new_edge, 60.171)),
        (GRID_2, box(new_edge, 60.160, 24.945, 60.171)),
    ):
        current = client.get(f"/api/grids/{code}", headers=planner_headers)
        feature = {"type": "Feature", "properties": {**current.json()["properties"]}, "geometry": geometry}
        put = client.put(
            f"/api/grids/{code}",
            json=feature,
            headers={**planner_headers, "If-Match": current.headers["ETag"]},
        )
        assert put.status_code == 200, put.text
    after = incident(client, dispatcher_headers, point, external_id="T-after-edit").json()
    assert after["grid_code"] == GRID_2 and after["grid_version"] == 2
    old = client.get(f"/api/incidents/{before['id']}", headers=dispatcher_headers).json()
    assert old["grid_code"] == GRID_1 and old["grid_version"] == 1
    assert old["areas"] == before["areas"]
    grid_1 = client.get("/api/incidents", params={"grid_code": GRID_1}, headers=dispatcher_headers).json()
    assert before["id"] in {f["id"] for f in grid_1["features"]}
