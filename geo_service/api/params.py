"""Query-string parsing shared by the routers: bounding boxes, comma lists, numbers, ``lon,lat`` pairs, and
the bounded types of request fields (row offsets, ids, instants). Bad text is a 422 that says what was
expected; a number or date beyond what the database stores is a 422 naming the bound, never a 500."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import Path
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError
from starlette.convertors import Convertor, register_url_convertor

from geo_service.errors import InvalidInput

# PostgreSQL integer (int4) and bigint (int8) bounds: ids, counts and offsets beyond them are refused.
INT4_MAX = 2_147_483_647
INT8_MAX = 9_223_372_036_854_775_807
# Instants are checked to lie in these years: far enough for any record, near enough that converting
# between time zones never leaves the calendar (year 1 with +14:00 is before the first instant Python has).
EARLIEST_YEAR = 1900
LATEST_YEAR = 2999


def _instant(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC) if value.tzinfo is not None else value
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not (EARLIEST_YEAR <= utc.year <= LATEST_YEAR):
        raise PydanticCustomError(
            "datetime_range",
            "Input should be an instant between the years {earliest} and {latest}",
            {"earliest": EARLIEST_YEAR, "latest": LATEST_YEAR},
        )
    return value


Instant = Annotated[datetime, AfterValidator(_instant)]
"""A date-time within :data:`EARLIEST_YEAR` .. :data:`LATEST_YEAR` (422 ``validation.datetime_range`` else)."""
RowOffset = Annotated[int, Field(ge=0, le=INT4_MAX, description="rows to skip")]
PathId = Annotated[int, Path(ge=1, le=INT8_MAX, description="the row's id")]
"""A bigserial id in a path: beyond the column's range is a 422 naming the bound, not a lookup."""
Count = Annotated[int, Field(ge=0, le=INT4_MAX)]


def check_instant(value: datetime | None, name: str) -> datetime | None:
    """``value`` when it lies within the supported years; :class:`InvalidInput` naming ``name`` otherwise."""
    if value is None:
        return None
    try:
        _instant(value)
    except PydanticCustomError:
        raise InvalidInput(
            "input.datetime_range", field=name, earliest=EARLIEST_YEAR, latest=LATEST_YEAR
        ) from None
    return value


def bbox(value: str | None) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` (WGS-84 degrees) or None when absent."""
    if value is None or value == "":
        return None
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise InvalidInput("input.bbox_format") from None
    if (
        len(parts) != 4
        or not all(math.isfinite(v) for v in parts)
        or not all(abs(v) <= 180 for v in parts)
        or abs(parts[1]) > 90
        or abs(parts[3]) > 90
        or parts[0] > parts[2]
        or parts[1] > parts[3]
    ):
        raise InvalidInput("input.bbox_range")
    return parts[0], parts[1], parts[2], parts[3]


def words(text: str | None) -> list[str] | None:
    """A comma-separated list of words, or None when empty."""
    parts = [p.strip() for p in (text or "").split(",") if p.strip()]
    return parts or None


def numbers(text: str | None, name: str) -> list[float] | None:
    """A comma-separated list of numbers, or None when empty."""
    if text is None or not text.strip():
        return None
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InvalidInput("input.numbers", name=name, text=text[:200]) from None


def lonlat(text: str, name: str) -> list[float]:
    """``lon,lat`` → [lon, lat]."""
    values = numbers(text, name)
    if values is None or len(values) != 2:
        raise InvalidInput("input.lonlat_pair", name=name, text=text[:200])
    return values


def content_disposition(kind: str, filename: str) -> str:
    """A ``Content-Disposition`` value for any file name: an ASCII ``filename`` (others replaced by ``_``)
    and the exact UTF-8 ``filename*`` (RFC 6266), since an HTTP header cannot carry, say, an area code in
    Chinese as it is."""
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


class _SegmentExcept(Convertor[str]):
    """A path segment that is not one of some words (the literal sibling routes)."""

    def __init__(self, words: frozenset[str]) -> None:
        # one convertor per set of words, so an instance attribute (starlette declares a ClassVar)
        self.regex = "(?!(?:" + "|".join(sorted(words)) + ")(?:/|$))[^/]+"  # type: ignore[misc]

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


def register_segment_except(name: str, words: frozenset[str]) -> None:
    """``{param:name}`` in a route path: any segment except ``words``. A parameter route beside literal ones
    (``/grids/{code}`` beside ``/grids/validate``) would otherwise take their paths for the methods they do
    not serve: ``PUT /api/grids/validate`` would update an area called "validate" (or answer 422) instead
    of answering 405 with the validate route's ``Allow``."""
    register_url_convertor(name, _SegmentExcept(words))
