"""Helpers for the tile tests: tile numbers of a point, MVT decoding."""

from __future__ import annotations

import math

import mapbox_vector_tile


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    """The XYZ tile holding ``lon``/``lat`` at zoom ``z``."""
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return z, min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def decode(body: bytes) -> dict:
    """Decoded MVT: {layer name: {"features": [...], "extent": ...}}."""
    return mapbox_vector_tile.decode(body)
