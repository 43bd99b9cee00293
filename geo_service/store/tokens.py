"""SQL for API tokens (only hashes are stored). Cursors here return plain tuples."""

from __future__ import annotations

from psycopg2.extensions import cursor as Cursor


def insert_token(cur: Cursor, token_hash: str, role: str, name: str | None) -> int:
    cur.execute(
        "INSERT INTO api_tokens (token_hash, role, name) VALUES (%s, %s, %s) RETURNING id",
        (token_hash, role, name),
    )
    return int(cur.fetchone()[0])


def find_token(cur: Cursor, token_hash: str) -> tuple[int, str, str | None] | None:
    """(id, role, name) of a live token with this hash."""
    cur.execute(
        "SELECT id, role, name FROM api_tokens WHERE token_hash = %s AND revoked_at IS NULL",
        (token_hash,),
    )
    row = cur.fetchone()
    return None if row is None else (row[0], row[1], row[2])
