"""Readiness: can the service use its database right now? Answered within a deadline, never from the pool.

``/readyz`` asks this on a fresh asynchronous connection with its own deadline (``readiness_timeout_s``), so a
frozen server, an exhausted pool or a slow query elsewhere cannot hold the answer up. Not ready when:

- the pool's watchdog has found the server silent (answered at once), or this check gets no connection or no
  answer in time (``db.unavailable``);
- the schema lacks migrations (``db.not_migrated``);
- writes cannot succeed for lack of disk space (``db.disk_full``). PostgreSQL accepts small writes on a full
  disk until it needs a new page, so no read-only check can tell; two signals are used instead. (1) A write
  refused with SQLSTATE 53100 anywhere in the process marks the pool; while marked, this check re-tests at most
  every ``disk_full_recheck_s`` by making the server allocate a fresh page (an 7 kB row in a temporary table
  of its own session, in the database's default tablespace) and clears the mark when that succeeds. (2) For a
  server on this machine (the embedded cluster), free space on the file systems of the data directory and of
  every tablespace below ``min_free_disk_mb``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.errors

from geo_service.db import migrate
from geo_service.db.pool import Database, NoAnswer, connect_async, query_async
from geo_service.settings import DatabaseSettings

log = logging.getLogger(__name__)

_DISK_PROBE = """CREATE TEMP TABLE readiness_disk_probe (filler text);
ALTER TABLE readiness_disk_probe ALTER COLUMN filler SET STORAGE PLAIN;
INSERT INTO readiness_disk_probe SELECT repeat('x', 7000);
DROP TABLE readiness_disk_probe"""


@dataclass(frozen=True)
class Readiness:
    """The answer: ready, or the catalogue code (and its parameters) of what is wrong."""

    ready: bool
    code: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    schema_version: int | None = None


def _low_disk(paths: list[Path], min_free_mb: int) -> Path | None:
    """The first of ``paths`` (that exist here) on a file system with less than ``min_free_mb`` free."""
    for path in paths:
        with contextlib.suppress(OSError):
            stats = os.statvfs(path)
            if stats.f_bavail * stats.f_frsize < min_free_mb * 1024 * 1024:
                return path
    return None


class _Flight:
    """One check at a time per pool; callers meanwhile wait for its answer (a load balancer polling many times
    a second must not queue one 1.5 s check behind another while the database is frozen)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answer: tuple[float, Readiness] | None = None


_FLIGHTS: weakref.WeakKeyDictionary[Database, _Flight] = weakref.WeakKeyDictionary()
_FLIGHTS_LOCK = threading.Lock()


def check(db: Database, settings: DatabaseSettings, asked: float | None = None) -> Readiness:
    """Whether ``db`` can be used now, answered within ``settings.readiness_timeout_s`` (plus a check already
    under way, at most). ``asked``: when the question came (``time.monotonic()``); a check finished since then
    answers it."""
    if db.silent:
        return Readiness(False, "db.unavailable")
    with _FLIGHTS_LOCK:
        flight = _FLIGHTS.setdefault(db, _Flight())
    asked = time.monotonic() if asked is None else asked
    if not flight.lock.acquire(timeout=settings.readiness_timeout_s):
        return Readiness(False, "db.unavailable")  # the check under way is itself waiting on the database
    try:
        if flight.answer is not None and flight.answer[0] >= asked:  # finished while this caller waited
            return flight.answer[1]
        answer = _fresh(db, settings)
        flight.answer = (time.monotonic(), answer)
        return answer
    finally:
        flight.lock.release()


def _fresh(db: Database, settings: DatabaseSettings) -> Readiness:
    deadline = time.monotonic() + settings.readiness_timeout_s
    try:
        conn = connect_async(db.probe_dsn, deadline)
    except (NoAnswer, psycopg2.Error) as exc:
        log.warning("not ready: no connection to the database (%s)", str(exc).strip() or "no answer")
        return Readiness(False, "db.unavailable")
    try:
        return _check(conn, db, settings, deadline)
    except (NoAnswer, psycopg2.Error) as exc:
        log.warning("not ready: %s", str(exc).strip() or "no answer from the database")
        return Readiness(False, "db.unavailable")
    finally:
        conn.close()


def _check(conn: Any, db: Database, settings: DatabaseSettings, deadline: float) -> Readiness:
    exists = query_async(conn, "SELECT to_regclass('public.schema_migrations') IS NOT NULL", deadline)[0][0]
    applied = 0
    if exists:
        applied = query_async(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations", deadline)[0][0]
    latest = migrate.latest_version()
    if applied < latest:
        return Readiness(False, "db.not_migrated", {"applied": applied, "latest": latest}, applied)
    if db.data_dir is not None:
        rows = query_async(conn, "SELECT pg_tablespace_location(oid) FROM pg_tablespace", deadline)
        paths = [db.data_dir, *(Path(row[0]) for row in rows if row[0])]
        low = _low_disk(paths, settings.min_free_disk_mb)
        if low is not None:
            log.error("not ready: less than %d MB free on the disk of %s", settings.min_free_disk_mb, low)
            return Readiness(False, "db.disk_full", schema_version=applied)
    marked = db.disk_full_at
    if marked is not None:
        if time.monotonic() - marked < settings.disk_full_recheck_s:
            return Readiness(False, "db.disk_full", schema_version=applied)
        try:
            query_async(conn, _DISK_PROBE, deadline)
        except psycopg2.errors.DiskFull:
            db.note_disk_full()
            return Readiness(False, "db.disk_full", schema_version=applied)
        db.clear_disk_full()
        log.warning("the database server can write again")
    return Readiness(True, schema_version=applied)
