"""Tokens over HTTP: who am I, and (admin) create, list and revoke tokens."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from geo_service.api.deps import current_principal, get_db, require_role
from geo_service.api.models import common as mc
from geo_service.api.openapi import answers
from geo_service.auth import MAX_EXPIRES_DAYS, Principal, create_token, list_tokens, revoke_token
from geo_service.db.pool import Database
from geo_service.store.tokens import TokenRow

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


def _token(row: TokenRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "role": row.role,
        "name": row.name,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "last_used_at": row.last_used_at,
        "revoked_at": row.revoked_at,
        "active": row.revoked_at is None and not row.expired,
        "grids": list(row.grids),
    }


@router.get("/auth/whoami", responses=answers(mc.Whoami))
def whoami(principal: Principal = Depends(current_principal)) -> dict[str, object]:
    return {
        "token_id": principal.token_id,
        "role": principal.role,
        "name": principal.name,
        "grids": list(principal.grids),
    }


@router.post("/tokens", status_code=201, responses=answers(mc.NewToken, 201))
def post_token(
    body: TokenRequest,
    db: Database = Depends(get_db),
    admin: Principal = Depends(Admin),
) -> dict[str, Any]:
    """Create a token (admin only); the token is shown once."""
    token = create_token(
        db, body.role, body.name, actor=admin.actor, expires_days=body.expires_days, grids=body.grids
    )
    return {"token": token, "role": body.role, "expires_days": body.expires_days, "grids": body.grids}


@router.get("/tokens", responses=answers(mc.Tokens))
def get_tokens(db: Database = Depends(get_db), _admin: Principal = Depends(Admin)) -> dict[str, Any]:
    """Every token (admin only): id, role, name, created, expires, last used, revoked — never the secret."""
    return {"tokens": [_token(row) for row in list_tokens(db)]}


@router.delete("/tokens/{token_id}", responses=answers(mc.Token))
def delete_token(
    token_id: int, db: Database = Depends(get_db), admin: Principal = Depends(Admin)
) -> dict[str, Any]:
    """Revoke a token (admin only): refused from the next request on, by every process. Revoking twice is
    harmless; 404 for an unknown id."""
    row, _ = revoke_token(db, token_id, actor=admin.actor)
    return _token(row)
