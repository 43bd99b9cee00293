"""Versions and concurrency: ETag/If-Match, 412 on stale versions (also with two writers at once), history,
deletion that closes validity, codes never reused for other land, auto-numbering, stats, CLI import."""

from __future__ import annotations

import threading
import time

import shapely
from fastapi.testclient import TestClient

from geo_service.db.pool import Database
from geo_service.errors import PreconditionFailed
from geo_service.grids.service import update_area
from geo_service.store import areas as store
from tests.conftest import auth_headers
from tests.grids.conftest import feature, hierarchy, lonlat, origin_for
from tests.grids.conftest import rect as _rect

PARENT = "110102001001"


def rect(x0: float, y0: float, x1: float, y1: float, prefix: str = "110102") -> dict:
    return _rect(x0, y0, x1, y1, origin_for(prefix))


def _setup(client: TestClient, headers: dict[str, str]) -> None:
    if client.get(f"/api/grids/{PARENT}").status_code == 404:
        response = client.post(
            "/api/grids/import",
            json={"type": "FeatureCollection", "features": hierarchy("110102")},
            headers=headers,
        )
        assert response.status_code == 200, response.text


def test_etag_if_match_and_history(client: TestClient, planner_headers: dict[str, str]) -> None:
    _setup(client, planner_headers)
    code = f"{PARENT}001"
    created = client.post(
        "/api/grids", json=feature(code, rect(0, 0, 500, 500), parent=PARENT), headers=planner_headers
    )
    assert created.status_code == 201 and created.json()["version"] == 1
    assert created.headers["etag"] == '"1"'
    got = client.get(f"/api/grids/{code}")
    assert got.headers["etag"] == '"1"'
    again = client.post(
        "/api/grids", json=feature(code, rect(0, 0, 500, 500), parent=PARENT), headers=planner_headers
    )
    assert again.status_code == 409
    saved = client.put(
        f"/api/grids/{code}",
        json={"type": "Feature", "properties": {"name": "renamed", "households": 320}},
        headers={**planner_headers, "If-Match": '"1"'},
    )
    assert saved.status_code == 200, saved.text
    assert saved.headers["etag"] == '"2"'
    assert saved.json()["feature"]["properties"]["name"] == "renamed"
    assert saved.json()["feature"]["geometry"] == got.json()["geometry"], "no geometry → the boundary stays"
    stale = client.put(
        f"/api/grids/{code}",
        json={"type": "Feature", "properties": {"name": "lost update"}},
        headers={**planner_headers, "If-Match": '"1"'},
    )
    assert stale.status_code == 412
    assert client.get(f"/api/grids/{code}").json()["properties"]["name"] == "renamed"
    history = client.get(f"/api/grids/{code}/history").json()["features"]
    assert [f["properties"]["version"] for f in history] == [1, 2]
    assert history[0]["properties"]["valid_to"] == history[1]["properties"]["valid_from"]
    assert history[1]["properties"]["valid_to"] is None
    assert client.get(f"/api/grids/{code}?version=1").json()["properties"]["name"] == f"test {code}"


def test_two_concurrent_writers_one_wins(
    client: TestClient, planner_headers: dict[str, str], db: Database
) -> None:
    _setup(client, planner_headers)
    code = f"{PARENT}002"
    assert (
        client.post(
            "/api/grids", json=feature(code, rect(500, 0, 1000, 500), parent=PARENT), headers=planner_headers
        ).status_code
        == 201
    )
    outcomes: list[str] = []
    start = threading.Barrier(3)
    from geo_service.auth import Principal

    def writer(name: str) -> None:
        start.wait()
        try:
            update_area(
                db,
                code,
                {"type": "Feature", "properties": {"name": name}},
                Principal(1, "planner", name),
                if_match=1,
            )
            outcomes.append("saved")
        except PreconditionFailed:
            outcomes.append("412")

    # Hold the code's write lock on another connection so both writers are inside their transactions,
    # blocked at the same point, when it is released.
    with db.connection() as conn, conn.cursor() as cur:
        store.lock_codes(cur, [code])
        threads = [threading.Thread(target=writer, args=(f"planner-{i}",)) for i in range(2)]
        for t in threads:
            t.start()
        start.wait()
        time.sleep(0.3)
    for t in threads:
        t.join(10)
    assert sorted(outcomes) == ["412", "saved"]
    history = client.get(f"/api/grids/{code}/history").json()["features"]
    assert [f["properties"]["version"] for f in history] == [1, 2], "exactly one new version, no lost update"


