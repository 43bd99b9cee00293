"""Rest stations over HTTP: writes, versions, service circles, nearest by exact walking time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.clock import ManualClock
from geo_service.settings import APISettings
from tests.walking.reference import load_reference

SPEED_MPS = 4.5 / 3.6


def feature(lon: float, lat: float, **props):
    base = {
        "name": "测试暖心驿站",
        "kind": "care_station",
        "amenities": ["hot_water"],
        "opening_hours": "24/7",
    }
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {**base, **props},
    }


@pytest.fixture(scope="module")
def ref(db):
    return load_reference(db)


def test_create_read_update_delete(client, planner_headers):
    r = client.post("/api/stations", json=feature(24.945, 60.168, manager="李点长"), headers=planner_headers)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert r.headers["ETag"] == '"1"' and r.headers["Location"] == f"/api/stations/{sid}"
    got = client.get(f"/api/stations/{sid}")
    assert got.json()["properties"]["manager"] == "李点长"
    r = client.put(
        f"/api/stations/{sid}",
        json={"type": "Feature", "properties": {"contact": "13800000000"}},
        headers={**planner_headers, "If-Match": '"1"'},
    )
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'
    assert r.json()["properties"]["manager"] == "李点长"  # omitted properties keep their values
    stale = client.put(
        f"/api/stations/{sid}",
        json={"type": "Feature", "properties": {"name": "x"}},
        headers={**planner_headers, "If-Match": '"1"'},
    )
    assert stale.status_code == 412
    assert client.get(f"/api/stations/{sid}").json()["properties"]["name"] == "测试暖心驿站"
    assert (
        client.delete(f"/api/stations/{sid}", headers={**planner_headers, "If-Match": '"2"'}).status_code
        == 204
    )
    assert client.get(f"/api/stations/{sid}").status_code == 404


def test_writes_need_the_planner_role(client, dispatcher_headers):
    assert client.post("/api/stations", json=feature(24.945, 60.168)).status_code == 401
    assert (
        client.post("/api/stations", json=feature(24.945, 60.168), headers=dispatcher_headers).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (feature(24.945, 60.168, kind="spaceport"), "kind must be one of"),
        (feature(24.945, 60.168, amenities=["jacuzzi"]), "unknown amenities"),
        (feature(24.945, 60.168, opening_hours="Mo-Fx 8-18"), "not valid OpenStreetMap syntax"),
        (feature(24.945, 60.168, name="  "), "name is required"),
        (feature(float("nan"), 60.168), "finite"),
        (feature(60.168, 124.945), "out of range"),
        ({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": []}, "properties": {}}, "Point"),
        ({"type": "FeatureCollection"}, "GeoJSON Feature"),
    ],
)
def test_bad_stations_are_refused_and_nothing_is_written(client, planner_headers, body, needle):
    before = len(client.get("/api/stations").json()["features"])
    r = client.post(
        "/api/stations",
        content=__import__("json").dumps(body, allow_nan=True),
        headers={**planner_headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert needle in str(r.json()["detail"])
    assert len(client.get("/api/stations").json()["features"]) == before


def test_service_circles_follow_station_edits(client, planner_headers, db):
    r = client.post("/api/stations", json=feature(24.9414, 60.1699), headers=planner_headers)
    sid = r.json()["id"]
    circles = client.get(f"/api/stations/{sid}/service-circles").json()["features"]
    assert [c["properties"]["minutes"] for c in circles] == [5, 10, 15]
    area_before = circles[0]["properties"]["area_m2"]
    with db.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM service_circles WHERE station_id = %s", (sid,))
        assert cur.fetchone()["n"] == 3
    moved = client.put(
        f"/api/stations/{sid}",
        json={"type": "Feature", "geometry": {"type": "Point", "coordinates": [24.9380, 60.1770]}},
        headers={**planner_headers, "If-Match": r.headers["etag"]},
    )
    assert moved.status_code == 200
    after = client.get(f"/api/stations/{sid}/service-circles").json()["features"]
    assert after[0]["properties"]["area_m2"] != area_before
    import math

    import mapbox_vector_tile

    z, lon, lat = 15, 24.9380, 60.1770
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    tile = client.get(f"/tiles/service_circles/{z}/{x}/{y}.pbf")
    assert tile.status_code == 200
    layer = mapbox_vector_tile.decode(tile.content)["service_circles"]
    assert {f["properties"]["station_id"] for f in layer["features"]} >= {sid}
    client.delete(f"/api/stations/{sid}", headers={**planner_headers, "If-Match": moved.headers["etag"]})
    with db.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM service_circles WHERE station_id = %s", (sid,))
        assert cur.fetchone()["n"] == 0


def test_nearest_in_exact_walking_time_order(fresh_db, ref):
    from tests.conftest import auth_headers, make_client

    rng = np.random.default_rng(9)
    main = ref.surface_main_nodes()
    spots = rng.choice(main, 12, replace=False)
    origin = int(rng.choice(main))
    with make_client(fresh_db) as client:
        headers = auth_headers(fresh_db, "planner")
        ids = {}
        for k, node in enumerate(spots):
            amenities = ["hot_water", "toilet"] if k % 2 == 0 else ["hot_water"]
            r = client.post(
                "/api/stations",
                json=feature(float(ref.lon[node]), float(ref.lat[node]), name=f"S{k}", amenities=amenities),
                headers=headers,
            )
            ids[r.json()["id"]] = node
        r = client.get(
            "/api/stations/nearest",
            params={"lon": ref.lon[origin], "lat": ref.lat[origin], "limit": 12, "include_route": "true"},
        )
        assert r.status_code == 200
        found = r.json()["features"]
        cost = ref.from_node(origin)
        expected = sorted(ids, key=lambda i: cost[ids[i]])
        got_ids = [f["id"] for f in found]
        assert got_ids == [i for i in expected if cost[ids[i]] / SPEED_MPS <= 3600][: len(got_ids)]
        for f in found:
            assert f["properties"]["walk_seconds"] == pytest.approx(cost[ids[f["id"]]] / SPEED_MPS, abs=0.1)
            assert f["properties"]["route"]["type"] == "LineString"
        with_toilet = client.get(
            "/api/stations/nearest",
            params={"lon": ref.lon[origin], "lat": ref.lat[origin], "limit": 12, "amenities": "toilet"},
        ).json()
        assert {f["id"] for f in with_toilet["features"]} <= {
            i for i in ids if "toilet" in client.get(f"/api/stations/{i}").json()["properties"]["amenities"]
        }
        assert len(with_toilet["features"]) == 6


def test_nearest_respects_opening_hours(fresh_db):
    from tests.conftest import auth_headers, make_client

    with make_client(fresh_db) as client:
        headers = auth_headers(fresh_db, "planner")
        near = client.post(
            "/api/stations",
            json=feature(24.9420, 60.1700, name="night", opening_hours="Mo-Fr 22:00-06:00"),
            headers=headers,
        )
        far = client.post(
            "/api/stations",
            json=feature(24.9480, 60.1740, name="day", opening_hours="Mo-Su 08:00-20:00; PH off"),
            headers=headers,
        )
        assert near.status_code == far.status_code == 201

        def names(at: str) -> list[str]:
            r = client.get(
                "/api/stations/nearest", params={"lon": 24.9414, "lat": 60.1699, "open_now": "true", "at": at}
            )
            assert r.status_code == 200, r.text
            return [f["properties"]["name"] for f in r.json()["features"]]

        assert names("2026-12-05T03:00:00+08:00") == ["night"]  # Saturday 03:00: Friday night's range
        assert names("2026-12-02T12:00:00+08:00") == ["day"]
        assert names("2026-10-01T12:00:00+08:00") == []  # National Day: PH off
        everything = client.get(
            "/api/stations/nearest",
            params={"lon": 24.9414, "lat": 60.1699, "at": "2026-12-02T12:00:00+08:00"},
        ).json()
        assert [f["properties"]["open_now"] for f in everything["features"]] == [False, True]


# "Open now" follows the service's clock, not the machine's: each case fixes the clock and the deployment zone.
SHANGHAI, HELSINKI_ZONE = ZoneInfo("Asia/Shanghai"), ZoneInfo("Europe/Helsinki")
OPEN_NOW_CASES = {
    # (deployment zone, instant): names of the open stations, nearest first
    "shanghai-weekday-noon": ("Asia/Shanghai", datetime(2026, 12, 2, 12, 0, tzinfo=SHANGHAI), ["day"]),
    "shanghai-friday-night": ("Asia/Shanghai", datetime(2026, 12, 5, 3, 0, tzinfo=SHANGHAI), ["night"]),
    "shanghai-national-day": ("Asia/Shanghai", datetime(2026, 10, 1, 12, 0, tzinfo=SHANGHAI), []),
    # Helsinki moves to summer time at 03:00 on 2026-03-29: 05:30 UTC is 07:30 the day before, 08:30 after
    "helsinki-before-dst": ("Europe/Helsinki", datetime(2026, 3, 28, 5, 30, tzinfo=UTC), []),
    "helsinki-after-dst": ("Europe/Helsinki", datetime(2026, 3, 29, 5, 30, tzinfo=UTC), ["day"]),
}


@pytest.mark.parametrize(("zone", "instant", "expected"), OPEN_NOW_CASES.values(), ids=OPEN_NOW_CASES.keys())
def test_open_now_follows_the_service_clock(fresh_db, zone, instant, expected):
    from tests.conftest import auth_headers

    clock = ManualClock(instant)
    app = create_app(db=fresh_db, api_settings=APISettings(timezone=zone), clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        headers = auth_headers(fresh_db, "planner")
        for name, lon, lat, hours in (
            ("night", 24.9420, 60.1700, "Mo-Fr 22:00-06:00"),
            ("day", 24.9480, 60.1740, "Mo-Su 08:00-20:00; PH off"),
        ):
            body = feature(lon, lat, name=name, opening_hours=hours)
            assert client.post("/api/stations", json=body, headers=headers).status_code == 201
        r = client.get("/api/stations/nearest", params={"lon": 24.9414, "lat": 60.1699, "open_now": "true"})
        assert r.status_code == 200, r.text
        assert [f["properties"]["name"] for f in r.json()["features"]] == expected
        assert datetime.fromisoformat(r.json()["at"]) == instant


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"lon": 24.9414, "lat": 60.1699, "amenities": "jacuzzi"}, 422),
        ({"lon": 24.9414, "lat": 60.1699, "limit": 0}, 422),
        ({"lon": 24.9414, "lat": 60.1699, "at": "tuesday"}, 422),
        ({"lon": 24.9414, "lat": 60.1699, "max_minutes": -5}, 422),
        ({"lon": 24.9600, "lat": 60.1620}, 422),
        ({"lon": 24.9414}, 422),
    ],
)
def test_nearest_bad_input(client, params, status):
    assert client.get("/api/stations/nearest", params=params).status_code == status


def test_vocabulary_is_public(client):
    body = client.get("/api/stations/vocabulary").json()
    assert {"care_station", "driver_station", "party_service_center"} <= {k["id"] for k in body["kinds"]}
    assert {"hot_water", "microwave", "charging", "toilet", "wifi", "heating"} <= {
        a["id"] for a in body["amenities"]
    }
