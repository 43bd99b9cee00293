"""SQL for API tokens (only hashes are stored). Cursors here return plain tuples.

Expiry and last use are judged by the database clock (``now()``): they are security boundaries that follow real
time, the same for every process.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from psycopg2.extensions import cursor as Cursor

from geo_service.db.rows import fetch_one

LAST_USED_RESOLUTION_S = 60  # last_used_at is refreshed at most this often, so a read stays a read


class TokenRow(NamedTuple):
    """One token as listed: never its secret (only a hash is stored anyway)."""

    id: int
    role: str
    name: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    expired: bool
    grids: tuple[str, ...] = ()


def insert_token(
    cur: Cursor,
    token_hash: str,
    role: str,
    name: str | None,
    expires_days: int | None = None,
    grids: Sequence[str] = (),
) -> int:
    cur.execute(
        """INSERT INTO api_tokens (token_hash, role, name, expires_at, grids)
           VALUES (%s, %s, %s, now() + make_interval(days => %s), %s) RETURNING id""",
        (token_hash, role, name, expires_days, list(grids)),
    )
    return int(fetch_one(cur)[0])


def current_grid_codes(cur: Cursor, codes: Sequence[str]) -> set[str]:
    """Which of ``codes`` name a current grid (level ``grid``)."""
    cur.execute(
        "SELECT code FROM areas WHERE code = ANY(%s) AND level = 'grid' AND valid_to IS NULL", (list(codes),)
    )
    return {row[0] for row in cur.fetchall()}


class FoundToken(NamedTuple):
    """A live token as a request needs it; ``seconds_left`` until it expires by the database clock (None: it
    does not); ``stale_use``: its last use is older than :data:`LAST_USED_RESOLUTION_S` (note it)."""

    id: int
    role: str
    name: str | None
    grids: tuple[str, ...]
    seconds_left: float | None
    stale_use: bool


def find_token(cur: Cursor, token_hash: str) -> FoundToken | None:
    """The live token (not revoked, not expired) with this hash. A read: it runs on a standby too."""
    cur.execute(
        """SELECT id, role, name, grids, extract(epoch FROM expires_at - now())::float8 AS seconds_left,
                  last_used_at IS NULL OR last_used_at < now() - make_interval(secs => %s) AS stale_use
           FROM api_tokens
           WHERE token_hash = %s AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())""",
        (LAST_USED_RESOLUTION_S, token_hash),
    )
    row = cur.fetchone()
    if row is None:
        return None
    return FoundToken(row[0], row[1], row[2], tuple(row[3] or ()), row[4], bool(row[5]))


def note_use(cur: Cursor, token_id: int) -> None:
    """Record that the token was used now."""
    cur.execute("UPDATE api_tokens SET last_used_at = now() WHERE id = %s", (token_id,))


def list_tokens(cur: Cursor) -> list[TokenRow]:
    """Every token, oldest first."""
    cur.execute(
        """SELECT id, role, name, created_at, expires_at, last_used_at, revoked_at,
                  coalesce(expires_at <= now(), false) AS expired, grids
           FROM api_tokens ORDER BY id"""
    )
    return [TokenRow._make([*row[:8], tuple(row[8] or ())]) for row in cur.fetchall()]


def revoke(cur: Cursor, token_id: int) -> tuple[TokenRow | None, bool]:
    """Revoke token ``token_id``: the row as it is now (None when there is none) and whether this call revoked
    it (False when it already was)."""
    cur.execute("UPDATE api_tokens SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL", (token_id,))
    revoked_now = cur.rowcount == 1
    cur.execute(
        """SELECT id, role, name, created_at, expires_at, last_used_at, revoked_at,
                  coalesce(expires_at <= now(), false) AS expired, grids
           FROM api_tokens WHERE id = %s""",
        (token_id,),
    )
    row = cur.fetchone()
    return (None if row is None else TokenRow._make([*row[:8], tuple(row[8] or ())])), revoked_now
