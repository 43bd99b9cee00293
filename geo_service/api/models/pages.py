"""Answer of ``/app/config.json``: what the pages need to know about levels and the incident loop."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Move(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    label: str
    roles: list[str]
    note_required: bool


class PagesConfig(BaseModel):
    levels: list[str] = Field(description="coarse to fine")
    incident_states: list[str]
    incident_transitions: list[Move]
