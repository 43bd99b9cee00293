"""A read replica: a real hot standby of a cluster of this module's own (``pg_basebackup -R``, streaming
replication). Reads go to it, writes to the primary, and a writer reads its own writes while the standby lags;
tokens are checked on the primary; while the primary is down the standby serves reads, signed in or not; no GET
route writes (a standby would refuse it)."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg2
import pytest

from geo_service.api.app import create_app
from geo_service.auth import hash_token
from geo_service.db.bootstrap import migrate_database
from geo_service.db.cluster import Cluster
from geo_service.db.pool import Database, DatabaseReadOnly
from geo_service.settings import DatabaseSettings
from tests.conftest import TEST_HOME, auth_headers, read_only_dsn, running_server

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("GEO_SERVICE_DATABASE_URL")), reason="starts a standby of an embedded cluster"
)


def _district(code: str, name: str, west: float) -> dict[str, Any]:
    """A district 0.02° square from (west, 39.80): the tests' districts lie side by side, never over each other."""
    ring = [[west, 39.80], [west + 0.02, 39.80], [west + 0.02, 39.82], [west, 39.82], [west, 39.80]]
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, "level": "district"},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


DISTRICT = _district("110188", "备库测试区", 116.30)


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[Cluster, Cluster]]:
    suffix = uuid.uuid4().hex[:6]
    primary_home = TEST_HOME.parent / f".geo-service-primary-{suffix}"
    standby_home = TEST_HOME.parent / f".geo-service-standby-{suffix}"
    settings = DatabaseSettings(home=primary_home, db_name="replicated")
    primary, standby = Cluster(settings), Cluster(DatabaseSettings(home=standby_home, db_name="replicated"))
    try:
        primary.start()
        primary.ensure_database()
        migrate_database(settings)
        standby.init_standby(primary)
        standby.start()
        yield primary, standby
    finally:
        standby.stop()
        primary.stop()
        shutil.rmtree(standby_home, ignore_errors=True)
        shutil.rmtree(primary_home, ignore_errors=True)


@contextlib.contextmanager
def replay_paused(standby: Cluster) -> Iterator[None]:
    """The standby stops applying the primary's WAL: it lags behind, as a loaded one would."""
    with contextlib.closing(psycopg2.connect(standby.admin_dsn())) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_wal_replay_pause()")
            try:
                yield
            finally:
                cur.execute("SELECT pg_wal_replay_resume()")


def _caught_up(db: Database, limit_s: float = 30) -> None:
    lsn = db.current_lsn()
    deadline = time.monotonic() + limit_s
    while db.for_reading(lsn) is not db.replica:
        assert time.monotonic() < deadline, "the standby did not catch up"
        time.sleep(0.05)


def test_reads_on_the_standby_writes_on_the_primary_and_a_writer_reads_its_writes(
    pair: tuple[Cluster, Cluster],
) -> None:
    primary, standby = pair
    db = Database(primary.dsn(), max_size=4, replica=Database(standby.dsn(), max_size=4))
    try:
        with db.replica.cursor() as cur:
            cur.execute("SELECT pg_is_in_recovery() AS standby")
            assert cur.fetchone()["standby"]
        headers = auth_headers(db, "planner")
        _caught_up(db)  # the token is on the standby too
        app = create_app(db=db)
        with (
            running_server(app) as base,
            httpx.Client(base_url=base, timeout=30) as writer,
            httpx.Client(base_url=base, timeout=30) as reader,
        ):
            path = f"/api/grids/{DISTRICT['properties']['code']}"
            with replay_paused(standby):
                created = writer.post("/api/grids", json=DISTRICT, headers=headers)
                assert created.status_code == 201, (
                    created.text
                )  # the standby would refuse it: the primary took it
                assert created.headers["x-write-lsn"]
                # the writer reads its own write while the standby lags (the cookie routes it to the primary)
                assert writer.get(path).status_code == 200
                # the same holds for an API client that passes the header instead of the cookie
                assert (
                    reader.get(path, headers={"X-Write-LSN": created.headers["x-write-lsn"]}).status_code
                    == 200
                )
                # anyone else is served by the standby, which has not replayed the write yet
                assert reader.get(path).status_code == 404
                # a token is checked on the primary even for a read the standby serves: revoked there, it is
                # refused at once, although the lagging standby still holds it as valid
                signed_in = auth_headers(db, "dispatcher")
                assert reader.get(path, headers=signed_in).status_code == 404  # valid; the standby's answer
                token_hash = hash_token(signed_in["Authorization"].removeprefix("Bearer "))
                with db.cursor() as cur:
                    cur.execute(
                        "UPDATE api_tokens SET revoked_at = now() WHERE token_hash = %s", (token_hash,)
                    )
                assert reader.get(path, headers=signed_in).status_code == 401
                # and the standby refuses writes outright
                with pytest.raises(DatabaseReadOnly), db.replica.cursor() as cur:
                    cur.execute("DELETE FROM api_tokens")
            deadline = time.monotonic() + 30
            while reader.get(path).status_code != 200:  # replayed: the standby serves it to everyone
                assert time.monotonic() < deadline, "the standby never showed the write"
                time.sleep(0.1)
    finally:
        db.close()


