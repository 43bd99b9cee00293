"""Versioned SQL migrations: ``migrations/NNNN_name.sql``, applied in order, each in its own transaction,
recorded in ``schema_migrations``. Re-running applies nothing new; an advisory lock keeps two processes
from migrating at once. Migrations run as the schema's owner role, never as the runtime role and never as a
superuser: extensions are created at set-up (:mod:`geo_service.db.roles`), so ``CREATE EXTENSION IF NOT
EXISTS`` in a migration only confirms they are there."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from geo_service.db import roles
from geo_service.db.pool import Database
from geo_service.db.rows import fetch_one

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
        if not fetch_one(cur)[0]:
            return 0
        cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
        return int(fetch_one(cur)[0])


def is_current(db: Database) -> bool:
    return applied_version(db) >= latest_version()


def _pending(db: Database) -> list[Migration]:
    """Migrations not applied yet, found without DDL (the runtime role may check but not migrate)."""
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT to_regclass('public.schema_migrations') IS NOT NULL")
        if not fetch_one(cur)[0]:
            return available()
        cur.execute("SELECT version FROM schema_migrations")
        done = {row[0] for row in cur.fetchall()}
    return [m for m in available() if m.version not in done]


def migrate(db: Database, grant_to: str | None = None) -> list[Migration]:
    """Apply every migration not yet applied; returns those applied now. ``db`` connects as the role that
    owns the schema; ``grant_to`` names the runtime role, which then gets row access to every table
    (:func:`geo_service.db.roles.grant_runtime`). Nothing to apply means no DDL at all."""
    applied_now: list[Migration] = []
    if _pending(db):
        applied_now = _apply(db)
    if grant_to:
        with db.cursor(dict_rows=False) as cur:
            roles.grant_runtime(cur, grant_to)
    return applied_now


def _apply(db: Database) -> list[Migration]:
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
        finally:
            conn.rollback()
            cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
            conn.commit()
    return applied_now
