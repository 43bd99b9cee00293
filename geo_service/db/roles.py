"""Least privilege: who may do what in the service's database.

Three roles, none of them used for more than its job:

- a **superuser** sets the cluster up: creates the two roles below, the database and the extensions (PostGIS,
  pg_trgm and pgrouting when installed; only a superuser may create PostGIS). The service never connects as it.
- the **owner** (``geo_service_owner``) runs the migrations and owns every table, sequence and function of the
  schema. It is not a superuser and cannot create roles or databases.
- the **runtime** role (``geo_service_app``) is what the service connects as: it reads and writes rows, creates
  temporary tables, reads ``schema_migrations`` and may run :func:`analyze_tables` after a bulk load; it owns
  nothing, so it cannot drop or alter a table, create an extension, read ``pg_authid`` or run ``COPY ... TO
  PROGRAM``.

:func:`prepare_database` (superuser) does the set-up; it runs for the embedded cluster on every start, for the
test databases, and for an external server through ``geo-service db setup``. :func:`grant_runtime` (owner) gives
the runtime role its rights on what the migrations made; :func:`~geo_service.db.migrate.migrate` calls it.
"""

from __future__ import annotations

import contextlib
import logging

import psycopg2
import psycopg2.extensions
from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor

from geo_service.db.rows import fetch_one

log = logging.getLogger(__name__)

REQUIRED_EXTENSIONS = ("postgis", "pg_trgm", "fuzzystrmatch")  # every extension a migration names
OPTIONAL_EXTENSIONS = ("pgrouting",)  # a benchmark peer, not needed by the service
_LOCKED_DOWN = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"


def _dsn_for(dsn: str, dbname: str) -> str:
    params = psycopg2.extensions.parse_dsn(dsn)
    params["dbname"] = dbname
    return psycopg2.extensions.make_dsn(**params)


def ensure_role(cur: Cursor, name: str, password: str | None = None) -> None:
    """Create login role ``name`` without any special attribute, or strip those attributes from it."""
    cur.execute("SELECT rolsuper, rolname = current_user FROM pg_roles WHERE rolname = %s", (name,))
    row = cur.fetchone()
    if row is None:
        cur.execute(sql.SQL("CREATE ROLE {} LOGIN " + _LOCKED_DOWN).format(sql.Identifier(name)))
    elif row[1]:
        raise ValueError(f"the service role {name!r} is the role doing the set-up; choose another name")
    else:
        cur.execute(sql.SQL("ALTER ROLE {} LOGIN " + _LOCKED_DOWN).format(sql.Identifier(name)))
    if password:
        cur.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(name), sql.Literal(password)))


def prepare_database(
    admin_dsn: str,
    dbname: str,
    owner: str,
    runtime: str,
    owner_password: str | None = None,
    runtime_password: str | None = None,
    create: bool = True,
) -> None:
    """As a superuser (``admin_dsn``, any database): the roles, the database (when ``create``), its extensions,
    who may create what in schema ``public``, and ownership of schema objects a superuser made earlier
    (deployments from before the roles were split) handed to ``owner``. Safe to run again."""
    with contextlib.closing(psycopg2.connect(_dsn_for(admin_dsn, "postgres"))) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            ensure_role(cur, owner, owner_password)
            if runtime != owner:
                ensure_role(cur, runtime, runtime_password)
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
            if cur.fetchone() is None:
                if not create:
                    raise ValueError(f"database {dbname!r} does not exist")
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
            cur.execute(
                sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}, {}").format(
                    sql.Identifier(dbname), sql.Identifier(owner), sql.Identifier(runtime)
                )
            )
    with contextlib.closing(psycopg2.connect(_dsn_for(admin_dsn, dbname))) as conn:
        with conn.cursor() as cur:
            create_extensions(cur)
            owner_id, runtime_id = sql.Identifier(owner), sql.Identifier(runtime)
            cur.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            cur.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(owner_id))
            cur.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(runtime_id))
            _adopt(cur, owner)
        conn.commit()


def create_extensions(cur: Cursor) -> None:
    """As a superuser, in the service database: the extensions the schema needs, and the optional ones that
    are installed."""
    for name in REQUIRED_EXTENSIONS:
        cur.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(name)))
    for name in OPTIONAL_EXTENSIONS:
        cur.execute("SELECT 1 FROM pg_available_extensions WHERE name = %s", (name,))
        if cur.fetchone() is not None:
            cur.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(name)))


def _adopt(cur: Cursor, owner: str) -> None:
    """Give ``owner`` the schema objects someone else (a superuser, before the split) created; extension
    members stay with their extension's owner. Indexes and column sequences follow their table."""
    cur.execute(
        """SELECT c.relkind, c.oid::regclass::text FROM pg_class c
           WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
             AND c.relowner <> %(owner)s::regrole
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                             AND d.objid = c.oid AND d.deptype IN ('e', 'a', 'i'))
           ORDER BY c.oid""",
        {"owner": owner},
    )
    kinds = {
        "r": "TABLE",
        "p": "TABLE",
        "v": "VIEW",
        "m": "MATERIALIZED VIEW",
        "f": "FOREIGN TABLE",
        "S": "SEQUENCE",
    }
    for relkind, name in cur.fetchall():
        # regclass text is already quoted as needed
        cur.execute(sql.SQL(f"ALTER {kinds[relkind]} {name} OWNER TO {{}}").format(sql.Identifier(owner)))
    cur.execute(
        """SELECT p.oid::regprocedure::text FROM pg_proc p
           WHERE p.pronamespace = 'public'::regnamespace AND p.proowner <> %(owner)s::regrole
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                             AND d.objid = p.oid AND d.deptype = 'e')""",
        {"owner": owner},
    )
    for (name,) in cur.fetchall():
        cur.execute(sql.SQL(f"ALTER ROUTINE {name} OWNER TO {{}}").format(sql.Identifier(owner)))


def grant_runtime(cur: Cursor, runtime: str) -> None:
    """As the owner, after migrations: ``runtime`` may read and write the rows of every table (and of tables
    made later), use the sequences, read but not change ``schema_migrations``, and call ``analyze_tables``."""
    role = sql.Identifier(runtime)
    for statement in (
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}",
        "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {}",
        "REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM {}",
    ):
        cur.execute(sql.SQL(statement).format(role))
    cur.execute("SELECT to_regprocedure('public.analyze_tables(text[])') IS NOT NULL")
    if fetch_one(cur)[0]:
        cur.execute(sql.SQL("GRANT EXECUTE ON FUNCTION analyze_tables(text[]) TO {}").format(role))
