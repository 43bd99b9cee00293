"""Bulk intake from CSV: a day's 12345 tickets, or a backlog, in one request.

Columns (header row, any order, case-insensitive; Chinese headers as exported by hotline systems accepted):

=================  =================  ======================================================================
column             also accepted      meaning
=================  =================  ======================================================================
``external_id``    工单号, 工单编号   the ticket number; a row whose ticket exists already counts as existing
``lon``, ``lat``   经度, 纬度         degrees in ``crs``
``crs``            坐标系             ``wgs84`` (default when empty), ``gcj02``, ``bd09``, ``cgcs2000``
``address``        地址               used to locate rows without lon/lat (geocoder, as for POST)
``category``       类别, 事件类型     a code or name from the classification (required)
``description``    描述, 问题描述     free text (≤ 4000 characters)
``reporter_name``  联系人             caller's name
``reporter_phone`` 联系电话           caller's phone
=================  =================  ======================================================================

Encoding: UTF-8 (with or without BOM) or GBK/GB18030, detected, or forced with ``encoding=``. Rows are
numbered as a spreadsheet shows them: the header is row 1, the first ticket row 2.

All rows are checked before anything is written. With ``atomic`` (the default) one bad row means nothing is
written and every error is listed; otherwise the good rows go in and the bad ones are listed. The write is one
transaction: COPY into a temporary table, then ``INSERT … ON CONFLICT (external_id) DO NOTHING``.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NotRequired

import numpy as np
import shapely
from pydantic import Field
from tqdm import tqdm
from typing_extensions import TypedDict  # pydantic documents the report on Python 3.11

from geo_service.coords import invalid_lonlat_mask, lonlat_message, normalise_crs, to_wgs84_arrays
from geo_service.errors import BadRequest, Conflict, InvalidInput, PayloadTooLarge, ServiceError
from geo_service.geocode.service import GeocodeCandidate, GeocodeMatch
from geo_service.i18n import Message, cli_text, message
from geo_service.incidents.assignment import Assignment, assign, assign_many
from geo_service.incidents.categories import Category
from geo_service.incidents.context import IncidentContext
from geo_service.incidents.intake import (
    MAX_DESCRIPTION_CHARS,
    IncidentInput,
    clean_reporter,
    geocode_address,
    input_crs,
)
from geo_service.locate.service import current_index
from geo_service.store import audit
from geo_service.store import incidents as store
from geo_service.store.bulk import ewkb_hex

COLUMN_ALIASES = {
    "external_id": ("external_id", "工单号", "工单编号", "ticket", "ticket_id"),
    "lon": ("lon", "lng", "longitude", "经度"),
    "lat": ("lat", "latitude", "纬度"),
    "crs": ("crs", "坐标系"),
    "address": ("address", "地址"),
    "category": ("category", "类别", "事件类型", "分类"),
    "description": ("description", "描述", "问题描述"),
    "reporter_name": ("reporter_name", "联系人"),
    "reporter_phone": ("reporter_phone", "联系电话"),
}
_HEADER = {alias.casefold(): column for column, aliases in COLUMN_ALIASES.items() for alias in aliases}
ENCODINGS = {
    "utf-8": "utf-8-sig",
    "utf8": "utf-8-sig",
    "utf-8-sig": "utf-8-sig",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "gb18030": "gb18030",
    "cp936": "gb18030",
}
MAX_EXTERNAL_ID_CHARS = 100
MAX_LISTED_ERRORS = 1000


@dataclass
class ParsedRow:
    row: int
    data: IncidentInput
    category: Category | None = None
    assignment: Assignment | None = None
    geocode: GeocodeMatch | None = None


class RowError(TypedDict):
    """Why one row was not imported (``message`` in the caller's language, ``detail`` the English text)."""

    row: Annotated[int, Field(description="as a spreadsheet numbers it (the header is row 1)")]
    code: str
    detail: Any  # the error's English text, or what it lists (a geocoder's problems)
    message: Message
    candidates: NotRequired[
        Annotated[list[GeocodeCandidate], Field(description="where the geocoder could put the address")]
    ]


class RowResult(TypedDict):
    row: int
    id: int | None  # typed as the store answers; a row that lost a race is looked up again (raced)
    result: Literal["created", "existing"]


class ImportReport(TypedDict):
    """What a CSV import did (the errors listed are at most the first ones; ``error_count`` counts all)."""

    created: int
    existing: int
    errors: list[RowError]
    error_count: int
    rows: list[RowResult]
    encoding: str
    atomic: bool


@dataclass
class Tally:
    """An import's outcome as it is counted (:meth:`as_dict`: the report the caller reads)."""

    created: int = 0
    existing: int = 0
    errors: list[RowError] = field(default_factory=list)
    rows: list[RowResult] = field(default_factory=list)
    encoding: str = "utf-8"
    atomic: bool = True

    def as_dict(self) -> ImportReport:
        return {
            "created": self.created,
            "existing": self.existing,
            "errors": self.errors[:MAX_LISTED_ERRORS],
            "error_count": len(self.errors),
            "rows": self.rows,
            "encoding": self.encoding,
            "atomic": self.atomic,
        }


def decode(content: bytes, encoding: str | None) -> tuple[str, str]:
    """The text of ``content`` and the encoding it was read with (``utf-8`` or ``gbk``).

    Raises
    ------
    BadRequest
        An unsupported ``encoding``, or bytes that are neither UTF-8 nor GBK/GB18030.
    """
    if encoding:
        codec = ENCODINGS.get(encoding.strip().lower())
        if codec is None:
            raise BadRequest("csv.bad_encoding_name", encoding=encoding)
        try:
            return content.decode(codec), "gbk" if codec == "gb18030" else "utf-8"
        except UnicodeDecodeError as exc:
            raise BadRequest("csv.undecodable", encoding=encoding, byte=exc.start) from exc
    if content.startswith(codecs.BOM_UTF8):
        return content.decode("utf-8-sig", errors="strict"), "utf-8"
    try:
        return content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("gb18030"), "gbk"
    except UnicodeDecodeError as exc:
        raise BadRequest("csv.unknown_encoding") from exc


def _float(value: str, column: str) -> float | None:
    text = value.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        raise InvalidInput("csv.not_a_number", column=column, value=text) from None
    if not math.isfinite(number):
        raise InvalidInput("csv.not_finite", column=column)
    return number


class _Lines:
    """The physical lines of a text from one index on; ``next`` is the index of the line read next."""

    def __init__(self, lines: list[str], start: int) -> None:
        self.lines = lines
        self.next = start

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.next >= len(self.lines):
            raise StopIteration
        self.next += 1
        return self.lines[self.next - 1]


def _records(text: str) -> Iterator[list[str] | InvalidInput]:
    """The records of a CSV text, or for a record that is not well-formed CSV, the error.

    Strict CSV: a quoted field must close, and a closing quote must end its field. A record that breaks
    this (typically a quote never closed, which would swallow every following row into one field) is an
    error of that row alone; reading resumes at the next physical line, so later rows keep their own
    numbers and contents. Quoted fields spanning lines (a description with a line break) stay one field.
    """
    lines = io.StringIO(text, newline="").readlines()
    source = _Lines(lines, 0)
    reader = csv.reader(source, strict=True)
    while True:
        start = source.next
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            unclosed = "unexpected end of data" in str(exc) or "expected after" in str(exc)
            yield (
                InvalidInput("input.csv_unclosed_quote")
                if unclosed
                else InvalidInput("input.csv_bad_row", reason=str(exc)[:200])
            )
            source = _Lines(lines, start + 1)
            reader = csv.reader(source, strict=True)
            continue
        yield record


def parse(text: str, max_rows: int) -> tuple[list[ParsedRow], list[RowError]]:
    """Rows and per-row errors of a CSV text (no database). Rows are numbered as a spreadsheet shows them
    (header 1); a row that is not well-formed CSV (an unclosed quote) is an error of its own."""
    records = _records(text)
    header = next(records, None)
    if header is None:
        raise BadRequest("csv.empty")
    if isinstance(header, InvalidInput):
        raise BadRequest("csv.bad_header_row", reason=header.message)
    columns = [_HEADER.get(h.strip().casefold()) for h in header]
    if "category" not in columns or not ({"lon", "lat"} <= set(columns) or "address" in columns):
        raise BadRequest("csv.missing_columns")
    rows: list[ParsedRow] = []
    errors: list[RowError] = []
    for number, record in enumerate(records, start=2):
        if number - 1 > max_rows:
            raise PayloadTooLarge("csv.too_many_rows", max_rows=f"{max_rows:,}")
        if isinstance(record, InvalidInput):
            errors.append(row_error(number, record))
            continue
        if not any(cell.strip() for cell in record):
            continue
        values = {c: v for c, v in zip(columns, record, strict=False) if c is not None}
        try:
            if any("\x00" in v for v in values.values()):  # PostgreSQL text cannot hold it
                raise InvalidInput("input.nul_character")
            rows.append(ParsedRow(number, _input(values)))
        except InvalidInput as exc:
            errors.append(row_error(number, exc))
    return rows, errors


def _input(values: dict[str, str]) -> IncidentInput:
    def text(column: str) -> str | None:
        value = (values.get(column) or "").strip()
        return value or None

    external_id = text("external_id")
    if external_id and len(external_id) > MAX_EXTERNAL_ID_CHARS:
        raise InvalidInput("csv.external_id_too_long", max_chars=MAX_EXTERNAL_ID_CHARS)
    if not text("category"):
        raise InvalidInput("csv.category_empty")
    description = text("description")
    if description and len(description) > MAX_DESCRIPTION_CHARS:
        raise InvalidInput("csv.description_too_long", max_chars=MAX_DESCRIPTION_CHARS)
    lon, lat = _float(values.get("lon") or "", "lon"), _float(values.get("lat") or "", "lat")
    if (lon is None) != (lat is None):
        raise InvalidInput("csv.half_a_coordinate")
    if lon is None and not text("address"):
        raise InvalidInput("csv.no_location")
    return IncidentInput(
        category=text("category") or "",
        description=description,
        lon=lon,
        lat=lat,
        crs=text("crs") or "wgs84",
        address=text("address"),
        external_id=external_id,
        reporter={"name": text("reporter_name"), "phone": text("reporter_phone")},
    )


def _category_of(ctx: IncidentContext, rows: list[ParsedRow], errors: list[RowError]) -> list[ParsedRow]:
    """Rows whose category resolves (each distinct text resolved once); the others go to ``errors``."""
    found: dict[str, Category | InvalidInput] = {}
    kept = []
    for parsed in rows:
        key = parsed.data.category
        if key not in found:
            try:
                found[key] = ctx.classification.resolve(key)
            except InvalidInput as exc:
                found[key] = exc
        category = found[key]
        if isinstance(category, InvalidInput):
            errors.append(row_error(parsed.row, category))
        else:
            parsed.category = category
            kept.append(parsed)
    return kept


def row_error(row: int, error: ServiceError | Message) -> RowError:
    """One row's error: its ``code``, ``message`` (rendered in the caller's language) and English ``detail``;
    an address the geocoder would not place also lists its ``candidates``."""
    if isinstance(error, Message):  # a reason found by a check (coordinates checked by geo_service.coords)
        return {"row": row, "code": error.code, "detail": error.render("en"), "message": error}
    out: RowError = {"row": row, "code": error.code, "detail": error.detail, "message": error.message}
    if "candidates" in error.extra:
        out["candidates"] = error.extra["candidates"][:3]
    return out


def _wgs84(rows: list[ParsedRow], errors: list[RowError]) -> tuple[list[ParsedRow], np.ndarray, np.ndarray]:
    """Rows with usable coordinates, converted to WGS-84 per CRS (vectorised); the others go to ``errors``."""
    lon = np.array([p.data.lon for p in rows], dtype=np.float64)
    lat = np.array([p.data.lat for p in rows], dtype=np.float64)
    crs_names: dict[str | None, str | InvalidInput] = {}
    usable = ~invalid_lonlat_mask(lon, lat)
    crs_of = np.full(len(rows), "", dtype=object)
    for k, parsed in enumerate(rows):
        if not usable[k]:
            problem = lonlat_message(parsed.data.lon, parsed.data.lat)
            errors.append(row_error(parsed.row, problem or message("input.coordinates_not_finite")))
            continue
        if parsed.data.crs not in crs_names:
            try:
                crs_names[parsed.data.crs] = normalise_crs(parsed.data.crs)
            except InvalidInput as exc:
                crs_names[parsed.data.crs] = exc
        crs = crs_names[parsed.data.crs]
        if isinstance(crs, InvalidInput):
            usable[k] = False
            errors.append(row_error(parsed.row, crs))
        else:
            crs_of[k] = crs
    for crs in {c for c in crs_names.values() if isinstance(c, str)}:
        group = usable & (crs_of == crs)
        lon[group], lat[group] = to_wgs84_arrays(lon[group], lat[group], crs)
    keep = np.flatnonzero(usable)
    return [rows[k] for k in keep], lon[keep], lat[keep]


def _resolve(
    ctx: IncidentContext, rows: list[ParsedRow], errors: list[RowError], progress: bool
) -> list[ParsedRow]:
    """Category, CRS conversion and grid assignment for every row; rows that fail go to ``errors``.

    Rows with coordinates are assigned together (:func:`assign_many`); rows with only an address go through the
    geocoder one by one (tens of milliseconds each).
    """
    index = current_index(ctx.db)
    near_m = ctx.settings.near_boundary_m
    rows = _category_of(ctx, rows, errors)
    by_coordinates, lon, lat = _wgs84([p for p in rows if p.data.lon is not None], errors)
    good: list[ParsedRow] = []
    for parsed, where in zip(by_coordinates, assign_many(index, lon, lat, near_m), strict=True):
        if isinstance(where, InvalidInput):
            errors.append(row_error(parsed.row, where))
        else:
            parsed.assignment = where
            good.append(parsed)
    by_address = [p for p in rows if p.data.lon is None]
    for parsed in tqdm(
        by_address,
        desc=cli_text("progress.incidents.geocode"),
        unit="row",
        disable=not progress or not by_address,
    ):
        # the same rule as a single intake: only a confident house number, building or POI places a row
        try:
            match = geocode_address(ctx, parsed.data.address or "")
            parsed.geocode = match.as_dict()
            parsed.assignment = assign(index, match.candidate.lon, match.candidate.lat, "wgs84", near_m)
            good.append(parsed)
        except (InvalidInput, Conflict) as exc:
            errors.append(row_error(parsed.row, exc))
    good.sort(key=lambda p: p.row)
    return good


def import_csv(
    ctx: IncidentContext,
    content: bytes,
    *,
    encoding: str | None,
    atomic: bool,
    actor: str,
    role: str,
    progress: bool = False,
) -> Tally:
    """Check every row, then write the good ones in one transaction (none when ``atomic`` and any is bad).

    Raises
    ------
    BadRequest
        Unreadable file: encoding, header, CSV syntax.
    InvalidInput
        ``atomic`` and some rows are bad; ``extra`` carries the report (created 0, the errors).
    """
    with tqdm(total=3, desc=cli_text("progress.incidents.import"), unit="stage", disable=not progress) as bar:
        bar.set_postfix_str("read")
        text, used = decode(content, encoding)
        parsed, errors = parse(text, ctx.settings.import_max_rows)
        total = len(parsed) + len(errors)
        bar.update(1)
        bar.set_postfix_str(f"check and assign {total:,} rows")
        good = _resolve(ctx, parsed, errors, progress)
        errors.sort(key=lambda e: e["row"])
        report = Tally(errors=errors, encoding=used, atomic=atomic)
        if errors and atomic:
            raise InvalidInput(
                "incident.import_rows_invalid",
                count=f"{len(errors):,}",
                total=f"{total:,}",
                extra={k: v for k, v in report.as_dict().items() if k != "rows"},
            )
        bar.update(1)
        bar.set_postfix_str(f"write {len(good):,} rows")
        _write(ctx, good, report, actor, role)
        bar.update(1)
    return report


def _placed(parsed: ParsedRow) -> tuple[Category, Assignment]:
    """The category and the place of a row that passed every check (both are set by then)."""
    assert parsed.category is not None and parsed.assignment is not None
    return parsed.category, parsed.assignment


def _write(ctx: IncidentContext, good: list[ParsedRow], report: Tally, actor: str, role: str) -> None:
    now = ctx.now()
    with ctx.db.cursor() as cur:
        external = [e for p in good if (e := p.data.external_id)]
        known = store.ids_by_external_id(cur, external) if external else {}
        fresh, outcome = [], {}
        first_in_file: dict[str, ParsedRow] = {}
        for parsed in good:
            key = parsed.data.external_id
            if key and (key in known or key in first_in_file):
                continue
            if key:
                first_in_file[key] = parsed
            fresh.append(parsed)
        ids = store.allocate_ids(cur, len(fresh)) if fresh else []
        placed = [_placed(p) for p in fresh]
        points = (
            shapely.points([w.lon for _, w in placed], [w.lat for _, w in placed])
            if fresh
            else np.empty(0, dtype=object)
        )
        owners: dict[int, tuple[Any, ...]] = {}  # rows of one grid share one snapshot: one owner row for them
        rows = []
        for incident_id, parsed, (category, where), geom in zip(
            ids, fresh, placed, ewkb_hex(points), strict=True
        ):
            data = parsed.data
            snapshot = id(where.snapshot)
            if snapshot not in owners:
                columns = {
                    **where.columns(),
                    "owner_key": len(owners),
                    "area_snapshot": json.dumps(where.snapshot, ensure_ascii=False),
                }
                owners[snapshot] = tuple(columns[c] for c in store.BULK_OWNER_COLUMNS)
            rows.append(
                (
                    incident_id,
                    data.external_id,
                    category.code,
                    data.description,
                    data.address,
                    clean_reporter(data.reporter) or None,
                    input_crs(data),
                    data.lon,
                    data.lat,
                    where.near_boundary,
                    where.rounded_distance_m,
                    now + category.deadline(where.owner_level),
                    parsed.geocode,
                    owners[snapshot][0],
                    geom,
                )
            )
            outcome[id(parsed)] = incident_id
        created = (
            set(store.bulk_insert(cur, list(owners.values()), rows, at=now, actor=actor, source="import"))
            if rows
            else set()
        )
        raced = [e for p in fresh if outcome[id(p)] not in created and (e := p.data.external_id)]
        if raced:  # another writer filed these tickets between our check and our insert
            known.update(store.ids_by_external_id(cur, raced))
        for parsed in good:
            key = parsed.data.external_id
            written = outcome.get(id(parsed))
            if written is not None and written in created:
                report.rows.append({"row": parsed.row, "id": written, "result": "created"})
            else:  # only rows with an external_id can meet an existing incident
                assert key is not None
                first = known.get(key) if key in known else outcome[id(first_in_file[key])]
                report.rows.append({"row": parsed.row, "id": first, "result": "existing"})
        report.created = sum(1 for r in report.rows if r["result"] == "created")
        report.existing = len(report.rows) - report.created
        audit.record(
            cur,
            actor=actor,
            role=role,
            action="import",
            entity="incident",
            detail={
                "created": report.created,
                "existing": report.existing,
                "errors": len(report.errors),
                "encoding": report.encoding,
            },
        )
