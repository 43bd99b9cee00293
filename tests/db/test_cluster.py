"""The embedded cluster's lifecycle, on a cluster of its own (not the one the other tests use)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from geo_service.db import cluster as cluster_module
from geo_service.db.bootstrap import open_database
from geo_service.db.cluster import LEGACY_SUPERUSER, Cluster, ClusterError
from geo_service.db.migrate import migrate
from geo_service.db.pool import Database
from geo_service.settings import DatabaseSettings
from tests.conftest import TEST_HOME, make_client

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("GEO_SERVICE_DATABASE_URL")), reason="embedded cluster only"
)


@pytest.fixture(scope="module")
def lifecycle_home() -> Iterator[Path]:
    home = TEST_HOME.parent / f".geo-service-lifecycle-{uuid.uuid4().hex[:6]}"
    yield home
    Cluster(DatabaseSettings(home=home)).stop()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(lifecycle_home: Path) -> Cluster:
    return Cluster(DatabaseSettings(home=lifecycle_home))


def _query(cluster: Cluster) -> int:
    with psycopg2.connect(cluster.dsn()) as conn, conn.cursor() as cur:
        cur.execute("SELECT postgis_lib_version() IS NOT NULL, 1")
        return cur.fetchone()[1]


def test_first_start_initialises_and_serves_postgis(cluster: Cluster) -> None:
    assert cluster.start() is True
    cluster.ensure_database()
    assert cluster.status().running
    assert (cluster.data_dir / "PG_VERSION").read_text().strip() == "15"
    owner = Database(cluster.dsn(user=cluster.settings.db_owner))
    migrate(owner, grant_to=cluster.settings.db_user)
    owner.close()
    assert _query(cluster) == 1


def test_second_start_while_running_is_a_no_op(cluster: Cluster) -> None:
    pid = cluster.status().pid
    assert cluster.start() is False
    assert cluster.status().pid == pid


def test_no_tcp_listener_only_a_socket(cluster: Cluster) -> None:
    assert (cluster.socket_dir / ".s.PGSQL.5432").exists()
    with psycopg2.connect(cluster.dsn()) as conn, conn.cursor() as cur:
        cur.execute("SHOW listen_addresses")
        assert cur.fetchone()[0] == ""


def test_stop_then_status_then_start_again(cluster: Cluster) -> None:
    assert cluster.stop() is True
    assert not cluster.status().running
    assert cluster.stop() is False
    assert cluster.start() is True
    assert _query(cluster) == 1


def test_restart_after_kill_9(cluster: Cluster) -> None:
    pid = cluster.status().pid
    assert pid
    os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        if not cluster.is_running():
            break
        time.sleep(0.05)
    assert (cluster.data_dir / "postmaster.pid").exists(), "a crash leaves its pid file behind"
    assert cluster.start() is True
    assert _query(cluster) == 1


def test_stale_pid_file_naming_a_live_foreign_process(cluster: Cluster) -> None:
    """After a crash the PID in postmaster.pid may belong to another process by now."""
    cluster.stop()
    pid_file = cluster.data_dir / "postmaster.pid"
    pid_file.write_text(f"{os.getpid()}\n{cluster.data_dir}\n")
    assert not cluster.status().running
    assert cluster.start() is True
    assert _query(cluster) == 1


def test_readyz_follows_the_cluster(cluster: Cluster) -> None:
    db = Database(cluster.dsn(), max_size=4)
    try:
        with make_client(db) as client:
            assert client.get("/readyz").status_code == 200
            cluster.stop()
            down = client.get("/readyz")
            assert down.status_code == 503
            assert "unavailable" in down.json()["detail"]
            assert client.get("/healthz").status_code == 200
            cluster.start()
            assert client.get("/readyz").status_code == 200
    finally:
        db.close()


def test_readyz_503_when_unmigrated(cluster: Cluster) -> None:
    cluster.ensure_database("unmigrated")
    db = Database(cluster.dsn("unmigrated"), max_size=2)
    try:
        with make_client(db) as client:
            response = client.get("/readyz")
        assert response.status_code == 503
        assert "not migrated" in response.json()["detail"]
    finally:
        db.close()


def test_missing_binaries_name_the_debian_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cluster_module, "PG_ROOT", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ClusterError, match="postgresql-15-postgis-3"):
        Cluster(DatabaseSettings(home=tmp_path / "home")).start()


def test_data_dir_from_another_major_version(lifecycle_home: Path) -> None:
    home = lifecycle_home.with_name(lifecycle_home.name + "-old")
    data = home / "pgdata"
    data.mkdir(parents=True)
    (data / "PG_VERSION").write_text("13\n")
    try:
        with pytest.raises(ClusterError, match=r"PostgreSQL 13 .*PostgreSQL 15"):
            Cluster(DatabaseSettings(home=home)).start()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_cluster_made_before_the_role_split_is_adopted(lifecycle_home: Path) -> None:
    """A cluster whose bootstrap superuser was the service role (``geo_service``), with a database its
    superuser migrated: the next start creates the owner and runtime roles, hands the schema to the owner and
    serves as the runtime role, data intact."""
    home = lifecycle_home.with_name(lifecycle_home.name + "-legacy")
    legacy = Cluster(DatabaseSettings(home=home, db_superuser=LEGACY_SUPERUSER))
    try:
        legacy.start()
        with contextlib.closing(psycopg2.connect(legacy.dsn("postgres", user=LEGACY_SUPERUSER))) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("CREATE DATABASE geo_service")
        old = Database(legacy.dsn(user=LEGACY_SUPERUSER), max_size=1)
        migrate(old)
        with old.cursor() as cur:
            cur.execute("INSERT INTO api_tokens (token_hash, role, name) VALUES ('x', 'admin', 'legacy')")
        old.close()

        db = open_database(DatabaseSettings(home=home))
        try:
            with db.cursor() as cur:
                cur.execute(
                    "SELECT current_user AS me, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)"
                )
                assert tuple(cur.fetchone().values()) == ("geo_service_app", False)
                cur.execute("SELECT name FROM api_tokens")
                assert [r["name"] for r in cur.fetchall()] == ["legacy"]
                cur.execute("SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relname = 'areas'")
                assert cur.fetchone()["owner"] == "geo_service_owner"
                cur.execute(
                    "SELECT pg_get_userbyid(proowner) AS owner FROM pg_proc WHERE proname = 'analyze_tables'"
                )
                assert (
                    cur.fetchone()["owner"] == "geo_service_owner"
                )  # a SECURITY DEFINER no longer a superuser's
        finally:
            db.close()
    finally:
        legacy.stop()
        shutil.rmtree(home, ignore_errors=True)
