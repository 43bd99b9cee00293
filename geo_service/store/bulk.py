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
    """Hex EWKB with SRID for each geometry (None stays None).

    The SRID is spliced into GEOS's little-endian extended WKB (the type word gets the SRID flag, the SRID
    follows it) rather than set on a copy of every geometry first (``shapely.set_srid``), which cost as much
    as the COPY itself on an import; the bytes are the same.
    """
    array = np.asarray(geoms, dtype=object)
    missing = shapely.is_missing(array)
    out: list[str | None] = [None] * len(array)
    if (~missing).any():
        hexes = shapely.to_wkb(array[~missing], hex=True, byte_order=1, flavor="extended")
        srid_hex = int(srid).to_bytes(4, "little", signed=True).hex().upper()
        words: dict[str, str] = {}
        for index, value in zip(np.flatnonzero(~missing).tolist(), hexes.tolist(), strict=True):
            word = value[2:10]
            flagged = words.get(word)
            if flagged is None:
                number = int.from_bytes(bytes.fromhex(word), "little") | 0x20000000
                flagged = words[word] = number.to_bytes(4, "little").hex().upper() + srid_hex
            out[index] = value[:2] + flagged + value[10:]
    return out


def _cell(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is int:  # most cells: passed through as they are (bool is not int here)
        return value
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
