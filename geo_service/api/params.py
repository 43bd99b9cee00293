"""Query-string parsing shared by the routers: bounding boxes, comma lists, numbers, ``lon,lat`` pairs.
Bad text is a 422 that says what was expected."""

from __future__ import annotations

import math

from geo_service.errors import InvalidInput


def bbox(value: str | None) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` (WGS-84 degrees) or None when absent."""
    if value is None or value == "":
        return None
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise InvalidInput("bbox must be minlon,minlat,maxlon,maxlat") from None
    if (
        len(parts) != 4
        or not all(math.isfinite(v) for v in parts)
        or not all(abs(v) <= 180 for v in parts)
        or abs(parts[1]) > 90
        or abs(parts[3]) > 90
        or parts[0] > parts[2]
        or parts[1] > parts[3]
    ):
        raise InvalidInput("bbox must be minlon,minlat,maxlon,maxlat with min ≤ max, in degrees")
    return parts  # type: ignore[return-value]


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
        raise InvalidInput(f"{name} must be comma-separated numbers, got {text!r}") from None


def lonlat(text: str, name: str) -> list[float]:
    """``lon,lat`` → [lon, lat]."""
    values = numbers(text, name)
    if values is None or len(values) != 2:
        raise InvalidInput(f"{name} must be 'lon,lat', got {text!r}")
    return values