def test_reads_fall_back_to_the_primary_when_the_standby_is_down(pair: tuple[Cluster, Cluster]) -> None:
    primary, standby = pair
    db = Database(primary.dsn(), max_size=2, replica=Database(standby.dsn(), max_size=2))
    try:
        assert db.for_reading() is db.replica
        standby.stop()
        with pytest.raises(Exception), db.replica.cursor() as cur:  # noqa: B017 - the pool learns it is gone
            cur.execute("SELECT 1")
        deadline = time.monotonic() + 10
        while db.for_reading() is not db:
            assert time.monotonic() < deadline, "reads kept going to a stopped standby"
            time.sleep(0.1)
        app = create_app(db=db)
        with running_server(app) as base:
            assert httpx.get(f"{base}/api/grids", timeout=30).status_code == 200
    finally:
        standby.start()
        db.close()


def _get_paths() -> list[str]:
    """Every GET route of the demo city (one request each), /readyz last."""
    lon, lat = 24.9445, 60.1702
    return [
        "/api/grids",
        "/api/grids?level=community",
        "/api/grids/export?format=geojson",
        "/api/stations",
        "/api/facilities",
        f"/api/locate?lon={lon}&lat={lat}",
        f"/api/isochrones?lon={lon}&lat={lat}&minutes=5",
        f"/api/stations/nearest?lon={lon}&lat={lat}",
        f"/api/life-circle?lon={lon}&lat={lat}",
        "/api/coverage?level=community",
        "/api/coverage/gaps?category=grocery",
        "/api/geocode?q=Mannerheimintie",
        "/api/network",
        "/ogc/collections",
        "/ogc/collections/grids/items",
        "/ogc/collections/facilities/items",
        "/tiles/style.json",
        "/tiles/catalogue.json",
        "/tiles/grids.json",
        "/tiles/grids/14/9326/4739.pbf",
        "/tiles/facilities/14/9326/4739.pbf",
        "/tiles/coverage/14/9326/4739.pbf",
        "/maps/overview.html",
        "/open311/v2/services.json",
        f"/api/route?from={lon},{lat}&to=24.9410,60.1699",
        "/readyz",
    ]


def test_no_get_route_writes(demo_grids_db: Database) -> None:
    """Every GET route, served by a read-only 'standby' (the same database with every transaction read-only,
    as on a hot standby): none tries to write (that would answer 503 db.read_only) and none fails."""
    read_only = Database(read_only_dsn(demo_grids_db), max_size=4)
    primary = Database(demo_grids_db.dsn, max_size=4, replica=read_only)
    try:
        with (
            running_server(create_app(db=primary)) as base,
            httpx.Client(base_url=base, timeout=120) as client,
        ):
            answers = {path: client.get(path) for path in _get_paths()}
        wrote = {p: r.text for p, r in answers.items() if r.status_code == 503}
        assert wrote == {}
        assert all(r.status_code < 500 for r in answers.values()), {
            p: r.status_code for p, r in answers.items()
        }
        assert sum(r.status_code == 200 for r in answers.values()) >= len(answers) - 3
    finally:
        primary.close()


