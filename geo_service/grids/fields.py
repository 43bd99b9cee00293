"""Typed columns for area files: how properties become GeoPackage and Shapefile fields, and come back unchanged.

The rules (also in the README, "Field types in files"), per property over all the exported features:

- ``households``, ``population``, ``version`` and any property whose values are all integers (|n| ≤ 2⁵³):
  an integer column (Integer64).
- all booleans: a boolean column; GeoPackage: integer with the Boolean subtype; Shapefile: a DBF logical field
  (``T`` / ``F``, ``?`` for null).
- all numbers, some with a fraction: a real column.
- all ``YYYY-MM-DD``: a Date column.
- ``valid_from``, ``valid_to`` and properties whose values are all ISO 8601 date-times to the millisecond
  (``2024-05-01T08:30:00+08:00``): DateTime in a GeoPackage (offset kept); a Shapefile has no date-time type,
  so it carries the same text.
- ``workers``, lists, objects and properties that mix types: JSON text; in a GeoPackage with the JSON subtype
  (``gpkg_data_columns.mime_type = application/json``, which GDAL and QGIS read as JSON).
- anything else: text.

A Shapefile's names stop at 10 bytes: ``parent_code`` → ``parent_cod`` and ``closed_change`` → ``closed_cha``;
other long names are cut at a character boundary the way GDAL cuts them (a clash ends in ``_1`` … ``_9``, then
two digits, after 8 bytes). The zip carries ``areas.fields.json`` (:func:`sidecar`): each column's property name
and type, and the exact values a DBF cannot hold (text over 254 bytes, empty text, reals beyond 15 decimals).

Reading turns typed columns back into the JSON values they came from (:func:`decode`). A file that another tool
re-saved may have lost the names and types (GDAL writes a GeoPackage Boolean into a Shapefile as an integer and
a DateTime as a Date, cuts names and text): :func:`same_in_file` says whether a file value is what such a file
makes of a stored value, and :func:`reconcile` puts the stored values back in place of those.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

SIDECAR_SUFFIX = ".fields.json"
SIDECAR_FORMAT = "geo-service-fields/1"
DBF_TEXT_BYTES = 254  # a DBF character field holds at most 254 bytes
DBF_NAME_BYTES = 10
DBF_DECIMALS = 15  # GDAL writes reals as N(24,15)
SHAPEFILE_NAMES = {"parent_code": "parent_cod", "closed_change": "closed_cha"}
CORE_KINDS = {
    "code": "string",
    "name": "string",
    "level": "string",
    "parent_code": "string",
    "households": "integer",
    "population": "integer",
    "workers": "json",
    "version": "integer",
    "valid_from": "datetime",
    "valid_to": "datetime",
    "changed_by": "string",
    "change": "string",
    "source": "string",
    "closed_by": "string",
    "closed_change": "string",
}
KINDS = ("string", "integer", "real", "boolean", "date", "datetime", "json")
_EXACT_INT = 2**53  # integers beyond this do not survive a reader that hands nullable integers over as floats
_TRUE = {"t", "y", "yes", "true", "1"}
_FALSE = {"f", "n", "no", "false", "0"}
_DATE = re.compile(r"(\d{4})[-/](\d{2})[-/](\d{2})")
_DATETIME = re.compile(
    r"(\d{4})[-/](\d{2})[-/](\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?\s*(Z|[+-]\d{2}(?::?\d{2})?)?"
)


@dataclass(frozen=True)
class Column:
    """One column of an exported layer: the property it holds, its name in the file and its type (:data:`KINDS`)."""

    prop: str
    name: str
    kind: str


# -- values -------------------------------------------------------------------------------------------------


def json_text(value: Any) -> str:
    """The JSON text a file carries for a list, object or mixed value (UTF-8, not ASCII-escaped)."""
    return json.dumps(value, ensure_ascii=False)


def parse_datetime(text: str) -> dt.datetime | None:
    """An ISO 8601 date-time, or GDAL's text form of one (``2024/05/01 08:30:00.123+08``); None otherwise."""
    match = _DATETIME.fullmatch(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    tz = None
    if offset == "Z":
        tz = dt.UTC
    elif offset is not None:
        digits = offset[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + (int(digits[2:]) if len(digits) > 2 else 0)
        tz = dt.timezone(dt.timedelta(minutes=minutes if offset[0] == "+" else -minutes))
    try:
        return dt.datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((fraction or "0").ljust(6, "0")),
            tzinfo=tz,
        )
    except ValueError:
        return None


def parse_date(text: str) -> dt.date | None:
    """``YYYY-MM-DD`` (or GDAL's ``YYYY/MM/DD``) as a date; None otherwise."""
    match = _DATE.fullmatch(text.strip())
    if match is None:
        return None
    try:
        return dt.date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def datetime_text(value: dt.datetime) -> str:
    """The text an imported date-time becomes: ISO 8601, seconds or milliseconds, the offset as ``+08:00``."""
    return value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")


def _is_date(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 10 and value[4] == "-" and parse_date(value) is not None


def _is_datetime(value: Any) -> bool:
    """An ISO 8601 date-time a GeoPackage DateTime holds exactly (milliseconds at most)."""
    if not isinstance(value, str) or "T" not in value or "/" in value:
        return False
    parsed = parse_datetime(value)
    return parsed is not None and parsed.microsecond % 1000 == 0


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= _EXACT_INT


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def kind_of(values: Sequence[Any]) -> str:
    """The column type for a property's non-null values (the rules in the module docstring)."""
    if not values:
        return "string"
    if all(isinstance(v, bool) for v in values):
        return "boolean"
    if all(_is_int(v) for v in values):
        return "integer"
    if all(_is_number(v) for v in values):
        return "real"
    if all(isinstance(v, str) for v in values):
        if all(_is_date(v) for v in values):
            return "date"
        if all(_is_datetime(v) for v in values):
            return "datetime"
        return "string"
    return "json"


def _fits(kind: str, values: Sequence[Any]) -> bool:
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": _is_int,
        "json": lambda v: True,
        "datetime": lambda v: isinstance(v, str) and parse_datetime(v) is not None,
    }
    return all(checks[kind](v) for v in values)


# -- names --------------------------------------------------------------------------------------------------


def _cut(name: str, limit: int) -> str:
    """The longest start of ``name`` whose UTF-8 form has at most ``limit`` bytes (never half a character)."""
    out = name.encode("utf-8")[:limit].decode("utf-8", "ignore")
    return out


def _short_names(name: str) -> list[str]:
    """The names GDAL may give ``name`` in a DBF, in the order it tries them (cut at characters, not bytes)."""
    first = SHAPEFILE_NAMES.get(name) or _cut(name, DBF_NAME_BYTES)
    stem = _cut(name, DBF_NAME_BYTES - 2)
    return [first, *(f"{stem}_{n}" for n in range(1, 10)), *(f"{stem}{n:02d}" for n in range(10, 100))]


def shapefile_names(props: Iterable[str]) -> dict[str, str]:
    """property → DBF field name (≤ 10 bytes, unique ignoring case), the way GDAL names fields in this order."""
    used: set[str] = set()
    names = {}
    for prop in props:
        for candidate in _short_names(prop):
            if candidate.casefold() not in used:
                break
        used.add(candidate.casefold())
        names[prop] = candidate
    return names


def columns_for(properties: Sequence[dict[str, Any]], shapefile: bool) -> list[Column]:
    """The columns of a layer holding ``properties`` (one dict per feature): core properties first, then the
    others in order of first appearance."""
    keys = list(dict.fromkeys(k for props in properties for k in props))
    ordered = [k for k in CORE_KINDS if k in keys] + [k for k in keys if k not in CORE_KINDS]
    names = shapefile_names(ordered) if shapefile else {k: k for k in ordered}
    columns = []
    for key in ordered:
        values = [p[key] for p in properties if p.get(key) is not None]
        core = CORE_KINDS.get(key)
        kind = core if core is not None and _fits(core, values) else kind_of(values)
        columns.append(Column(key, names[key], kind))
    return columns


# -- writing ------------------------------------------------------------------------------------------------


def _offset_code(value: dt.datetime) -> int:
    """GDAL's time-zone flag: 0 unknown, 100 UTC, ±1 per 15 minutes east or west of it."""
    offset = value.utcoffset()
    return 0 if offset is None else 100 + int(offset.total_seconds() // 900)


def encode(column: Column, values: Sequence[Any], shapefile: bool) -> tuple[np.ndarray, np.ndarray, Any]:
    """(data, null mask, GDAL time-zone flags or None) of one column for :func:`pyogrio.raw.write`."""
    null = np.array([v is None for v in values], dtype=bool)
    kind = column.kind
    if kind == "boolean":
        return np.array([bool(v) for v in values], dtype=bool), null, None
    if kind == "integer":
        return np.array([0 if v is None else int(v) for v in values], dtype=np.int64), null, None
    if kind == "real":
        return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64), null, None
    if kind == "date":
        return np.array([v or "NaT" for v in values], dtype="datetime64[D]"), null, None
    if kind == "datetime" and not shapefile:
        parsed = [None if v is None else parse_datetime(v) for v in values]
        naive = [("NaT" if p is None else p.replace(tzinfo=None).isoformat()) for p in parsed]
        flags = np.array([0 if p is None else _offset_code(p) for p in parsed], dtype=np.int64)
        return np.array(naive, dtype="datetime64[ms]"), null, flags
    if kind == "json":
        texts = [None if v is None else json_text(v) for v in values]
    else:
        texts = [None if v is None else str(v) for v in values]
    if shapefile:  # cut between characters here rather than inside one by the driver (the sidecar has it all)
        texts = [None if t is None else _cut(t, DBF_TEXT_BYTES) for t in texts]
    return np.array(texts, dtype=object), null, None


def _dbf_exact(value: Any, kind: str) -> bool:
    """Whether a DBF field gives ``value`` back as it is."""
    if kind in ("string", "json", "datetime"):
        text = value if isinstance(value, str) and kind != "json" else json_text(value)
        return text != "" and len(text.encode("utf-8")) <= DBF_TEXT_BYTES
    if kind == "real":
        return float(f"{value:.{DBF_DECIMALS}f}") == value
    return True


def sidecar(columns: Sequence[Column], properties: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The ``areas.fields.json`` of a Shapefile export: the columns, and per area code the exact values the DBF
    cannot hold."""
    values: dict[str, dict[str, Any]] = {}
    for props in properties:
        for c in columns:
            value = props.get(c.prop)
            if value is not None and not _dbf_exact(value, c.kind):
                values.setdefault(str(props.get("code")), {})[c.prop] = value
    return {
        "format": SIDECAR_FORMAT,
        "fields": [{"column": c.name, "property": c.prop, "type": c.kind} for c in columns],
        "values": values,
    }


# -- reading ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sidecar:
    """What ``areas.fields.json`` says: column → (property, type), and area code → property → exact value."""

    fields: dict[str, tuple[str, str]]
    values: dict[str, dict[str, Any]]


def read_sidecar(obj: Any) -> Sidecar | None:
    """The sidecar in ``obj`` (parsed JSON), or None when it is not one this service wrote."""
    if (
        not isinstance(obj, dict)
        or obj.get("format") != SIDECAR_FORMAT
        or not isinstance(obj.get("fields"), list)
    ):
        return None
    fields = {}
    for f in obj["fields"]:
        if not (
            isinstance(f, dict)
            and isinstance(f.get("column"), str)
            and isinstance(f.get("property"), str)
            and f.get("type") in KINDS
        ):
            return None
        fields[f["column"]] = (f["property"], f["type"])
    values = obj.get("values")
    if not isinstance(values, dict):
        values = {}
    return Sidecar(fields, {str(k): v for k, v in values.items() if isinstance(v, dict)})


def _scalar(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _boolean(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return value == 1
    if isinstance(value, str):
        word = value.strip().casefold()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        if word in ("", "?"):
            return None
    return value


def decode(value: Any, ogr_type: str, ogr_subtype: str, kind: str | None) -> Any:
    """One cell as read by :func:`pyogrio.raw.read` (``datetime_as_string=True``) → the JSON value it stands
    for. ``kind`` is the type the sidecar gives the column, if any."""
    value = _scalar(value)
    if value is None:
        return None
    if ogr_subtype == "OFSTBoolean" or kind == "boolean":
        return _boolean(value)
    if ogr_type in ("OFTInteger", "OFTInteger64") or (kind == "integer" and _is_number(value)):
        return int(value) if _is_number(value) and float(value).is_integer() else value
    if ogr_type == "OFTReal":
        return float(value)
    if ogr_type == "OFTDateTime" and isinstance(value, str):
        parsed = parse_datetime(value)
        return datetime_text(parsed) if parsed is not None else value
    if ogr_type == "OFTDate" and isinstance(value, str):
        parsed_date = parse_date(value)
        return parsed_date.isoformat() if parsed_date is not None else value
    if isinstance(value, str) and (ogr_subtype == "OFSTJSON" or kind == "json"):
        try:
            return json.loads(value)
        except ValueError:
            return value  # cut or edited into something else: the import says what is wrong with it
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, np.ndarray):
        return [_scalar(v) for v in value.tolist()]
    return value


# -- what a file makes of a value ---------------------------------------------------------------------------


def _cut_text(file_value: str, text: str) -> bool:
    """``file_value`` is ``text`` cut at a DBF field's 254 bytes."""
    size = len(file_value.encode("utf-8"))
    return len(text.encode("utf-8")) > DBF_TEXT_BYTES >= size >= DBF_TEXT_BYTES - 3 and text.startswith(
        file_value
    )


def same_in_file(file_value: Any, value: Any) -> bool:
    """Whether ``file_value`` is what a GeoPackage or Shapefile (ours, or re-saved by GDAL/QGIS) makes of the
    JSON value ``value``: the same boolean as 1/0 or T/F, the same integer as a real, a real to 15 decimals,
    a date-time as the same instant or (Shapefile) its date, text or JSON cut at 254 bytes, JSON as text, and
    empty text as null."""
    if value is None:
        return file_value is None or file_value == ""
    if file_value is None:
        return value == ""
    if isinstance(value, bool):
        return _boolean(file_value) is value
    if isinstance(value, int | float):
        if isinstance(file_value, str):
            try:
                file_value = float(file_value)
            except ValueError:
                return False
        if not _is_number(file_value):
            return False
        return math.isclose(file_value, value, rel_tol=1e-12, abs_tol=10.0**-DBF_DECIMALS)
    if isinstance(value, str):
        if not isinstance(file_value, str):
            return False
        if file_value == value or _cut_text(file_value, value) or file_value == json_text(value):
            return True  # as is, cut at 254 bytes, or as JSON text (a column of mixed types)
        when, file_when = parse_datetime(value), parse_datetime(file_value)
        if when is not None and file_when is not None:
            same_zone = (when.tzinfo is None) == (file_when.tzinfo is None)
            return same_zone and when == file_when and when.utcoffset() == file_when.utcoffset()
        day, file_day = parse_date(value), parse_date(file_value)
        if day is not None:
            return file_day == day
        return when is not None and file_day == when.date()  # a Shapefile keeps only the date of a date-time
    if isinstance(value, list | dict):
        if isinstance(file_value, str):
            text = json_text(value)
            if file_value == text or _cut_text(file_value, text):
                return True
            try:
                file_value = json.loads(file_value)
            except ValueError:
                return False
        return file_value == value
    return file_value == value


def reconcile(props: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """``props`` (a file's properties of an area) with names cut by a Shapefile and values that are
    :func:`same_in_file` as the ``stored`` ones replaced by the stored names and values."""
    out = dict(props)
    # a name cut to 10 bytes: the one stored name (absent from the file) that GDAL would have cut to it
    absent = [k for k in stored if k not in out]
    taken = shapefile_names(stored)
    for key in [k for k in out if k not in stored]:
        matches = [k for k in absent if taken[k] == key] or [k for k in absent if key in _short_names(k)]
        if len(matches) == 1:
            out[matches[0]] = out.pop(key)
            absent.remove(matches[0])
    for key, value in stored.items():
        if key not in out:
            continue
        if out[key] is not value and not _identical(out[key], value) and same_in_file(out[key], value):
            out[key] = value
    return out


def _identical(a: Any, b: Any) -> bool:
    """Equal as JSON, types included (``1 == True`` and ``1 == 1.0`` are not identical)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_identical(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_identical(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
