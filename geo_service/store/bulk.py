"""Fast bulk writes with COPY: rows become CSV, geometries hex EWKB (which PostGIS parses on input)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import shapely
from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor

CHUNK_ROWS = 20_000


def ewkb_hex(geoms: Sequence[Any] | np.ndarray, srid: int = 4326) -> list[str | None]:
    """Hex EWKB with SRID for each geometry (None stays None)."""
    array = np.asarray(geoms, dtype=object)
    missing = shapely.is_missing(array)
    out: list[str | None] = [None] * len(array)
    if (~missing).any():
        present = shapely.set_srid(array[~missing], srid)
        hexes = shapely.to_wkb(present, hex=True, include_srid=True)
        for index, value in zip(np.flatnonzero(~missing), hexes, strict=True):
            out[index] = value
    return out


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bool):
        return "t" if value else "f"
    return value


def copy_rows(
    cur: Cursor,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """COPY ``rows`` into ``table(columns)``; returns the number of rows. Empty strings are stored as NULL."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    total = 0
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    pending = 0

    def flush() -> None:
        nonlocal pending
        buffer.seek(0)
        cur.copy_expert(statement, buffer)
        if on_chunk:
            on_chunk(pending)
        buffer.seek(0)
        buffer.truncate()
        pending = 0

    for row in rows:
        writer.writerow([_cell(v) for v in row])
        pending += 1
        total += 1
        if pending >= CHUNK_ROWS:
            flush()
    if pending:
        flush()
    return total
