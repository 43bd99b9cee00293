"""Background work once per trigger: three real `geo-service serve` processes over one database run every
background job (escalation sweeps, service-circle redraw, coverage layer, warm-up) exactly once per trigger."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from geo_service.db.jobs import run_once
from geo_service.db.pool import Database
from tests.conftest import REPO, auth_headers, free_port
from tests.servers import stop, wait_until_ready

STATION = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [24.9452, 60.1688]},
    "properties": {
        "name": "三进程驿站",
        "kind": "care_station",
        "amenities": ["hot_water"],
        "opening_hours": "24/7",
    },
}
FACILITY = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [24.9371, 60.1756]},
    "properties": {"name": "三进程药店", "category": "pharmacy"},
}


@contextmanager
def serve(db: Database, logs: list[Path]) -> Iterator[list[str]]:
    """`geo-service serve` in a process of its own per log, with fast background loops; their base URLs once
    every one is ready. They start together (their imports overlap instead of queueing)."""
    ports = [free_port() for _ in logs]
    env = {
        **os.environ,
        "GEO_SERVICE_DATABASE_URL": db.dsn,
        "GEO_SERVICE_POOL_MIN": "0",
        "GEO_SERVICE_JOBS_INTERVAL_S": "0.5",
        "GEO_SERVICE_INCIDENTS_ESCALATION_INTERVAL_S": "0.5",
    }
    with ExitStack() as stack:
        processes = []
        for port, log in zip(ports, logs, strict=True):
            out = stack.enter_context(open(log, "wb"))  # a file, not a pipe that could fill up and stall
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "geo_service.cli", "serve", "--port", str(port), "--workers", "1"],
                    env=env,
                    cwd=REPO,
                    stdout=out,
                    stderr=out,
                )
            )
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        try:
            wait_until_ready(bases, processes, lambda i: logs[i].read_text())
            yield bases
        finally:
            stop(processes, timeout_s=30)


def _runs(db: Database) -> list[dict]:
    with db.cursor() as cur:
        cur.execute("SELECT job, trigger, runs, process, finished_at IS NOT NULL AS finished FROM job_runs")
        return cur.fetchall()


def _wait_for(db: Database, condition, what: str, limit_s: float = 90.0) -> list[dict]:
    deadline = time.monotonic() + limit_s
    while True:
        runs = _runs(db)
        if condition(runs):
            return runs
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: {runs}")
        time.sleep(0.2)


def test_three_processes_run_each_job_once_per_trigger(fresh_db: Database, tmp_path: Path) -> None:
    planner = auth_headers(fresh_db, "planner")
    with serve(fresh_db, [tmp_path / f"serve{i}.log" for i in range(3)]) as bases:
        # start-up: three warm-ups, one redraw and one coverage refresh for the data as it is
        _wait_for(
            fresh_db,
            lambda runs: {r["job"] for r in runs if r["finished"]} >= {"service_circles", "coverage_layer"},
            "the start-up jobs did not run",
        )
        # new triggers, through different processes: a station (stations revision), a facility (coverage)
        assert httpx.post(f"{bases[0]}/api/stations", json=STATION, headers=planner).status_code == 201
        assert httpx.post(f"{bases[1]}/api/facilities", json=FACILITY, headers=planner).status_code == 201
        runs = _wait_for(
            fresh_db,
            lambda runs: (
                sum(r["job"] == "service_circles" and r["finished"] for r in runs) >= 2
                and sum(r["job"] == "coverage_layer" and r["finished"] for r in runs) >= 2
                and sum(r["job"] == "escalation" for r in runs) >= 6
            ),
            "the jobs did not follow the new triggers",
        )
        time.sleep(1.5)  # three more escalation slots, and time for any duplicate to show
        runs = _runs(fresh_db)
    assert all(r["runs"] == 1 for r in runs), [r for r in runs if r["runs"] != 1]
    processes = {r["process"] for r in runs if r["job"] == "escalation"}
    assert len(processes) >= 2, "one process did every sweep: the test did not race three"
    slots = [r["trigger"] for r in runs if r["job"] == "escalation"]
    assert len(slots) == len(set(slots)) >= 6


def test_run_once_skips_a_trigger_already_done_and_one_running_elsewhere(fresh_db: Database) -> None:
    calls = []
    assert run_once(fresh_db, "test-job", "t1", lambda: calls.append(1) or "done") == (True, "done")
    assert run_once(fresh_db, "test-job", "t1", lambda: calls.append(2)) == (False, None)
    # while one run holds the job's lock, another process (here: another pool) skips at once
    other = Database(fresh_db.dsn, max_size=2)
    try:
        inner = []
        outer = run_once(
            fresh_db, "test-job", "t2", lambda: inner.append(run_once(other, "test-job", "t2", list))
        )
        assert outer == (True, None) and inner == [(False, None)]
    finally:
        other.close()
    assert calls == [1]
    with fresh_db.cursor() as cur:
        cur.execute("SELECT trigger, runs FROM job_runs WHERE job = 'test-job' ORDER BY trigger")
        assert [tuple(r.values()) for r in cur.fetchall()] == [("t1", 1), ("t2", 1)]
