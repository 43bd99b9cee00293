"""Opening hours in OpenStreetMap syntax, parsed and evaluated by ``opening-hours-py`` (the Python binding of
the maintained Rust ``opening-hours`` crate), in the deployment's time zone and with its country's public
holidays (``PH``)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import opening_hours

from geo_service.errors import InvalidInput

MAX_LENGTH = 1000


def check(expression: str | None) -> str | None:
    """The expression, stripped (None when empty); :class:`InvalidInput` with the parser's message when it
    is not valid opening_hours syntax."""
    if expression is None:
        return None
    if not isinstance(expression, str):
        raise InvalidInput("station.hours_not_text")
    text = expression.strip()
    if not text:
        return None
    if len(text) > MAX_LENGTH:
        raise InvalidInput("station.hours_too_long", max_length=MAX_LENGTH)
    try:
        opening_hours.OpeningHours(text)
    except (opening_hours.ParserError, SyntaxError, ValueError) as exc:  # type: ignore[attr-defined]
        raise InvalidInput("station.hours_invalid", hours=text, reason=str(exc)) from None
    return text


@lru_cache(maxsize=4096)
def _parsed(expression: str, timezone: str, country: str | None) -> opening_hours.OpeningHours:
    return opening_hours.OpeningHours(expression, timezone=ZoneInfo(timezone), country=country)


def is_open(expression: str | None, at: datetime, timezone: str, country: str | None) -> bool | None:
    """Whether a place with these hours is open at ``at`` (aware datetime): True, False, or None when the
    hours are unknown (no expression, or the rule says ``unknown``)."""
    if not expression:
        return None
    local = at.astimezone(ZoneInfo(timezone))
    try:
        state, _comment = _parsed(expression, timezone, country).state(local)
    except (opening_hours.ParserError, SyntaxError, ValueError):  # type: ignore[attr-defined]
        return None
    if state == opening_hours.State.OPEN:
        return True
    if state == opening_hours.State.CLOSED:
        return False
    return None