def test_delete_closes_and_code_is_not_reused_for_other_land(
    client: TestClient, planner_headers: dict[str, str]
) -> None:
    _setup(client, planner_headers)
    code = f"{PARENT}003"
    assert (
        client.post(
            "/api/grids", json=feature(code, rect(0, 500, 500, 1000), parent=PARENT), headers=planner_headers
        ).status_code
        == 201
    )
    assert (
        client.delete(f"/api/grids/{code}", headers={**planner_headers, "If-Match": '"7"'}).status_code == 412
    )
    assert (
        client.delete(f"/api/grids/{code}", headers={**planner_headers, "If-Match": '"1"'}).status_code == 204
    )
    gone = client.get(f"/api/grids/{code}")
    assert gone.status_code == 404 and "deleted" in gone.json()["detail"]
    history = client.get(f"/api/grids/{code}/history").json()["features"]
    assert history[-1]["properties"]["closed_change"] == "delete" and history[-1]["properties"]["valid_to"]
    other_land = client.post(
        "/api/grids", json=feature(code, rect(500, 500, 1000, 1000), parent=PARENT), headers=planner_headers
    )
    assert other_land.status_code == 422 and other_land.json()["detail"][0]["problem"] == "code_reused"
    same_land = client.post(
        "/api/grids", json=feature(code, rect(0, 500, 500, 1000), parent=PARENT), headers=planner_headers
    )
    assert (
        same_land.status_code == 201
        and same_land.json()["version"] == 2
        and same_land.json()["change"] == "restore"
    )


def test_parent_with_children_cannot_be_deleted_or_shrunk(
    client: TestClient, planner_headers: dict[str, str]
) -> None:
    _setup(client, planner_headers)
    current = {**planner_headers, "If-Match": client.get(f"/api/grids/{PARENT}").headers["etag"]}
    assert client.delete(f"/api/grids/{PARENT}", headers=current).status_code == 409
    shrink = client.put(
        f"/api/grids/{PARENT}",
        json={"type": "Feature", "properties": {}, "geometry": rect(0, 0, 200, 200)},
        headers=current,
    )
    assert shrink.status_code == 422
    assert "child_outside" in [p["problem"] for p in shrink.json()["detail"]]


def test_auto_numbering_west_east_north_south(client: TestClient, planner_headers: dict[str, str]) -> None:
    features = [*hierarchy("110103")]
    parent = "110103001001"
    # a 3 × 2 layout given in shuffled order
    cells = [(x, y) for y in (1, 0) for x in (0, 1, 2)]
    for x, y in reversed(cells):
        features.append(
            feature(
                None,
                rect(x * 333.3, y * 500, (x + 1) * 333.3, (y + 1) * 500, "110103"),
                parent=parent,
                tag=f"{x},{y}",
            )
        )
    features[3:] = [features[3:][i] for i in (2, 0, 5, 1, 4, 3)]
    response = client.post(
        "/api/grids/import?auto_number=true",
        json={"type": "FeatureCollection", "features": features},
        headers=planner_headers,
    )
    assert response.status_code == 200, response.text
    grids = client.get(f"/api/grids?parent_code={parent}").json()["features"]
    by_tag = {f["properties"]["tag"]: f["properties"]["code"] for f in grids}
    # north row first (y=1), west to east
    assert [by_tag[f"{x},{y}"] for x, y in cells] == [f"{parent}{n:03d}" for n in range(1, 7)]
    assert all(len(code) == 15 for code in by_tag.values())


