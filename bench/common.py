"""Helpers shared by the benchmark scripts: a bench database, timing, and markdown tables."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from geo_service.db.migrate import migrate
from geo_service.db.pool import Database, resolve_dsn
from geo_service.settings import DatabaseSettings

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
LIECHTENSTEIN = SHARED_DATA / "liechtenstein-2013-08-03.osm.pbf"
BENCH_DB = "gs_bench"


def bench_database(name: str = BENCH_DB) -> Database:
    """A migrated database on the configured server (the embedded cluster unless a URL is set)."""
    db = Database(resolve_dsn(DatabaseSettings(), name), max_size=4)
    migrate(db)
    return db


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
