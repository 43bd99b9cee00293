"""The dashboard as tables for people: CSV (one table, UTF-8 with a byte-order mark so that Excel reads the
Chinese) and XLSX (every table, one sheet each), headers in the reader's language (catalogue dashboard.po)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from geo_service.errors import InvalidInput
from geo_service.i18n import translate
from geo_service.incidents.rates import LEVELS
from geo_service.stats.dashboard import Dashboard

SECTIONS = ("summary", "settled", "weeks", "grids", "areas", "overdue", "escalated", "staffing")
FORMATS = ("csv", "xlsx")
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FLOW = ("reported", "accepted", "transferred", "completed", "on_time")
_CASE = (
    "id",
    "category",
    "status",
    "grid_code",
    "owner_level",
    "owner_code",
    "escalations",
    "created_at",
    "due_at",
    "hours_past_due",
)
Table = tuple[list[str], list[list[Any]]]


def _label(key: str, language: str) -> str:
    return translate(f"dashboard.col.{key}", language)


def _columns(keys: tuple[str, ...], rows: Sequence[Mapping[str, Any]], language: str) -> Table:
    return [_label(k, language) for k in keys], [[row.get(k) for k in keys] for row in rows]


def tables(report: Dashboard, language: str) -> dict[str, Table]:
    """Every section of :func:`geo_service.stats.dashboard.dashboard`'s report as (headers, rows)."""
    summary: Mapping[str, Any] = report["summary"]
    settled = report["settled"]
    area = report["area"]
    metric = [_label("metric", language), _label("value", language)]
    head: list[list[Any]] = [
        [_label("area", language), f"{area['name']} ({area['code']})"],
        [_label("since", language), report["period"]["since"]],
        [_label("until", language), report["period"]["until"]],
        [_label("as_of", language), report["as_of"]],
    ]
    keys = (*_FLOW, "on_time_due", "on_time_rate", "completion_rate", "overdue", "escalated", "rejected")
    staffing: Mapping[str, Any] = report["staffing"]
    coverage: Mapping[str, Any] = report["coverage"]
    staff_keys = ("population", "norm_per_10k", "need", "workers", "gap", "per_10k")
    cover_keys = (
        "stations",
        "residences",
        "residences_covered",
        "households",
        "households_covered",
        "households_share",
    )
    return {
        "summary": (metric, head + [[_label(k, language), summary[k]] for k in keys]),
        "settled": (
            [_label(k, language) for k in ("level", "settled_count", "share", "grid_target")],
            [
                [
                    translate(f"dashboard.level.{lv}", language),
                    settled["counts"][lv],
                    settled["shares"][lv],
                    settled["grid_target"] if lv == "grid" else None,
                ]
                for lv in LEVELS
            ],
        ),
        "weeks": _columns(("week", *_FLOW, "escalated"), report["weeks"], language),
        "grids": _columns(
            ("code", "name", *_FLOW, "on_time_rate", "overdue", "escalated", "workers"),
            report["grids"],
            language,
        ),
        "areas": _columns(
            (
                "code",
                "name",
                *_FLOW,
                "completion_rate",
                "settled_grid_share",
                "escalated",
                "on_time_due",
                "on_time_rate",
                "overdue",
                *(f"settled_{lv}_share" for lv in LEVELS[1:]),
            ),
            report["areas"],
            language,
        ),
        "overdue": _columns(_CASE, report["overdue"]["cases"], language),
        "escalated": _columns(_CASE, report["escalated"]["cases"], language),
        "staffing": (
            metric,
            [[_label(f"staff_{k}", language), staffing[k]] for k in staff_keys]
            + [[_label(f"cover_{k}", language), coverage[k]] for k in cover_keys],
        ),
    }


def check(format: str, section: str | None) -> None:
    """
    Raises
    ------
    InvalidInput
        Unknown format or section.
    """
    if format not in FORMATS:
        raise InvalidInput("dashboard.format", format=repr(format), formats=list(FORMATS))
    if section is not None and section not in SECTIONS:
        raise InvalidInput("dashboard.section", section=repr(section), sections=list(SECTIONS))


def csv_bytes(table: Table) -> bytes:
    headers, rows = table
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(sheets: dict[str, Table], language: str) -> bytes:
    """A workbook with one sheet per table, named in ``language``, headers bold and frozen."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for name, (headers, rows) in sheets.items():
        sheet = book.create_sheet(translate(f"dashboard.section.{name}", language)[:31])
        sheet.append(headers)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append(row)
        sheet.freeze_panes = "A2"
        for k, header in enumerate(headers):
            width = max([len(str(header))] + [len(str(r[k])) for r in rows if r[k] is not None]) + 2
            sheet.column_dimensions[sheet.cell(1, k + 1).column_letter].width = min(width * 1.3, 60)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def export(report: Dashboard, format: str, section: str | None, language: str) -> tuple[bytes, str, str]:
    """(body, media type, file name): ``section`` (default summary) as CSV, or every section as XLSX."""
    check(format, section)
    sheets = tables(report, language)
    stem = f"dashboard-{report['area']['code']}-{report['period']['since']}-{report['period']['until']}"
    if format == "csv":
        name = section or "summary"
        return csv_bytes(sheets[name]), "text/csv; charset=utf-8", f"{stem}-{name}.csv"
    chosen = {section: sheets[section]} if section else sheets
    media = XLSX_MEDIA_TYPE
    return xlsx_bytes(chosen, language), media, f"{stem}.xlsx"
