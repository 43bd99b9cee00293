"""A database that stops answering, on a real server: the embedded cluster's processes stopped with SIGSTOP.

The cluster here is one of this module's own (not the one the other tests and xdist workers share), so freezing
it stalls nothing else; every freeze is undone (SIGCONT) in a ``finally``. The bounds asserted are the
service's own promises (a 503 within a few seconds instead of a hang), derived from the timeouts configured
below, with slack for a loaded two-core machine.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg2
import pytest
import uvicorn
from fastapi.routing import APIRoute

from geo_service.api.app import create_app
from geo_service.api.deps import get_db
from geo_service.auth import create_token
from geo_service.db import roles
from geo_service.db.bootstrap import migrate_database
from geo_service.db.cluster import Cluster
from geo_service.db.pool import Database, DatabaseBusy, Timeouts
from geo_service.settings import DatabaseSettings, IncidentSettings
from tests.conftest import TEST_HOME, auth_headers, free_port, running_server

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("GEO_SERVICE_DATABASE_URL")), reason="freezes the embedded cluster's processes"
)

TIMEOUTS = Timeouts(pool_s=5.0, connect_s=2, stall_probe_s=1.0, probe_s=1.0)
READINESS_TIMEOUT_S = 1.5
# A stalled request is ended once a probe found the server silent: stall_probe_s + probe_s, plus a tick; a
# request that must open a connection to a frozen server waits connect_s at most. Slack for a busy machine.
ROUTE_BOUND_S = TIMEOUTS.stall_probe_s + TIMEOUTS.probe_s + TIMEOUTS.connect_s + 3.0
READY_BOUND_S = READINESS_TIMEOUT_S + 2.5
LIBPQ_WORDS = (".s.PGSQL", "socket", "server closed", "connection to server", "/run", "timeout expired")


@pytest.fixture(scope="module")
def fault_settings() -> Iterator[DatabaseSettings]:
    home = TEST_HOME.parent / f".geo-service-faults-{uuid.uuid4().hex[:6]}"
    settings = DatabaseSettings(
        home=home,
        db_name="faults",
        connect_timeout_s=TIMEOUTS.connect_s,
        readiness_timeout_s=READINESS_TIMEOUT_S,
    )
    cluster = Cluster(settings)
    try:
        cluster.start()
        cluster.ensure_database()
        migrate_database(settings)
        yield settings
    finally:
        cluster.stop()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def fault_db(fault_settings: DatabaseSettings) -> Iterator[Database]:
    db = Database(Cluster(fault_settings).dsn(), max_size=4, timeouts=TIMEOUTS)
    yield db
    db.close()


@contextlib.contextmanager
def frozen(cluster: Cluster) -> Iterator[list[int]]:
    """Every server process stopped (postmaster first, so it starts no new one), resumed on the way out."""
    pids = cluster.server_pids()
    assert pids, "the cluster is not running"
    stopped = []
    try:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:  # a backend that ended between the listing and now: nothing to stop
                continue
            stopped.append(pid)
        yield pids
    finally:
        for pid in reversed(stopped):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def _timed_get(
    client: httpx.Client, path: str, headers: dict[str, str] | None = None
) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = client.get(path, headers=headers)
    return response, time.monotonic() - started


def _wait_until_ready(client: httpx.Client, limit_s: float = 30.0) -> None:
    deadline = time.monotonic() + limit_s
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "the service did not become ready again after SIGCONT"
        time.sleep(0.2)


def _assert_no_libpq_text(response: httpx.Response) -> None:
    text = response.text
    assert not any(word in text for word in LIBPQ_WORDS), text


def _routes(app: object) -> Iterator[tuple[str, set[str], object]]:
    """(path, methods, dependant) of every API route, whether included directly or through a router."""
    for route in app.routes:  # type: ignore[attr-defined]
        if isinstance(route, APIRoute):
            yield route.path, set(route.methods), route.dependant
        contexts = getattr(route, "effective_route_contexts", None)  # routers included lazily
        if contexts is not None:
            for context in contexts():
                yield context.path, set(context.methods), context.dependant


def _plain_get_routes(app: object) -> list[str]:
    """Every GET route without path parameters (the pages and documents included)."""
    return sorted({path for path, methods, _ in _routes(app) if "GET" in methods and "{" not in path})


def _calls(dependant: object) -> list[object]:
    found = []
    for dependency in dependant.dependencies:  # type: ignore[attr-defined]
        found.extend([dependency.call, *_calls(dependency)])
    return found


def test_healthz_depends_on_nothing_that_reaches_the_database(fault_db: Database) -> None:
    """/healthz has no database dependency (its own, its router's or the app's); the app-wide ones (rate
    limits) skip the token lookup for probes; the frozen test below shows it answering with a token."""
    app = create_app(db=fault_db)
    for probe in ("/healthz", "/readyz"):
        found = [dependant for path, _, dependant in _routes(app) if path == probe]
        assert len(found) == 1
        assert get_db not in _calls(found[0]), probe  # readiness has its own connection, not the pool


def test_frozen_database_answers_503_fast_and_recovers_without_restart(
    fault_settings: DatabaseSettings, fault_db: Database
) -> None:
    cluster = Cluster(fault_settings)
    incidents = IncidentSettings(escalation_interval_s=0.2)
    app = create_app(db=fault_db, db_settings=fault_settings, incident_settings=incidents)
    token_value = create_token(fault_db, "admin", "probe")
    with running_server(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        assert client.get("/readyz").status_code == 200
        assert client.get("/api/grids").status_code == 200
        routes = _plain_get_routes(app)
        with frozen(cluster), ThreadPoolExecutor(16) as pool:
            # requests already waiting on the frozen server when the others arrive, and a load balancer
            # polling readiness many times at once
            stuck = [pool.submit(_timed_get, client, "/api/grids") for _ in range(6)]
            polls = [pool.submit(_timed_get, client, "/readyz") for _ in range(8)]
            time.sleep(0.3)
            token = {"Authorization": f"Bearer {token_value}"}  # a probe sending a token: no lookup either
            health, health_s = _timed_get(client, "/healthz", token)
            ready, ready_s = _timed_get(client, "/readyz")
            for future in polls:
                response, elapsed_s = future.result()
                assert response.status_code == 503 and elapsed_s < READY_BOUND_S
            for future in stuck:
                response, elapsed_s = future.result()
                assert response.status_code == 503, response.text
                assert response.json()["code"] == "db.unavailable"
                assert elapsed_s < ROUTE_BOUND_S
                _assert_no_libpq_text(response)
            assert health.status_code == 200 and health_s < 2.0
            assert ready.status_code == 503 and ready_s < READY_BOUND_S
            assert ready.json()["code"] == "db.unavailable"
            _assert_no_libpq_text(ready)
            # every other route: an answer (503, or whatever it answers without the database), never a hang
            # or a 500
            unavailable = []
            for path in routes:
                response, elapsed_s = _timed_get(client, path)
                assert response.status_code != 500 and elapsed_s < ROUTE_BOUND_S, (path, response.status_code)
                if response.status_code == 503:
                    assert response.json()["code"] in {"db.unavailable", "db.timeout", "db.busy"}, path
                    _assert_no_libpq_text(response)
                    unavailable.append(path)
            assert {"/api/grids", "/api/facilities", "/api/stations", "/ogc/collections"} <= set(unavailable)
            sweeps_while_frozen = app.state.escalation.sweeps
            assert fault_db.busy_count <= 1  # at most the escalation sweep's own connection
        # SIGCONT: the same process recovers on its own
        _wait_until_ready(client)
        assert client.get("/api/grids").status_code == 200
        assert client.get("/healthz").status_code == 200
        deadline = time.monotonic() + 20
        while (
            app.state.escalation.sweeps <= sweeps_while_frozen + 1
        ):  # the job still runs, one sweep at a time
            assert time.monotonic() < deadline, "the escalation job stopped sweeping"
            time.sleep(0.1)
        assert app.state.escalation.running


def test_shutdown_is_not_held_up_by_a_frozen_database(fault_settings: DatabaseSettings) -> None:
    """The app opens its own pool (warm-up thread, escalation job), a request waits on the frozen server, and
    the server is told to stop: it stops, with no thread left waiting on the database."""
    cluster = Cluster(fault_settings)
    incidents = IncidentSettings(escalation_interval_s=0.2)
    app = create_app(db_settings=fault_settings, incident_settings=incidents)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        deadline = time.monotonic() + 60
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline
            time.sleep(0.05)
        _wait_until_ready(client)
        with frozen(cluster), ThreadPoolExecutor(2) as pool:
            waiting = pool.submit(_timed_get, client, "/api/grids")
            time.sleep(0.5)
            server.should_exit = True
            thread.join(timeout=ROUTE_BOUND_S + 10)
            assert not thread.is_alive(), "the server did not stop while the database was frozen"
            response, _ = waiting.result()
            assert response.status_code == 503
    # closing the pool shut down the sockets of busy connections: a thread still on one (the warm-up, say)
    # gets an error at once and hands it back
    deadline = time.monotonic() + 10
    while app.state.db.busy_count:
        assert time.monotonic() < deadline, "a thread is still waiting on the frozen database"
        time.sleep(0.05)


def test_pool_wait_is_bounded(fault_settings: DatabaseSettings) -> None:
    """Every connection lent out (to work on a live server): the next caller gets db.busy after pool_s."""
    db = Database(Cluster(fault_settings).dsn(), max_size=1, timeouts=Timeouts(pool_s=0.5, stall_probe_s=1.0))
    try:
        with db.connection(), pytest.raises(DatabaseBusy) as caught, db.connection():
            pass
        assert caught.value.code == "db.busy"
        with db.cursor() as cur:  # and the pool is whole again afterwards
            cur.execute("SELECT 1 AS one")
            assert cur.fetchone()["one"] == 1
    finally:
        db.close()


def test_long_statement_on_a_live_server_is_left_alone(fault_db: Database) -> None:
    """The watchdog ends connections only when the server is silent: a statement running longer than
    stall_probe_s + probe_s on a live server completes."""
    with fault_db.cursor() as cur:
        cur.execute("SELECT pg_sleep(%s), 42 AS answer", (TIMEOUTS.stall_probe_s + TIMEOUTS.probe_s + 1.0,))
        assert cur.fetchone()["answer"] == 42
    assert not fault_db.down


# -- a full disk ------------------------------------------------------------------------------------------------

DISTRICT = {
    "type": "Feature",
    "properties": {"code": "110199", "name": "test district", "level": "district"},
    "geometry": {
        "type": "Polygon",
        "coordinates": [
            [[116.30, 39.80], [116.32, 39.80], [116.32, 39.82], [116.30, 39.82], [116.30, 39.80]]
        ],
    },
}


def test_disk_full_error_class_is_507_and_readyz_follows(
    fault_settings: DatabaseSettings, fault_db: Database
) -> None:
    """The mapping, everywhere (no mount needed): a real PostgreSQL error of class disk_full (SQLSTATE 53100)
    through the pool becomes 507 db.disk_full, and /readyz stays 503 until its re-test finds room again."""
    app = create_app(db=fault_db, db_settings=fault_settings.model_copy(update={"disk_full_recheck_s": 3600}))

    @app.post("/test-disk-full")
    def _write() -> None:
        with fault_db.cursor() as cur:
            cur.execute(
                "DO $$ BEGIN RAISE EXCEPTION 'could not extend file' USING ERRCODE = 'disk_full'; END $$"
            )

    with running_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        assert client.get("/readyz").status_code == 200
        response = client.post("/test-disk-full", headers={"Accept-Language": "zh-CN"})
        assert response.status_code == 507
        body = response.json()
        assert body["code"] == "db.disk_full" and "磁盘" in body["message"]
        assert "extend" not in response.text
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["code"] == "db.disk_full"
        app.state.db_settings = fault_settings.model_copy(update={"disk_full_recheck_s": 0})
        assert client.get("/readyz").status_code == 200  # the re-test wrote a fresh page: room again
        assert fault_db.disk_full_at is None


@contextlib.contextmanager
def small_filesystem(path: Path, size_mb: int) -> Iterator[Path]:
    """A tmpfs of ``size_mb`` at ``path`` (root only); the test is skipped where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {result.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
        with contextlib.suppress(OSError):
            path.rmdir()


def fill(folder: Path) -> Path:
    """Write a file in ``folder`` until its file system has no byte left; returns the file."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for chunk in (1024 * 1024, 4096, 512):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * chunk) == chunk:
                    pass
    finally:
        os.close(fd)
    return filler


def test_full_tablespace_is_reported_as_such(fault_settings: DatabaseSettings) -> None:
    """A database whose tablespace lives on a 96 MB file system that fills up: the write that needs room gets
    507 db.disk_full and leaves nothing, /readyz says db.disk_full (from the failed write, and from free space
    on a local server without any write), and both recover when room is made, without a restart."""
    cluster = Cluster(fault_settings)
    admin = cluster.admin_dsn()
    with small_filesystem(Path(fault_settings.home) / "tiny", 96) as mount:
        location = mount / "ts"
        location.mkdir()
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(location, entry.pw_uid, entry.pw_gid)
        with contextlib.closing(psycopg2.connect(admin)) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f"CREATE TABLESPACE tiny LOCATION '{location}'")
                cur.execute("CREATE DATABASE faults_disk TABLESPACE tiny")
        db = other = None
        try:
            roles.prepare_database(admin, "faults_disk", fault_settings.db_owner, fault_settings.db_user)
            migrate_database(fault_settings, "faults_disk")
            db = Database(cluster.dsn("faults_disk"), max_size=4, timeouts=TIMEOUTS)
            settings = fault_settings.model_copy(update={"disk_full_recheck_s": 0, "min_free_disk_mb": 1})
            app = create_app(db=db, db_settings=settings)
            # the same database seen as a local server: /readyz also checks free space on its disks
            other = Database(
                cluster.dsn("faults_disk"), max_size=2, timeouts=TIMEOUTS, data_dir=cluster.data_dir
            )
            local_app = create_app(db=other, db_settings=settings)
            headers = auth_headers(db, "planner")
            with (
                running_server(app) as base,
                running_server(local_app) as local_base,
                httpx.Client(base_url=base, timeout=30) as client,
                httpx.Client(base_url=local_base, timeout=30) as local_client,
            ):
                assert client.get("/readyz").status_code == 200
                assert local_client.get("/readyz").status_code == 200
                filler = fill(mount)
                assert local_client.get("/readyz").json()["code"] == "db.disk_full"  # before any write failed
                response = client.post("/api/grids", json=DISTRICT, headers=headers)
                assert response.status_code == 507, response.text
                assert response.json()["code"] == "db.disk_full"
                assert "pg_tblspc" not in response.text and "No space" not in response.text
                ready = client.get("/readyz")
                assert ready.status_code == 503 and ready.json()["code"] == "db.disk_full"
                with db.cursor() as cur:
                    cur.execute("SELECT count(*) AS n FROM areas")
                    assert cur.fetchone()["n"] == 0  # nothing half-written
                filler.unlink()
                assert client.get("/readyz").status_code == 200
                assert local_client.get("/readyz").status_code == 200
                assert client.post("/api/grids", json=DISTRICT, headers=headers).status_code == 201
        finally:
            for pool in (db, other):
                if pool is not None:
                    pool.close()
            with contextlib.closing(psycopg2.connect(admin)) as conn:
                conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute("DROP DATABASE IF EXISTS faults_disk WITH (FORCE)")
                    cur.execute("DROP TABLESPACE IF EXISTS tiny")
