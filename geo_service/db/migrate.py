"""Versioned SQL migrations: ``migrations/NNNN_name.sql``, applied in order, each in its own transaction,
recorded in ``schema_migrations``. Re-running applies nothing new; an advisory lock keeps two processes
from migrating at once."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from geo_service.db.pool import Database

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_LOCK_KEY = 7_302_114_001  # pg_advisory_lock key reserved for migrations
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def available() -> list[Migration]:
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = _NAME.match(path.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version number in {MIGRATIONS_DIR}")
    return found


def latest_version() -> int:
    return max((m.version for m in available()), default=0)


def applied_version(db: Database) -> int:
    """Highest applied migration, 0 when the table does not exist yet."""
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT to_regclass('public.schema_migrations') IS NOT NULL")
        if not cur.fetchone()[0]:
            return 0
        cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
        return int(cur.fetchone()[0])


def is_current(db: Database) -> bool:
    return applied_version(db) >= latest_version()


def migrate(db: Database) -> list[Migration]:
    """Apply every migration not yet applied; returns those applied now."""
    applied_now: list[Migration] = []
    with db.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        conn.commit()
        try:
            cur.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version integer PRIMARY KEY,
                       name text NOT NULL,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            conn.commit()
            cur.execute("SELECT version, checksum FROM schema_migrations")
            done = dict(cur.fetchall())
            for migration in available():
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        log.warning("migration %s changed after it was applied", migration.path.name)
                    continue
                cur.execute(migration.path.read_text())
                cur.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
                conn.commit()
                applied_now.append(migration)
            _try_optional_extension(conn, "pgrouting")
        finally:
            conn.rollback()
            cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
            conn.commit()
    return applied_now


def _try_optional_extension(conn: psycopg2.extensions.connection, name: str) -> None:
    """Create an extension that is nice to have (a benchmark peer) but not required."""
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_available_extensions WHERE name = %s", (name,))
        if cur.fetchone() is None:
            return
        try:
            cur.execute(f'CREATE EXTENSION IF NOT EXISTS "{name}"')
            conn.commit()
        except psycopg2.Error:
            conn.rollback()
