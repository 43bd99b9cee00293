"""Answer of ``/app/config.json``: what the pages need to know about levels and the incident loop."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from typing_extensions import TypedDict  # pydantic documents PagesConfig on Python 3.11

# one move of the incident loop; "from" is a Python keyword, hence the functional form
Move = TypedDict("Move", {"from": str, "to": str, "label": str, "roles": list[str], "note_required": bool})


class PagesConfig(TypedDict):
    levels: Annotated[list[str], Field(description="coarse to fine")]
    incident_states: list[str]
    incident_transitions: Annotated[list[Move], Field(description="the moves a person makes, with who may")]
    callback_states: Annotated[list[str], Field(description="the states a callback (回访) is recorded in")]
    satisfaction: Annotated[list[str], Field(description="a reached caller's answers")]
