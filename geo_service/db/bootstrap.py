"""Opening the service's database: set up (embedded cluster), migrate as the owner, serve as the runtime role.

The app lifespan and every CLI command go through :func:`open_database`, so the demo, the service and the tests
use the same arrangement of roles (:mod:`geo_service.db.roles`).
"""

from __future__ import annotations

import dataclasses

import psycopg2.extensions

from geo_service.db import roles
from geo_service.db.migrate import Migration, migrate
from geo_service.db.pool import (
    Database,
    Timeouts,
    resolve_dsn,
    resolve_migrate_dsn,
    runtime_role,
    with_password,
)
from geo_service.settings import DatabaseSettings


def migrate_database(settings: DatabaseSettings, dbname: str | None = None) -> list[Migration]:
    """Apply pending migrations as the schema owner and grant the runtime role its rights. No statement
    timeout: a migration of a large table may legitimately take long."""
    timeouts = dataclasses.replace(Timeouts.from_settings(settings), statement_ms=0)
    owner = Database(resolve_migrate_dsn(settings, dbname), max_size=1, timeouts=timeouts)
    try:
        return migrate(owner, grant_to=runtime_role(settings))
    finally:
        owner.close()


def open_database(settings: DatabaseSettings) -> Database:
    """The runtime role's pool on a migrated database (starting and preparing the embedded cluster when no
    URL is set). Raises ``ClusterError``, ``DatabaseUnavailable`` or ``psycopg2.Error``."""
    db = Database.from_settings(settings)
    try:
        migrate_database(settings)
    except BaseException:
        db.close()
        raise
    return db


def setup_external(settings: DatabaseSettings) -> str:
    """``geo-service db setup`` for a server of one's own: as ``database_admin_url`` (a superuser), create the
    owner role of ``database_migrate_url`` and the runtime role of ``database_url`` (passwords from the URLs or
    their password files), the database and its extensions. Returns the database name."""
    if not settings.database_url or not settings.database_admin_url:
        raise ValueError("set GEO_SERVICE_DATABASE_URL and GEO_SERVICE_DATABASE_ADMIN_URL")
    runtime = psycopg2.extensions.parse_dsn(
        with_password(settings.database_url, settings.database_password_file)
    )
    owner = psycopg2.extensions.parse_dsn(resolve_migrate_dsn(settings))
    dbname = runtime.get("dbname")
    if not dbname or not runtime.get("user") or not owner.get("user"):
        raise ValueError("the database URLs must name a database and a user")
    admin = with_password(settings.database_admin_url, settings.database_admin_password_file)
    roles.prepare_database(
        admin, dbname, owner["user"], runtime["user"], owner.get("password"), runtime.get("password")
    )
    return dbname


__all__ = ["migrate_database", "open_database", "resolve_dsn", "setup_external"]
