"""Answers of health, readiness and token routes, and the names of vocabularies other answers share."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    schema_version: int | str = Field(description="the last migration applied")


class Whoami(BaseModel):
    token_id: int | None
    role: str
    name: str | None


class NewToken(BaseModel):
    token: str = Field(description="the secret, shown this once")
    role: Literal["admin", "planner", "dispatcher"]
    expires_days: int | None


class Token(BaseModel):
    """A token as the admin sees it: never the secret."""

    id: int
    role: str
    name: str | None
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None
    active: bool


class Tokens(BaseModel):
    tokens: list[Token]


class Term(BaseModel):
    """An id with its names for people."""

    model_config = ConfigDict(extra="allow")

    id: str
    name_zh: str
    name_en: str
