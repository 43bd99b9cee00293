"""A structural check of an ``.osm.pbf`` file before any parsing.

The file is a sequence of ``[4-byte big-endian length][BlobHeader][Blob]``; the first BlobHeader's type is
``OSMHeader``. Walking the headers (seeking over the blobs) finds a truncated or foreign file in
milliseconds, before a parser could return a silently partial city.
"""

from __future__ import annotations

import struct
from pathlib import Path

_MAX_HEADER = 64 * 1024
_MAX_BLOB = 32 * 1024 * 1024


class InvalidPBF(ValueError):
    """The file is not a complete OpenStreetMap PBF extract."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise InvalidPBF("malformed BlobHeader")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise InvalidPBF("malformed BlobHeader")


def _parse_blob_header(buf: bytes) -> tuple[str, int]:
    """(type, datasize) of a BlobHeader message."""
    pos, blob_type, datasize = 0, None, None
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            if field == 3:
                datasize = value
        elif wire == 2:
            length, pos = _varint(buf, pos)
            chunk = buf[pos : pos + length]
            pos += length
            if field == 1:
                blob_type = chunk.decode("ascii", errors="replace")
        else:
            raise InvalidPBF("malformed BlobHeader")
    if blob_type is None or datasize is None:
        raise InvalidPBF("BlobHeader lacks its type or size")
    return blob_type, datasize


def check_pbf(path: Path) -> int:
    """Raise :class:`InvalidPBF` unless ``path`` is a complete PBF extract; return its number of blobs."""
    path = Path(path)
    if not path.is_file():
        raise InvalidPBF(f"{path} does not exist")
    size = path.stat().st_size
    if size == 0:
        raise InvalidPBF(f"{path} is empty")
    blobs = 0
    with open(path, "rb") as handle:
        offset = 0
        while offset < size:
            raw = handle.read(4)
            if len(raw) < 4:
                raise InvalidPBF(f"{path} is truncated at byte {offset}")
            (header_len,) = struct.unpack(">I", raw)
            if header_len == 0 or header_len > _MAX_HEADER:
                raise InvalidPBF(
                    f"{path} is not an OpenStreetMap PBF file (bad block header at byte {offset})"
                )
            header = handle.read(header_len)
            if len(header) < header_len:
                raise InvalidPBF(f"{path} is truncated at byte {offset}")
            blob_type, datasize = _parse_blob_header(header)
            if blobs == 0 and blob_type != "OSMHeader":
                raise InvalidPBF(f"{path} is not an OpenStreetMap PBF file (first block is {blob_type!r})")
            if datasize > _MAX_BLOB:
                raise InvalidPBF(f"{path} has an oversized block at byte {offset}")
            offset += 4 + header_len + datasize
            if offset > size:
                raise InvalidPBF(
                    f"{path} is truncated: a block runs {offset - size} bytes past the end of the file"
                )
            handle.seek(offset)
            blobs += 1
    if blobs < 2:
        raise InvalidPBF(f"{path} holds a header but no data")
    return blobs
