"""Grid workers (网格员): tokens bound to grids, patrol reports filed from a phone straight to their own grid,
sent again from an offline queue without being filed twice, and their grid's cases taken and resolved."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from geo_service.auth import authenticate, create_token
from geo_service.cli import app as cli
from geo_service.coords import from_wgs84
from geo_service.db.pool import Database, resolve_dsn
from geo_service.errors import InvalidInput
from tests.conftest import TEST_HOME
from tests.incidents.areas import GRID_1, GRID_2, GRID_3, POINTS, incident

pytestmark = pytest.mark.usefixtures("areas")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def worker(db: Database, areas: None) -> dict[str, str]:
    """A worker of GRID_1 and GRID_3."""
    return bearer(create_token(db, "worker", "网格员王五", grids=[GRID_1, GRID_3]))


def _count(db: Database) -> int:
    with db.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM incidents")
        return int(cur.fetchone()["n"])


def test_worker_tokens_name_their_grids(db: Database, client: TestClient, admin_headers: dict) -> None:
    token = create_token(db, "worker", "w", grids=[GRID_2, f" {GRID_2} "])
    assert authenticate(db, token).grids == (GRID_2,)
    assert client.get("/api/auth/whoami", headers=bearer(token)).json()["grids"] == [GRID_2]
    for role, grids, code in (
        ("worker", [], "auth.worker_needs_grid"),
        ("dispatcher", [GRID_1], "auth.grids_only_for_workers"),
        ("worker", ["999999999999999"], "auth.unknown_grids"),
    ):
        with pytest.raises(InvalidInput) as refused:
            create_token(db, role, "x", grids=grids)
        assert refused.value.code == code
    made = client.post("/api/tokens", json={"role": "worker", "grids": [GRID_3]}, headers=admin_headers)
    assert made.status_code == 201 and made.json()["grids"] == [GRID_3]
    refused = client.post("/api/tokens", json={"role": "worker"}, headers=admin_headers)
    assert refused.status_code == 422 and refused.json()["code"] == "auth.worker_needs_grid"
    listed = client.get("/api/tokens", headers=admin_headers).json()["tokens"]
    assert any(t["role"] == "worker" and t["grids"] == [GRID_3] for t in listed)


def test_cli_creates_a_worker_token(db: Database, monkeypatch: pytest.MonkeyPatch, pg_settings) -> None:
    """`geo-service token create --role worker --grid CODE --grid CODE2`, against this module's database."""
    dbname = db.dsn.split("dbname=")[1].split()[0]
    if pg_settings.database_url:
        monkeypatch.setenv("GEO_SERVICE_DATABASE_URL", resolve_dsn(pg_settings, dbname, start=False))
    else:
        monkeypatch.delenv("GEO_SERVICE_DATABASE_URL", raising=False)
        monkeypatch.setenv("GEO_SERVICE_HOME", str(TEST_HOME))
        monkeypatch.setenv("GEO_SERVICE_DB_NAME", dbname)
    monkeypatch.setenv("GEO_SERVICE_LANGUAGE", "en")
    runner = CliRunner()
    done = runner.invoke(cli, ["token", "create", "--role", "worker", "--grid", GRID_1, "--grid", GRID_2])
    assert done.exit_code == 0, done.output
    principal = authenticate(db, done.output.strip().splitlines()[-1])
    assert principal.role == "worker" and principal.grids == (GRID_1, GRID_2)
    listed = runner.invoke(cli, ["token", "list"])
    assert f"grid worker:{GRID_1},{GRID_2}" in listed.output
    missing = runner.invoke(cli, ["token", "create", "--role", "worker"])
    assert missing.exit_code == 2 and "--grid" in missing.output
    unknown = runner.invoke(cli, ["token", "create", "--role", "worker", "--grid", "nope"])
    assert unknown.exit_code == 2 and "nope" in unknown.output


