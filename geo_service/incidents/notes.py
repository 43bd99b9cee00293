"""Notes the system writes about an incident (intake, escalation), stored as a catalogue code with its values and
rendered when read, in the reader's language.

Stored form: ``{"code": "incident.note.escalated_overdue", "params": {...}}`` (JSON in the history ``detail``).
Parameters that are messages themselves (a level's name) are stored as such a dict too. Rows written before the
catalogues carry plain text: :func:`readable` gives it back unchanged.
"""

from __future__ import annotations

from typing import Any

from geo_service.i18n import Message, known


def stored(note: Message) -> dict[str, Any]:
    """A message as JSON for the database."""
    return {
        "code": note.code,
        "params": {k: stored(v) if isinstance(v, Message) else v for k, v in note.params.items()},
    }


def readable(value: Any) -> Any:
    """A stored note back as a :class:`Message` (rendered by the HTTP layer); free text stays text."""
    if isinstance(value, dict) and isinstance(value.get("code"), str) and known(value["code"]):
        params = {k: readable(v) for k, v in (value.get("params") or {}).items()}
        return Message(value["code"], params)
    if isinstance(value, list):
        return [readable(v) for v in value]
    return value