def test_cli_import_grids(tmp_path, db: Database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import json

    from typer.testing import CliRunner

    from geo_service.cli import app

    path = tmp_path / "areas.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": hierarchy("110104")}))
    monkeypatch.setenv("GEO_SERVICE_DATABASE_URL", db.dsn)
    monkeypatch.setenv("GEO_SERVICE_LANGUAGE", "en")
    result = CliRunner().invoke(app, ["import-grids", str(path)])
    assert result.exit_code == 0, result.output
    assert "3 created" in result.output
    bad = tmp_path / "bad.geojson"
    bad.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    feature("110104001001001", rect(900, 900, 1500, 1500, "110104"), parent="110104001001")
                ],
            }
        )
    )
    result = CliRunner().invoke(app, ["import-grids", str(bad)])
    assert result.exit_code == 1 and "outside_parent" in result.output


def test_stats(client: TestClient, planner_headers: dict[str, str]) -> None:
    _setup(client, planner_headers)
    code = f"{PARENT}004"
    body = feature(
        code,
        rect(500, 500, 1000, 1000),
        parent=PARENT,
        population=12000,
        workers=[{"name": "张三", "phone": "1"}, {"name": "李四", "phone": "2"}],
    )
    assert client.post("/api/grids", json=body, headers=planner_headers).status_code == 201
    stats = client.get(f"/api/areas/{code}/stats").json()
    assert abs(stats["area_km2"] - 0.25) < 0.001
    assert stats["population"] == 12000 and stats["population_source"] == "record"
    assert stats["staffing_need"] == 22  # ceil(12000 × 18 / 10000) = ceil(21.6)
    assert stats["workers"] == 2 and stats["staffing_gap"] == 20
    assert stats["residences"] == 0
    parent = client.get(f"/api/areas/{PARENT}/stats").json()
    assert parent["workers"] >= 2, "workers of the grids below count for the community"
    assert client.get("/api/areas/NOPE/stats").status_code == 404


def test_stats_on_helsinki_residences(demo_client: TestClient, demo_grids_db: Database) -> None:
    from geo_service.grids.demo import DEMO_COUNTY

    client, db = demo_client, demo_grids_db
    stats = client.get(f"/api/areas/{DEMO_COUNTY}/stats").json()
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(*), sum(coalesce(households_reported, households_est)) FROM residences")
        count, households = cur.fetchone()
    assert stats["residences"] == count and stats["households"] == round(households)
    assert stats["population_source"] == "estimated"
    assert stats["staffing_need"] == -(-stats["population"] * 18 // 10000)
    assert stats["staffing_gap"] == stats["staffing_need"] - stats["workers"]


def test_list_filters(client: TestClient, planner_headers: dict[str, str]) -> None:
    _setup(client, planner_headers)
    grids = client.get("/api/grids", params={"level": "grid", "parent_code": PARENT}).json()["features"]
    assert grids and all(f["properties"]["level"] == "grid" for f in grids)
    west, south = lonlat(0, 0, origin_for("110102"))
    east, north = lonlat(400, 400, origin_for("110102"))
    boxed = client.get(
        "/api/grids", params={"bbox": f"{west},{south},{east},{north}", "level": "grid"}
    ).json()["features"]
    assert f"{PARENT}001" in {f["properties"]["code"] for f in boxed}
    assert client.get("/api/grids", params={"bbox": "1,2,3"}).status_code == 422
    assert client.get("/api/grids", params={"level": "county"}).status_code == 422
    assert shapely.geometry.shape(grids[0]["geometry"]).is_valid
    assert client.get("/api/grids/NOPE").status_code == 404
    _ = auth_headers