def test_every_get_route_answers_from_the_standby_while_the_primary_is_unreachable(
    demo_grids_db: Database,
) -> None:
    """The demo city's GET routes — walking ones included — with a primary that never answers (its socket does
    not exist) and a read-only copy as the standby: the same answers as with both up, but for /readyz, whose
    contract is 503 while the database (the primary) cannot be used."""
    read_only = Database(read_only_dsn(demo_grids_db), max_size=4)
    unreachable = read_only_dsn(demo_grids_db, host="/nonexistent-geo-service-primary")
    primary = Database(unreachable, max_size=4, replica=read_only)
    try:
        with (
            running_server(create_app(db=primary)) as base,
            httpx.Client(base_url=base, timeout=120) as client,
        ):
            answers = {path: client.get(path) for path in _get_paths()}
        assert answers.pop("/readyz").status_code == 503
        failed = {p: (r.status_code, r.text[:200]) for p, r in answers.items() if r.status_code >= 500}
        assert failed == {}, "\n".join(f"{p}: {v}" for p, v in failed.items())
        assert sum(r.status_code == 200 for r in answers.values()) >= len(answers) - 3
    finally:
        primary.close()


def test_reads_go_on_while_the_primary_is_down(pair: tuple[Cluster, Cluster]) -> None:
    """The primary stopped: the standby serves reads, anonymous or signed in (a token is then checked on the
    standby, which holds every token the primary shipped; the caches follow the standby's data revisions), and
    writes answer 503."""
    primary, standby = pair
    db = Database(primary.dsn(), max_size=2, replica=Database(standby.dsn(), max_size=2))
    district = _district("110199", "主库停机测试区", 116.40)
    try:
        known = auth_headers(db, "dispatcher")
        unseen = auth_headers(db, "planner")
        revoked = auth_headers(db, "planner")
        token_hash = hash_token(revoked["Authorization"].removeprefix("Bearer "))
        with db.cursor() as cur:
            cur.execute("UPDATE api_tokens SET revoked_at = now() WHERE token_hash = %s", (token_hash,))
        app = create_app(db=db)
        with running_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
            created = client.post("/api/grids", json=district, headers=auth_headers(db, "planner"))
            assert created.status_code == 201, created.text
            _caught_up(db)
            assert client.get("/api/auth/whoami", headers=known).status_code == 200
            primary.stop()
            try:
                located = client.get("/api/locate?lon=116.41&lat=39.81")
                assert located.status_code == 200, located.text
                assert "110199" in located.text  # the standby's data, through the locate index
                for path in (
                    "/api/grids",
                    "/api/grids/110199",
                    "/api/stations",
                    "/api/facilities",
                    "/ogc/collections/grids/items",
                    "/tiles/grids/14/13489/6213.pbf",
                    "/api/network",
                    "/api/geocode?q=Mannerheimintie",
                ):
                    answer = client.get(path)
                    assert answer.status_code == 200, (path, answer.text)
                assert client.get("/api/auth/whoami", headers=known).json()["role"] == "dispatcher"
                assert client.get("/api/auth/whoami", headers=unseen).json()["role"] == "planner"
                assert client.get("/api/auth/whoami", headers=revoked).status_code == 401
                assert client.get("/api/grids", headers=known).status_code == 200
                for path in ("/api/incidents", "/api/stats/incidents", "/api/stats/dashboard/areas"):
                    answer = client.get(path, headers=known)
                    assert answer.status_code == 200, (path, answer.text)
                refused = client.post("/api/grids", json=DISTRICT, headers=unseen)
                assert refused.status_code == 503 and refused.json()["code"] == "db.unavailable"
            finally:
                primary.start()
    finally:
        db.close()


def test_names_written_on_the_primary_are_found_on_the_standby(pair: tuple[Cluster, Cluster]) -> None:
    """A new area's name is copied to the search index unkeyed (keys need OpenCC and pypinyin, not SQL); a search
    served by the standby, which cannot write, has the primary key it, and finds it once replayed."""
    primary, standby = pair
    db = Database(primary.dsn(), max_size=2, replica=Database(standby.dsn(), max_size=2))
    district = _district("110177", "备库检索测试区", 116.50)
    try:
        app = create_app(db=db)
        with running_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
            created = client.post("/api/grids", json=district, headers=auth_headers(db, "planner"))
            assert created.status_code == 201, created.text
            _caught_up(db)
            deadline = time.monotonic() + 30
            while True:
                found = client.get("/api/geocode", params={"q": "备库检索测试区"})
                assert found.status_code == 200, found.text
                if any(c["name"] == "备库检索测试区" for c in found.json()["candidates"]):
                    break
                assert time.monotonic() < deadline, "the new name was never found on the standby"
                time.sleep(0.1)
        with db.cursor() as cur:
            cur.execute("SELECT count(*) AS unkeyed FROM geocode_names WHERE name_key IS NULL")
            assert cur.fetchone()["unkeyed"] == 0  # keyed on the primary
    finally:
        db.close()
