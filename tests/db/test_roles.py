"""Least privilege: the service's role is no superuser and owns nothing; the schema belongs to the owner role.

The ``db`` fixture connects as the runtime role, exactly as the service does (tests/conftest.py prepares every
test database with geo_service.db.roles and migrates it as the owner role).
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Iterator

import psycopg2
import psycopg2.errors
import pytest
from psycopg2 import sql

from geo_service.db import migrate, roles
from geo_service.db.bootstrap import migrate_database, setup_external
from geo_service.db.pool import Database
from geo_service.settings import DatabaseSettings
from tests.conftest import _admin_dsn, as_owner

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("GEO_SERVICE_DATABASE_URL")),
    reason="with GEO_SERVICE_DATABASE_URL the tests use that URL's one role",
)

FORBIDDEN = {
    "create a trusted extension": "CREATE EXTENSION hstore",
    "create an untrusted extension": "CREATE EXTENSION postgis_raster",
    "drop a table of the schema": "DROP TABLE areas",
    "drop an extension's table": "DROP TABLE spatial_ref_sys",
    "alter a table": "ALTER TABLE incidents ADD COLUMN leaked text",
    "create a table": "CREATE TABLE shadow (id int)",
    "read the password hashes": "SELECT rolpassword FROM pg_authid",
    "run a program on the server": "COPY (SELECT 1) TO PROGRAM 'true'",
    "write a file on the server": "COPY (SELECT 1) TO '/tmp/geo-service-leak'",
    "fake the schema version": "INSERT INTO schema_migrations (version, name, checksum) VALUES (99999, 'x', 'x')",
    "create a role": "CREATE ROLE intruder LOGIN SUPERUSER",
}


def test_runtime_role_is_no_superuser_and_owns_nothing(db: Database) -> None:
    with db.cursor() as cur:
        cur.execute(
            """SELECT current_user AS name, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls
               FROM pg_roles WHERE rolname = current_user"""
        )
        role = cur.fetchone()
        assert role["name"] == DatabaseSettings().db_user
        assert not any(
            role[k] for k in ("rolsuper", "rolcreaterole", "rolcreatedb", "rolreplication", "rolbypassrls")
        )
        cur.execute(
            """SELECT count(*) AS n FROM pg_class
               WHERE relowner = current_user::regrole AND relpersistence <> 't'"""
        )
        assert cur.fetchone()["n"] == 0
        cur.execute("SELECT count(*) AS n FROM pg_proc WHERE proowner = current_user::regrole")
        assert cur.fetchone()["n"] == 0


@pytest.mark.parametrize("what", sorted(FORBIDDEN))
def test_runtime_role_cannot(db: Database, what: str) -> None:
    with pytest.raises(psycopg2.errors.InsufficientPrivilege), db.cursor() as cur:
        cur.execute(FORBIDDEN[what])


def test_runtime_role_reads_writes_rows_and_refreshes_statistics(db: Database) -> None:
    """What the service does need: rows, temporary tables, and ANALYZE through analyze_tables after a load."""
    with db.cursor() as cur:
        cur.execute("CREATE TEMP TABLE scratch (id int) ON COMMIT DROP")
        cur.execute("INSERT INTO scratch VALUES (1)")
        cur.execute("UPDATE facilities SET name = name WHERE id = (SELECT min(id) FROM facilities)")
        cur.execute("SELECT version FROM schema_migrations LIMIT 1")
        cur.execute("SELECT analyze_tables(ARRAY['facilities'])")
        cur.execute("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'facilities'")
        assert cur.fetchone()["last_analyze"] is not None
        with pytest.raises(psycopg2.errors.UndefinedTable):
            cur.execute("SELECT analyze_tables(ARRAY['pg_authid'])")


def test_owner_role_owns_the_schema_and_is_no_superuser(db: Database) -> None:
    with as_owner(db) as cur:
        cur.execute("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user")
        assert cur.fetchone() == (False, False, False)
        cur.execute(
            """SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c
               WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'S')
                 AND c.relowner <> current_user::regrole
                 AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                 AND d.objid = c.oid AND d.deptype IN ('e', 'a', 'i'))"""
        )
        assert cur.fetchall() == [], "every table of the schema belongs to the owner role"
        cur.execute(
            "SELECT count(*) FROM pg_class WHERE relname = 'areas' AND relowner = current_user::regrole"
        )
        assert cur.fetchone()[0] == 1
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("CREATE EXTENSION postgis_raster")


@pytest.fixture
def external(pg_settings: DatabaseSettings) -> Iterator[DatabaseSettings]:
    """Settings of a deployment on a server of one's own (URLs, not the embedded cluster), on the test cluster:
    a fresh database and two fresh roles, all removed afterwards."""
    suffix = uuid.uuid4().hex[:8]
    admin = _admin_dsn(pg_settings)
    socket_dir = psycopg2.extensions.parse_dsn(admin)["host"]
    dbname, owner, runtime = f"gs_ext_{suffix}", f"ext_owner_{suffix}", f"ext_app_{suffix}"

    def url(user: str, password: str | None = None, database: str = dbname) -> str:
        secret = f":{password}" if password else ""
        return f"postgresql://{user}{secret}@/{database}?host={socket_dir}"

    admin_params = psycopg2.extensions.parse_dsn(admin)
    yield DatabaseSettings(
        database_url=url(runtime, "app-secret"),
        database_migrate_url=url(owner, "owner-secret"),
        database_admin_url=url(admin_params["user"], database="postgres"),
        home=pg_settings.home,
    )
    with contextlib.closing(psycopg2.connect(admin)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
            for role in (runtime, owner):
                cur.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_db_setup_for_a_server_of_ones_own(external: DatabaseSettings) -> None:
    """`geo-service db setup` with URLs: the superuser creates both roles with their passwords, the database
    and its extensions; migrations then run as the owner and the runtime role gets rows only."""
    dbname = setup_external(external)
    assert len(migrate_database(external)) > 0
    runtime_user = psycopg2.extensions.parse_dsn(external.database_url)["user"]
    owner_user = psycopg2.extensions.parse_dsn(external.database_migrate_url)["user"]
    with contextlib.closing(psycopg2.connect(external.database_admin_url)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT rolname, rolsuper, rolpassword IS NOT NULL FROM pg_authid WHERE rolname IN (%s, %s) ORDER BY 1",
            (runtime_user, owner_user),
        )
        assert cur.fetchall() == [(runtime_user, False, True), (owner_user, False, True)]
    db = Database(external.database_url, max_size=1)
    try:
        with db.cursor() as cur:
            cur.execute(
                "SELECT current_database() AS name, pg_get_userbyid(relowner) AS owner FROM pg_class "
                "WHERE relname = 'areas'"
            )
            assert cur.fetchone() == {"name": dbname, "owner": owner_user}
            cur.execute("SELECT count(*) AS n FROM areas")
            assert cur.fetchone()["n"] == 0
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), db.cursor() as cur:
            cur.execute("DROP TABLE areas")
    finally:
        db.close()
    assert migrate_database(external) == []  # again: nothing to do, and no error


def test_every_extension_a_migration_names_is_created_at_set_up() -> None:
    """Migrations run as the owner role, which may not create extensions: each one they name must be in the
    set-up's list (created by the superuser first), so `CREATE EXTENSION IF NOT EXISTS` finds it there."""
    named = set()
    for migration in migrate.available():
        named |= set(
            re.findall(
                r"(?i)create\s+extension\s+(?:if\s+not\s+exists\s+)?\"?(\w+)", migration.path.read_text()
            )
        )
    assert named and named <= set(roles.REQUIRED_EXTENSIONS), named - set(roles.REQUIRED_EXTENSIONS)
