"""Columnar bodies for ``POST /api/locate/batch``: Apache Arrow IPC (stream or file) and Parquet, in and out.

A client that has its points in a dataframe sends them as a table with float columns ``lon`` and ``lat``
(degrees in the ``crs`` query parameter's system) and asks for a table back with ``Accept``; the answer has one
column ``grid_code`` (dictionary-encoded text, null outside every grid), row for row in input order. No number
is ever written as text on either side, so a million points cost a few milliseconds to decode and encode.
"""

from __future__ import annotations

import io

import numpy as np

from geo_service.errors import BadRequest, InvalidInput

ARROW_STREAM = "application/vnd.apache.arrow.stream"
ARROW_FILE = "application/vnd.apache.arrow.file"
PARQUET = "application/vnd.apache.parquet"
MEDIA_TYPES = (ARROW_STREAM, ARROW_FILE, PARQUET)


def media_type_of(header: str | None) -> str | None:
    """The columnar media type a ``Content-Type`` header names, or None (JSON or anything else)."""
    if not header:
        return None
    base = header.split(";", 1)[0].strip().lower()
    return base if base in MEDIA_TYPES else None


def accepted(header: str | None) -> str | None:
    """The columnar media type an ``Accept`` header asks for (the first one listed with q > 0), or None."""
    for part in (header or "").split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() in MEDIA_TYPES and "q=0" not in params.replace(" ", "").split(";"):
            return name.strip().lower()
    return None


def decode(body: bytes, media_type: str) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) float64 arrays from a columnar body.

    Raises
    ------
    BadRequest
        Not readable as ``media_type``.
    InvalidInput
        No numeric ``lon``/``lat`` columns, or a missing value in them.
    """
    import pyarrow as pa  # imported by the first columnar body, not at start
    import pyarrow.ipc as ipc
    import pyarrow.parquet as pq

    try:
        if media_type == PARQUET:
            table = pq.read_table(pa.BufferReader(body), columns=None)
        elif media_type == ARROW_FILE:
            table = ipc.open_file(pa.BufferReader(body)).read_all()
        else:
            table = ipc.open_stream(pa.BufferReader(body)).read_all()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        raise BadRequest("locate.table_unreadable", media_type=media_type, reason=str(exc)[:200]) from None
    columns = []
    for name in ("lon", "lat"):
        if name not in table.column_names:
            raise InvalidInput("locate.table_columns", columns=", ".join(table.column_names[:10]))
        column = table.column(name)
        if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
            raise InvalidInput("locate.table_column_type", column=name, type=str(column.type))
        if column.null_count:
            raise InvalidInput("locate.table_nulls", column=name, count=column.null_count)
        columns.append(np.asarray(column.to_numpy(), dtype=np.float64))
    return columns[0], columns[1]


def encode(codes: np.ndarray, positions: np.ndarray, media_type: str) -> bytes:
    """One column ``grid_code`` for grid positions (-1 outside) over ``codes``, as ``media_type``."""
    import pyarrow as pa
    import pyarrow.ipc as ipc
    import pyarrow.parquet as pq

    indices = pa.array(positions.astype(np.int32, copy=False), mask=positions < 0)
    column = pa.DictionaryArray.from_arrays(indices, pa.array(list(codes), pa.string()))
    table = pa.table({"grid_code": column})
    sink = io.BytesIO()
    if media_type == PARQUET:
        pq.write_table(table, sink, compression="zstd")
    elif media_type == ARROW_FILE:
        with ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
    else:
        with ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    return sink.getvalue()
