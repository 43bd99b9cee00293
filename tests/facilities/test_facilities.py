"""Facilities: planner CRUD with versions; corrections and deletions of imported POIs survive re-import."""

from __future__ import annotations

import pyrosm
import pytest

from geo_service.osm.importer import import_osm
from geo_service.settings import ImportSettings
from tests.conftest import HELSINKI, auth_headers, make_client


def point(lon, lat, **props):
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"name": "社区食堂", "category": "canteen", **props},
    }


def test_crud_with_versions(client, planner_headers):
    r = client.post("/api/facilities", json=point(24.94, 60.17, opening="yes"), headers=planner_headers)
    assert r.status_code == 201
    fid = r.json()["id"]
    assert r.json()["properties"]["source"] == "planner" and r.json()["properties"]["tags"] == {
        "opening": "yes"
    }
    r = client.put(
        f"/api/facilities/{fid}",
        json={"type": "Feature", "properties": {"name": "长者食堂"}},
        headers={**planner_headers, "If-Match": '"1"'},
    )
    assert r.status_code == 200 and r.json()["properties"]["category"] == "canteen"
    stale = client.put(
        f"/api/facilities/{fid}",
        json={"type": "Feature", "properties": {"name": "x"}},
        headers={**planner_headers, "If-Match": '"1"'},
    )
    assert stale.status_code == 412
    listed = client.get("/api/facilities", params={"category": "canteen", "source": "planner"}).json()
    assert [f["id"] for f in listed["features"]] == [fid]
    # a delete must name the version it removes: 428 without If-Match (or with `*`), 412 when stale
    for if_match, status in ((None, 428), ("*", 428), ('"1"', 412), ('"2"', 204)):
        headers = planner_headers if if_match is None else {**planner_headers, "If-Match": if_match}
        assert client.delete(f"/api/facilities/{fid}", headers=headers).status_code == status, if_match
    assert client.get(f"/api/facilities/{fid}").status_code == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (point(24.94, 60.17, category="spaceport"), 422),
        (point(24.94, 960.17), 422),
        ({"type": "Feature", "geometry": None, "properties": {"category": "canteen"}}, 422),
        (point(24.94, 60.17, tags=["x"]), 422),
    ],
)
def test_bad_facilities_refused(client, planner_headers, body, status):
    assert client.post("/api/facilities", json=body, headers=planner_headers).status_code == status


def test_dispatchers_cannot_write(client, dispatcher_headers):
    assert (
        client.post("/api/facilities", json=point(24.94, 60.17), headers=dispatcher_headers).status_code
        == 403
    )


def test_corrections_and_deletions_survive_reimport(fresh_db):
    with make_client(fresh_db) as client:
        headers = auth_headers(fresh_db, "planner")
        imported = client.get(
            "/api/facilities", params={"category": "restaurant", "source": "osm", "limit": 2}
        ).json()
        corrected, removed = imported["features"]
        r = client.put(
            f"/api/facilities/{corrected['id']}",
            headers={**headers, "If-Match": '"1"'},
            json={"type": "Feature", "properties": {"category": "canteen", "name": "改为食堂"}},
        )
        assert r.status_code == 200 and r.json()["properties"]["source"] == "planner"
        etag = client.get(f"/api/facilities/{removed['id']}").headers["etag"]
        deleted = client.delete(f"/api/facilities/{removed['id']}", headers={**headers, "If-Match": etag})
        assert deleted.status_code == 204
        import_osm(fresh_db, pyrosm.get_data("helsinki_pbf"), HELSINKI, ImportSettings(), progress=False)
        with fresh_db.cursor() as cur:
            cur.execute(
                "SELECT count(*) AS n FROM facilities WHERE osm_id = %s AND deleted_at IS NULL",
                (corrected["properties"]["osm_id"],),
            )
            assert cur.fetchone()["n"] == 1
            cur.execute(
                "SELECT count(*) AS n FROM facilities WHERE osm_id = %s AND deleted_at IS NULL",
                (removed["properties"]["osm_id"],),
            )
            assert cur.fetchone()["n"] == 0
        assert client.get(f"/api/facilities/{corrected['id']}").json()["properties"]["name"] == "改为食堂"
