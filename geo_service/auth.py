"""API tokens and roles.

A token is 32 random bytes, URL-safe, prefixed ``gs_``. Only its SHA-256 is stored: tokens carry enough
entropy that a slow hash would add nothing but latency to every request. A token may carry an expiry (days from
its creation); an expired or revoked token is refused like an unknown one (401 ``auth.invalid_token``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from geo_service.db.pool import Database
from geo_service.errors import InvalidInput, NotFound
from geo_service.store import audit, tokens
from geo_service.store.tokens import TokenRow

ROLES = ("admin", "planner", "dispatcher")
TOKEN_PREFIX = "gs_"
MAX_EXPIRES_DAYS = 3650


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token id, its role and its label."""

    token_id: int
    role: str
    name: str | None

    @property
    def actor(self) -> str:
        return self.name or f"token:{self.token_id}"

    def has_role(self, *roles: str) -> bool:
        return self.role == "admin" or self.role in roles


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_token_request(role: str, expires_days: int | None) -> None:
    """422 for a role that does not exist or an expiry outside 1…3650 days."""
    if role not in ROLES:
        raise InvalidInput("auth.unknown_role", role=role, roles=list(ROLES))
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRES_DAYS:
        raise InvalidInput("auth.bad_expiry", days=expires_days, max_days=MAX_EXPIRES_DAYS)


def create_token(
    db: Database, role: str, name: str | None = None, actor: str = "cli", expires_days: int | None = None
) -> str:
    """Create a token for ``role`` (valid ``expires_days`` days, or until revoked) and return it; it cannot be
    shown again. ``actor`` goes to the audit log."""
    check_token_request(role, expires_days)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.cursor(dict_rows=False) as cur:
        token_id = tokens.insert_token(cur, hash_token(token), role, name, expires_days)
        audit.record(cur, actor=actor, role="admin", action="create", entity="api_token", entity_id=token_id,
                     detail={"role": role, "name": name, "expires_days": expires_days})  # fmt: skip
    return token


def authenticate(db: Database, token: str) -> Principal | None:
    """The principal for a presented token, or None when it is unknown, revoked or expired."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    with db.cursor(dict_rows=False) as cur:
        found = tokens.find_token(cur, hash_token(token))
    if found is None:
        return None
    return Principal(token_id=found[0], role=found[1], name=found[2])


def list_tokens(db: Database) -> list[TokenRow]:
    """Every token with its role, name, creation, expiry, last use and revocation — never the secret."""
    with db.cursor(dict_rows=False) as cur:
        return tokens.list_tokens(cur)


def revoke_token(db: Database, token_id: int, actor: str = "cli") -> tuple[TokenRow, bool]:
    """Revoke token ``token_id`` at once (every process refuses it from its next request); the token and whether
    this call revoked it (False: it already was). 404 when there is no such token."""
    with db.cursor(dict_rows=False) as cur:
        row, revoked_now = tokens.revoke(cur, token_id)
        if row is None:
            raise NotFound("auth.unknown_token", token_id=token_id)
        if revoked_now:
            audit.record(cur, actor=actor, role="admin", action="revoke", entity="api_token", entity_id=token_id,
                         detail={"role": row.role, "name": row.name})  # fmt: skip
    return row, revoked_now
