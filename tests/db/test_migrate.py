from __future__ import annotations

from geo_service.db import migrate
from geo_service.db.pool import Database


def _tables(db: Database) -> set[str]:
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row[0] for row in cur.fetchall()}


def test_migrations_are_recorded_and_idempotent(empty_db: Database) -> None:
    assert migrate.is_current(empty_db)
    before = _tables(empty_db)
    assert migrate.migrate(empty_db) == []
    assert migrate.migrate(empty_db) == []
    assert _tables(empty_db) == before
    assert migrate.applied_version(empty_db) == migrate.latest_version()


def test_base_tables_and_geometry_indexes(empty_db: Database) -> None:
    tables = _tables(empty_db)
    for table in (
        "areas",
        "stations",
        "facilities",
        "residences",
        "walk_nodes",
        "walk_edges",
        "gazetteer",
        "incidents",
        "incident_history",
        "api_tokens",
        "audit_log",
        "schema_migrations",
    ):
        assert table in tables
    with empty_db.cursor(dict_rows=False) as cur:
        cur.execute(
            """SELECT c.table_name, c.column_name FROM information_schema.columns c
               WHERE c.table_schema = 'public' AND c.udt_name = 'geometry'
               AND NOT EXISTS (
                   SELECT 1 FROM pg_indexes i WHERE i.tablename = c.table_name
                   AND i.indexdef ILIKE '%USING gist%' AND i.indexdef LIKE '%(' || c.column_name || ')%')"""
        )
        assert cur.fetchall() == [], "every geometry column has a GiST index"


def test_fresh_database_migrates_from_zero(empty_db: Database) -> None:
    with empty_db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(*) FROM schema_migrations")
        assert cur.fetchone()[0] == len(migrate.available())