def test_a_patrol_report_lands_in_the_workers_grid(client: TestClient, db: Database, worker: dict) -> None:
    lon, lat = POINTS["grid_1"]
    body = {
        "lon": lon,
        "lat": lat,
        "category": "E0102",
        "description": "巡查发现：垃圾堆放",
        "accuracy_m": 8.5,
        "client_id": "phone-7f3a-0001",
        "source": "hotline",
    }
    filed = client.post("/api/incidents", json=body, headers=worker)
    assert filed.status_code == 201, filed.text
    incident_ = filed.json()
    assert incident_["source"] == "patrol" and incident_["grid_code"] == GRID_1  # a worker's report is patrol
    assert incident_["accuracy_m"] == 8.5 and incident_["client_id"] == "phone-7f3a-0001"
    assert "reporter" not in incident_  # callers' contacts are for dispatchers
    # the offline queue sends it again when the network returns: the same incident, nothing new
    before = _count(db)
    again = client.post("/api/incidents", json=body, headers=worker)
    assert again.status_code == 200 and again.json()["id"] == incident_["id"]
    assert again.json()["note_codes"] == ["loop.note.sent_before"] and _count(db) == before
    # the same client id from someone else is not theirs to read
    other = client.post(
        "/api/incidents", json=body, headers=bearer(create_token(db, "worker", "o", grids=[GRID_1]))
    )
    assert other.status_code == 409 and other.json()["code"] == "loop.client_id_taken"


def test_positions_from_amap_and_baidu_are_accepted(client: TestClient, worker: dict) -> None:
    lon, lat = 24.935, 60.176  # inside GRID_3
    for crs in ("gcj02", "bd09"):
        x, y = from_wgs84(lon, lat, crs)
        filed = client.post(
            "/api/incidents",
            headers=worker,
            json={"lon": x, "lat": y, "crs": crs, "category": "E0501", "accuracy_m": 20},
        )
        assert filed.status_code == 201, filed.text
        assert filed.json()["grid_code"] == GRID_3 and filed.json()["crs"] == crs
        assert abs(filed.json()["lon"] - lon) < 1e-5 and abs(filed.json()["lat"] - lat) < 1e-5


def test_a_report_outside_the_workers_grids_is_refused_naming_the_grid(
    client: TestClient, db: Database, worker: dict
) -> None:
    before = _count(db)
    lon, lat = POINTS["grid_2"]
    refused = client.post(
        "/api/incidents", json={"lon": lon, "lat": lat, "category": "E0102"}, headers=worker
    )
    assert refused.status_code == 422 and refused.json()["code"] == "loop.patrol_outside_grids"
    assert GRID_2 in refused.json()["message"] and "网格" in refused.json()["message"]
    bad = client.post(
        "/api/incidents",
        json={
            **dict(zip(("lon", "lat"), POINTS["grid_1"], strict=True)),
            "category": "E0102",
            "accuracy_m": -3,
        },
        headers=worker,
    )
    assert bad.status_code == 422 and bad.json()["code"] == "loop.bad_accuracy"
    assert _count(db) == before


def test_workers_see_and_handle_their_own_grids_only(
    client: TestClient, dispatcher_headers: dict, worker: dict
) -> None:
    mine = incident(client, dispatcher_headers, "grid_1", description="热线：路面垃圾").json()["id"]
    theirs = incident(client, dispatcher_headers, "grid_2").json()["id"]
    listed = client.get("/api/incidents", headers=worker).json()["features"]
    grids = {f["properties"]["grid_code"] for f in listed}
    assert grids <= {GRID_1, GRID_3} and mine in {f["id"] for f in listed}
    assert all("reporter" not in f["properties"] for f in listed)
    assert client.get(f"/api/incidents/{theirs}", headers=worker).status_code == 403
    assert client.get(f"/api/incidents/{theirs}/history", headers=worker).status_code == 403
    # the worker cannot file or dispatch; the dispatcher does, then the worker takes it and resolves it
    assert (
        client.post(f"/api/incidents/{mine}/transition", json={"to": "filed"}, headers=worker).status_code
        == 403
    )
    for step in ("filed", "dispatched"):
        client.post(f"/api/incidents/{mine}/transition", json={"to": step}, headers=dispatcher_headers)
    for step in ("in_progress", "resolved"):
        moved = client.post(f"/api/incidents/{mine}/transition", json={"to": step}, headers=worker)
        assert moved.status_code == 200 and moved.json()["status"] == step
    for step in ("filed", "dispatched"):
        client.post(f"/api/incidents/{theirs}/transition", json={"to": step}, headers=dispatcher_headers)
    refused = client.post(f"/api/incidents/{theirs}/transition", json={"to": "in_progress"}, headers=worker)
    assert refused.status_code == 403 and refused.json()["code"] == "incident.not_your_grid"
    # and no callback or merge for a worker
    assert (
        client.post(f"/api/incidents/{mine}/feedback", json={"reached": False}, headers=worker).status_code
        == 403
    )
