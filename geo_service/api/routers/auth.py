"""Tokens over HTTP: who am I, and (admin) create a token."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from geo_service.api.deps import current_principal, get_db, require_role
from geo_service.auth import Principal, create_token
from geo_service.db.pool import Database

router = APIRouter(prefix="/api", tags=["auth"])


class TokenRequest(BaseModel):
    role: Literal["admin", "planner", "dispatcher"]
    name: str | None = Field(default=None, max_length=200)


@router.get("/auth/whoami")
def whoami(principal: Principal = Depends(current_principal)) -> dict[str, object]:
    return {"token_id": principal.token_id, "role": principal.role, "name": principal.name}


@router.post("/tokens", status_code=201)
def post_token(
    body: TokenRequest,
    db: Database = Depends(get_db),
    admin: Principal = Depends(require_role()),
) -> dict[str, str]:
    """Create a token (admin only); the token is shown once."""
    return {"token": create_token(db, body.role, body.name, actor=admin.actor), "role": body.role}
