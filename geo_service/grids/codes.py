"""GB/T 30428-style area codes: 6-digit county + 3 street + 3 community + 3 grid = 15 digits.

Auto-numbering gives new children of a parent the next free 3-digit numbers in reading order: rows from
north to south, west to east within a row. Numbers continue after the highest ever used under that parent,
deleted areas included, so a code never comes back for different land.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo_service.crs import metres_per_degree
from geo_service.i18n import Message, message

CODE_DIGITS = {"district": 6, "street": 9, "community": 12, "grid": 15}
_SERIAL_DIGITS = 3


class NumberingError(ValueError):
    """The parent's code does not allow GB/T numbering, or its 999 numbers are used up."""

    def __init__(self, text: Message) -> None:
        super().__init__(str(text))
        self.message = text


def reading_order(geoms: Sequence[BaseGeometry]) -> list[int]:
    """Indexes of ``geoms`` (WGS-84) in reading order: north→south rows, west→east within a row.

    A row is a band as tall as the median area's side: an area joins the current row while its
    representative point lies less than half that height below the row's first area.
    """
    if not geoms:
        return []
    points = shapely.point_on_surface(np.asarray(geoms, dtype=object))
    xy = shapely.get_coordinates(points)
    kx, ky = metres_per_degree(float(np.mean(xy[:, 1])))
    x, y = xy[:, 0] * kx, xy[:, 1] * ky
    sides = np.sqrt([g.area for g in geoms]) * np.sqrt(kx * ky)
    band = float(np.median(sides)) if len(sides) else 1.0
    order = sorted(range(len(geoms)), key=lambda i: (-y[i], x[i]))
    rows: list[list[int]] = []
    row_top = None
    for i in order:
        if row_top is None or row_top - y[i] > band / 2:
            rows.append([])
            row_top = y[i]
        rows[-1].append(i)
    return [i for row in rows for i in sorted(row, key=lambda j: x[j])]


def child_prefix(parent_code: str | None, level: str) -> str:
    """The prefix a child at ``level`` inherits: its parent's code, which must be a GB/T code one level up."""
    digits = CODE_DIGITS[level]
    if level == "district":
        raise NumberingError(message("grid.cannot_number.district"))
    if parent_code is None or not parent_code.isdigit() or len(parent_code) != digits - _SERIAL_DIGITS:
        raise NumberingError(
            message(
                "grid.cannot_number",
                level=message(f"level.{level}"),
                digits=digits - _SERIAL_DIGITS,
                parent=str(parent_code),
            )
        )
    return parent_code


def assign(
    parent_code: str | None, level: str, geoms: Sequence[BaseGeometry], used: Iterable[str]
) -> list[str]:
    """Codes for new children ``geoms`` of ``parent_code``, in reading order after the highest ``used``."""
    prefix = child_prefix(parent_code, level)
    serials = [
        int(c[len(prefix) :])
        for c in used
        if c.startswith(prefix) and len(c) == len(prefix) + _SERIAL_DIGITS and c[len(prefix) :].isdigit()
    ]
    start = max(serials, default=0) + 1
    if start + len(geoms) - 1 > 10**_SERIAL_DIGITS - 1:
        raise NumberingError(
            message(
                "grid.cannot_number.full",
                parent=parent_code,
                count=len(geoms),
                level=message(f"level.{level}"),
            )
        )
    codes = [""] * len(geoms)
    for serial, i in enumerate(reading_order(geoms), start=start):
        codes[i] = f"{prefix}{serial:0{_SERIAL_DIGITS}d}"
    return codes
