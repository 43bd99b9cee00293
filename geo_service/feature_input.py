"""Checks shared by the services that take one GeoJSON Point Feature (stations, facilities)."""

from __future__ import annotations

from typing import Any

from geo_service.coords import lonlat_problem, normalise_crs, to_wgs84
from geo_service.errors import InvalidInput, PreconditionFailed


def feature_properties(feature: Any, what: str) -> dict[str, Any]:
    """The ``properties`` of a GeoJSON Feature; :class:`InvalidInput` for anything else."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise InvalidInput(f"send a GeoJSON Feature with a Point geometry and the {what}'s properties")
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        raise InvalidInput("properties must be an object")
    return props


def point(geometry: Any, crs: str | None) -> tuple[float, float]:
    """A GeoJSON Point in ``crs`` → WGS-84 ``(lon, lat)``; :class:`InvalidInput` naming the problem."""
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        raise InvalidInput("geometry must be a GeoJSON Point: {'type': 'Point', 'coordinates': [lon, lat]}")
    coords = geometry.get("coordinates")
    if not isinstance(coords, list) or len(coords) not in (2, 3):
        raise InvalidInput("Point coordinates must be [lon, lat]")
    problem = lonlat_problem(coords[0], coords[1])
    if problem is not None:
        raise InvalidInput(problem)
    return to_wgs84(float(coords[0]), float(coords[1]), normalise_crs(crs))


def text(props: dict[str, Any], key: str, limit: int) -> str | None:
    """A short text property, stripped (None when absent or empty)."""
    value = props.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise InvalidInput(f"{key} must be text")
    out = str(value).strip()
    if len(out) > limit:
        raise InvalidInput(f"{key} is longer than {limit} characters")
    return out or None


def version_asked(feature: Any, if_match: int | None) -> int | None:
    """The version a write names: ``If-Match``, else ``properties.version``."""
    if if_match is not None:
        return if_match
    props = feature.get("properties") if isinstance(feature, dict) else None
    version = props.get("version") if isinstance(props, dict) else None
    return int(version) if isinstance(version, int) and not isinstance(version, bool) else None


def check_version(row: dict[str, Any], if_match: int | None, what: str) -> None:
    """412 when the write names a version other than the row's (someone else saved in between)."""
    if if_match is not None and if_match != row["version"]:
        raise PreconditionFailed(
            f"{what} {row['id']} is at version {row['version']}, not {if_match}: someone else saved it; "
            "reload it and apply your change again"
        )
