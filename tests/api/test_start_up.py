"""The start-up warm-up of a serving process (``geo_service.background.StartUp``): the server listens once the
walking kernels are loaded, and the rest of the warm-up waits until no request is in flight. In a real
``geo-service serve`` process: :func:`test_a_server_listens_after_the_kernels_and_warms_the_rest_when_quiet`;
tests/db/test_jobs.py checks that the start-up jobs (the warm-up's last step) still run in every process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from geo_service.api.app import prepare_routes
from geo_service.background import StartUp, warm_up
from geo_service.db.pool import Database
from tests.conftest import REPO, free_port, make_client
from tests.servers import stop, wait_until_ready


@pytest.fixture
def fresh_client(db: Database) -> Iterator[TestClient]:
    """A client of its own: these tests put a start-up state on the app."""
    with make_client(db) as client:
        yield client


def _in_thread(target: object) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []
    thread = threading.Thread(target=lambda: out.append(target()), daemon=True)  # type: ignore[operator]
    thread.start()
    return thread, out


def test_the_start_waits_for_the_kernels_within_its_bound() -> None:
    """The server listens once the kernels are loaded; without the build step numba compiles for tens of
    seconds, which the start does not wait out."""
    start_up = StartUp(ready_wait_s=600, idle_s=0.5, defer_max_s=30)
    thread, out = _in_thread(start_up.wait_for_kernels)
    thread.join(0.3)
    assert thread.is_alive()
    start_up.kernels_done()
    thread.join(30)
    assert out == [True]
    assert StartUp(ready_wait_s=0, idle_s=0.5, defer_max_s=30).wait_for_kernels() is False


def test_requests_are_counted_but_probes_are_not(fresh_client: TestClient) -> None:
    start_up = StartUp(ready_wait_s=0, idle_s=0.5, defer_max_s=30)
    fresh_client.app.state.start_up = start_up  # type: ignore[attr-defined]
    before = start_up.last_ended
    for probe in ("/healthz", "/readyz"):
        assert fresh_client.get(probe).status_code == 200
    assert start_up.last_ended == before and start_up.in_flight == 0
    assert fresh_client.get("/api/grids").status_code == 200
    assert start_up.last_ended > before and start_up.in_flight == 0
    start_up.finished = True  # the warm-up is over: nothing is counted any more
    after = start_up.last_ended
    assert fresh_client.get("/api/grids").status_code == 200
    assert start_up.last_ended == after


def test_wait_quiet_waits_for_requests_to_end() -> None:
    start_up = StartUp(ready_wait_s=0, idle_s=0.05, defer_max_s=600)
    start_up.kernels_done()
    start_up.request_started()
    thread, out = _in_thread(start_up.wait_quiet)
    thread.join(0.3)
    assert thread.is_alive()  # a request is in flight: still waiting
    start_up.request_ended()
    thread.join(30)
    assert out == [True]


def test_wait_quiet_gives_up_waiting_after_its_bound_and_on_stop() -> None:
    busy = StartUp(ready_wait_s=0, idle_s=0.05, defer_max_s=0.2)
    busy.kernels_done()
    busy.request_started()  # never ends
    thread, out = _in_thread(busy.wait_quiet)
    thread.join(30)
    assert out == [True]  # the rest of the warm-up runs after all

    stopping = StartUp(ready_wait_s=0, idle_s=0.05, defer_max_s=600)
    stopping.kernels_done()
    stopping.request_started()
    thread, out = _in_thread(stopping.wait_quiet)
    stopping.stop()
    thread.join(30)
    assert out == [False]


def test_warm_up_loads_the_kernels_then_stops_with_the_server(fresh_client: TestClient, db: Database) -> None:
    """A server stopping while the rest of the warm-up waits for a quiet moment: the warm-up ends there, after
    the kernels (the routes, its first quiet step, not prepared)."""
    state = fresh_client.app.state  # type: ignore[attr-defined]
    start_up = StartUp(ready_wait_s=600, idle_s=0.05, defer_max_s=600)
    start_up.request_started()  # busy: the rest waits
    prepared: list[bool] = []
    thread, out = _in_thread(
        lambda: warm_up(
            db,
            state.station_context,
            state.life_circle_context,
            state.locate_settings,
            start_up,
            lambda: prepared.append(True),
        )
    )
    assert start_up.wait_for_kernels()
    assert thread.is_alive() and not start_up.finished  # waiting for a quiet moment
    start_up.stop()
    thread.join(60)
    assert out == [{}] and start_up.finished and prepared == []


def test_prepare_routes_leaves_every_route_answering(fresh_client: TestClient) -> None:
    prepare_routes(fresh_client.app)  # type: ignore[arg-type]
    prepare_routes(fresh_client.app)  # type: ignore[arg-type]  # twice: nothing built twice breaks
    assert fresh_client.get("/api/grids").status_code == 200
    assert fresh_client.get("/.warm-up/").status_code == 404


def test_a_server_listens_after_the_kernels_and_warms_the_rest_when_quiet(
    db: Database, tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    port = free_port()
    env = {
        **os.environ,
        "GEO_SERVICE_DATABASE_URL": db.dsn,
        "GEO_SERVICE_INCIDENTS_ESCALATION_ENABLED": "false",
        "GEO_SERVICE_JOBS_WARM_UP_IDLE_S": "0.2",
    }
    command = [sys.executable, "-m", "geo_service.cli", "serve", "--workers", "1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, cwd=REPO, stdout=out, stderr=out)
    try:
        wait_until_ready([f"http://127.0.0.1:{port}"], [process], lambda _: log.read_text())
        text = log.read_text()
        assert text.index("walking kernels ready") < text.index("Application startup complete")
        for _ in range(600):  # no request comes: the rest of the warm-up runs on its own
            if "start-up warm-up done" in log.read_text():
                break
            time.sleep(0.2)
        assert "start-up warm-up done" in log.read_text(), log.read_text()[-2000:]
    finally:
        stop([process], timeout_s=20)
