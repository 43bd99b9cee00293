"""Several server processes, one truth: two real `geo-service serve` processes over one database. A write
through one (or an import by the CLI, a third process) shows in the other's locate, tiles, nearest stations and
isochrones, because every in-process cache follows the database's data revisions. Each process holds those in
memory and the database announces every change (LISTEN/NOTIFY): in practice the other process sees it on its
next request; the documented bound is GEO_SERVICE_REVISION_INTERVAL_S (`seen_within`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pyrosm
import pytest

from geo_service.db.pool import Database
from tests.conftest import REPO, auth_headers, free_port, seen_within
from tests.servers import stop, wait_until_ready
from tests.tiles.conftest import tile_of

POINT = (24.9445, 60.1702)  # central Helsinki, inside the demo hierarchy, on a street
TEST_PBF_POINT = (26.9500, 60.5300)  # inside pyrosm's small test extract, far from Helsinki


def _env(db: Database) -> dict[str, str]:
    return {
        **os.environ,
        "GEO_SERVICE_DATABASE_URL": db.dsn,
        "GEO_SERVICE_INCIDENTS_ESCALATION_ENABLED": "false",
        "GEO_SERVICE_POOL_MIN": "0",
    }


@contextmanager
def serve_many(db: Database, count: int, workers: int = 1) -> Iterator[list[str]]:
    """``count`` `geo-service serve` processes, each its own; yields their base URLs once every /readyz says
    ready. They start together, so their imports overlap instead of queueing."""
    ports = [free_port() for _ in range(count)]
    command = [sys.executable, "-m", "geo_service.cli", "serve", "--workers", str(workers), "--port"]
    processes = [
        subprocess.Popen(
            [*command, str(port)], env=_env(db), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for port in ports
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]

    def exit_text(i: int) -> str:
        stderr = processes[i].stderr
        return stderr.read().decode() if stderr else ""

    try:
        wait_until_ready(bases, processes, exit_text)
        yield bases
    finally:
        stop(processes, timeout_s=20)


@contextmanager
def serve(db: Database, workers: int = 1) -> Iterator[str]:
    """`geo-service serve` in its own process; yields its base URL once /readyz says ready."""
    with serve_many(db, 1, workers) as (base,):
        yield base


@pytest.fixture(scope="module")
def city(demo_city_db: Database) -> Database:
    return demo_city_db


@pytest.fixture(scope="module")
def two_servers(city: Database) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    with ExitStack() as stack:
        first, second = stack.enter_context(serve_many(city, 2))
        a = stack.enter_context(httpx.Client(base_url=first, timeout=60))
        b = stack.enter_context(httpx.Client(base_url=second, timeout=60))
        yield a, b


def _tile(client: httpx.Client, layer: str, lon: float, lat: float, zoom: int = 15) -> httpx.Response:
    z, x, y = tile_of(lon, lat, zoom)
    return client.get(f"/tiles/{layer}/{z}/{x}/{y}.pbf")


def test_grid_edit_through_one_shows_in_the_others_locate_and_tiles(two_servers, city: Database) -> None:
    a, b = two_servers
    planner = auth_headers(city, "planner")
    before = b.get("/api/locate", params={"lon": POINT[0], "lat": POINT[1]}).json()["grid"]
    tile_before = _tile(b, "grids", *POINT)
    assert before is not None and tile_before.status_code == 200

    current = a.get(f"/api/grids/{before['code']}")
    renamed = a.put(
        f"/api/grids/{before['code']}",
        json={"type": "Feature", "properties": {"name": "改名后的网格"}},
        headers={**planner, "If-Match": current.headers["ETag"]},
    )
    assert renamed.status_code == 200, renamed.text
    assert seen_within(
        lambda: (
            b.get("/api/locate", params={"lon": POINT[0], "lat": POINT[1]}).json()["grid"]["name"]
            == "改名后的网格"
        )
    )

    gone = a.delete(f"/api/grids/{before['code']}", headers={**planner, "If-Match": renamed.headers["ETag"]})
    assert gone.status_code == 204, gone.text
    assert seen_within(
        lambda: (
            (
                b.get("/api/locate", params=dict(zip(("lon", "lat"), POINT, strict=True))).json()["grid"]
                or {}
            ).get("code")
            != before["code"]
        )
    )
    tile_after = _tile(b, "grids", *POINT)
    assert tile_after.content != tile_before.content
    assert tile_after.headers.get("ETag") != tile_before.headers.get("ETag")


def test_station_move_through_one_shows_in_the_others_nearest(two_servers, city: Database) -> None:
    a, b = two_servers
    planner = auth_headers(city, "planner")
    params = {"lon": POINT[0], "lat": POINT[1], "limit": 1}
    nearest = b.get("/api/stations/nearest", params=params).json()["features"][0]
    station = a.get(f"/api/stations/{nearest['id']}")
    far = {
        "type": "Point",
        "coordinates": [POINT[0] + 0.03, POINT[1] + 0.01],
    }  # ~2 km away, still in the city
    moved = a.put(
        f"/api/stations/{nearest['id']}",
        json={"type": "Feature", "geometry": far, "properties": {}},
        headers={**planner, "If-Match": station.headers["ETag"]},
    )
    assert moved.status_code == 200, moved.text
    assert seen_within(
        lambda: b.get("/api/stations/nearest", params=params).json()["features"][0]["id"] != nearest["id"]
    )


def test_network_import_by_the_cli_shows_in_both_servers(two_servers, city: Database) -> None:
    a, b = two_servers
    origin = {"lon": TEST_PBF_POINT[0], "lat": TEST_PBF_POINT[1], "minutes": "5"}
    assert b.get("/api/isochrones", params=origin).status_code == 422  # no walkable street there yet
    imported = subprocess.run(
        [
            sys.executable,
            "-m",
            "geo_service.cli",
            "import-osm",
            pyrosm.get_data("test_pbf"),
            "--name",
            "test",
        ],
        env=_env(city),
        cwd=REPO,
        capture_output=True,
        timeout=300,
    )
    assert imported.returncode == 0, imported.stderr.decode()[-2000:]
    for server in (a, b):
        assert seen_within(
            lambda server=server: server.get("/api/isochrones", params=origin).status_code == 200
        )
        answer = server.get("/api/isochrones", params=origin)
        assert answer.status_code == 200, answer.text
        assert answer.json()["features"][0]["properties"]["area_m2"] > 1000
        assert "test" in {d["name"] for d in server.get("/api/network").json()["datasets"]}


def test_serve_with_two_workers_answers(city: Database) -> None:
    with serve(city, workers=2) as base, httpx.Client(base_url=base, timeout=30) as client:
        answers = [client.get("/api/locate", params={"lon": POINT[0], "lat": POINT[1]}) for _ in range(10)]
        assert {r.status_code for r in answers} == {200}
        assert len({r.text for r in answers}) == 1  # every worker gives the same answer
