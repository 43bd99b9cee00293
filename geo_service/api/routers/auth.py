"""Tokens over HTTP: who am I, and (admin) create, list and revoke tokens."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from geo_service import auth
from geo_service.api.deps import current_principal, get_db, require_role
from geo_service.auth import MAX_EXPIRES_DAYS, Principal, create_token, list_tokens, revoke_token
from geo_service.db.pool import Database

router = APIRouter(prefix="/api", tags=["auth"])
Admin = require_role()


class TokenRequest(BaseModel):
    role: Literal["admin", "planner", "dispatcher", "worker"]
    name: str | None = Field(default=None, max_length=200)
    grids: list[str] = Field(
        default_factory=list, max_length=50, description="a worker's grid codes (required for role worker)"
    )
    expires_days: int | None = Field(
        default=None, ge=1, le=MAX_EXPIRES_DAYS, description="valid this many days (default: until revoked)"
    )


# The answers' typed dicts are the routes' response models: their datetimes are written as pydantic writes them
# (ISO 8601, UTC as ``Z``), as before they were typed.


@router.get("/auth/whoami")
def whoami(principal: Principal = Depends(current_principal)) -> auth.Whoami:
    return auth.whoami(principal)


@router.post("/tokens", status_code=201)
def post_token(
    body: TokenRequest,
    db: Database = Depends(get_db),
    admin: Principal = Depends(Admin),
) -> auth.NewToken:
    """Create a token (admin only); the token is shown once."""
    token = create_token(
        db, body.role, body.name, actor=admin.actor, expires_days=body.expires_days, grids=body.grids
    )
    return {"token": token, "role": body.role, "expires_days": body.expires_days, "grids": body.grids}


@router.get("/tokens")
def get_tokens(db: Database = Depends(get_db), _admin: Principal = Depends(Admin)) -> auth.Tokens:
    """Every token (admin only): id, role, name, created, expires, last used, revoked — never the secret."""
    return {"tokens": [auth.token_answer(row) for row in list_tokens(db)]}


@router.delete("/tokens/{token_id}")
def delete_token(
    token_id: int, db: Database = Depends(get_db), admin: Principal = Depends(Admin)
) -> auth.Token:
    """Revoke a token (admin only): refused by this process from the next request on, by the others as soon as
    the database announces the change (milliseconds). Revoking twice is harmless; 404 for an unknown id."""
    row, _ = revoke_token(db, token_id, actor=admin.actor)
    return auth.token_answer(row)
