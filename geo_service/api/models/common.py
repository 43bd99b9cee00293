"""Answers of health and readiness routes, and the names of vocabularies other answers share (the token
routes answer :mod:`geo_service.auth`'s typed dicts)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    schema_version: int | str = Field(description="the last migration applied")


class Term(BaseModel):
    """An id with its names for people."""

    model_config = ConfigDict(extra="allow")

    id: str
    name_zh: str
    name_en: str
