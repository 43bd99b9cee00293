"""Checks shared by the services that take GeoJSON: JSON bodies read safely (depth, size, NUL bytes), and one
Point Feature (stations, facilities) with its short text properties."""

from __future__ import annotations

import contextlib
import gc
import json
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from geo_service.coords import lonlat_message, normalise_crs, to_wgs84
from geo_service.errors import BadRequest, InvalidInput, PreconditionFailed

# How deep extra properties may nest (a planner's attributes are flat or one level deep): deeper values are
# refused before anything walks them recursively.
MAX_PROPERTY_DEPTH = 16

#: A value parsed from a client's JSON body that no check has read yet: any JSON value (a list of Features may
#: hold numbers). The checks that read it (``grids.model.draft_from_feature``, ...) refuse what is wrong with
#: their own codes; a signature with this type says that its input is unchecked.
UncheckedJson = Any


_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = True


@contextlib.contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a large body is parsed and checked.

    Parsing builds millions of lists and floats; each full collection then walks all of them while holding
    the GIL (hundreds of milliseconds in which no other request, /healthz included, is served) and the
    collections together double the work. JSON documents hold no reference cycles, so nothing is lost by
    collecting later. Nested and concurrent uses share one pause: the collector resumes (if it was on) when
    the last one ends.
    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


def parse_json(data: bytes | str) -> UncheckedJson:
    """A JSON document from a request body.

    Raises
    ------
    BadRequest
        Not JSON, or nested deeper than the parser recurses (a thousand levels).
    InvalidInput
        A string in it holds a NUL character (PostgreSQL text cannot store it).
    """
    raw = data.encode() if isinstance(data, str) else data
    try:
        document = json.loads(raw, parse_float=_float, parse_int=_int)
    except RecursionError:
        raise BadRequest("input.json_too_deep") from None
    except ValueError as exc:
        raise BadRequest("input.json_invalid", reason=str(exc)[:200]) from None
    if b"\\u0000" in raw and contains_nul(document):
        raise InvalidInput("input.nul_character")
    return document


# The parser calls these for every number. Being Python functions, each call lets the interpreter hand the
# GIL to another thread (the event loop), which a parse done wholly in C would hold from start to end: a
# large body parsed in a worker thread then no longer stalls the other requests.
def _float(text: str) -> float:
    return float(text)


def _int(text: str) -> int:
    return int(text)


def depth_exceeds(value: Any, limit: int) -> bool:
    """Whether lists and objects in ``value`` nest deeper than ``limit`` (iterative: no recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def contains_nul(value: Any) -> bool:
    """Whether a NUL character is in any string (key or value) of a parsed JSON value."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def feature_properties(feature: Any, what: str) -> dict[str, Any]:
    """The ``properties`` of a GeoJSON Feature; :class:`InvalidInput` for anything else."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise InvalidInput("input.point_feature_expected", what=what)
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        raise InvalidInput("input.properties_not_object")
    return props


def point(geometry: Any, crs: str | None) -> tuple[float, float]:
    """A GeoJSON Point in ``crs`` → WGS-84 ``(lon, lat)``; :class:`InvalidInput` naming the problem."""
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        raise InvalidInput("input.point_expected")
    coords = geometry.get("coordinates")
    if not isinstance(coords, list) or len(coords) not in (2, 3):
        raise InvalidInput("input.point_coordinates")
    problem = lonlat_message(coords[0], coords[1])
    if problem is not None:
        raise InvalidInput(problem.code, **problem.params)
    return to_wgs84(float(coords[0]), float(coords[1]), normalise_crs(crs))


def text(props: dict[str, Any], key: str, limit: int) -> str | None:
    """A short text property, stripped (None when absent or empty)."""
    value = props.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise InvalidInput("input.not_text", field=key)
    out = str(value).strip()
    if len(out) > limit:
        raise InvalidInput("input.text_too_long", field=key, limit=limit)
    if "\x00" in out:
        raise InvalidInput("input.nul_character")
    return out or None


def version_asked(feature: Any, if_match: int | None) -> int | None:
    """The version a write names: ``If-Match``, else ``properties.version``."""
    if if_match is not None:
        return if_match
    props = feature.get("properties") if isinstance(feature, dict) else None
    version = props.get("version") if isinstance(props, dict) else None
    return int(version) if isinstance(version, int) and not isinstance(version, bool) else None


def check_version(row: Mapping[str, Any], if_match: int | None, what: str) -> None:
    """412 when the write names a version other than the row's (someone else saved in between)."""
    if if_match is not None and if_match != row["version"]:
        raise PreconditionFailed(
            "input.stale_version", what=what, id=row["id"], current=row["version"], asked=if_match
        )
