"""API tokens and roles.

A token is 32 random bytes, URL-safe, prefixed ``gs_``. Only its SHA-256 is stored: tokens carry enough
entropy that a slow hash would add nothing but latency to every request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from geo_service.db.pool import Database
from geo_service.store import audit, tokens

ROLES = ("admin", "planner", "dispatcher")
TOKEN_PREFIX = "gs_"


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


def create_token(db: Database, role: str, name: str | None = None, actor: str = "cli") -> str:
    """Create a token for ``role`` and return it; it cannot be shown again. ``actor`` goes to the audit log."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.cursor(dict_rows=False) as cur:
        token_id = tokens.insert_token(cur, hash_token(token), role, name)
        audit.record(cur, actor=actor, role="admin", action="create", entity="api_token", entity_id=token_id,
                     detail={"role": role, "name": name})  # fmt: skip
    return token


def authenticate(db: Database, token: str) -> Principal | None:
    """The principal for a presented token, or None when it is unknown or revoked."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    with db.cursor(dict_rows=False) as cur:
        found = tokens.find_token(cur, hash_token(token))
    if found is None:
        return None
    return Principal(token_id=found[0], role=found[1], name=found[2])
