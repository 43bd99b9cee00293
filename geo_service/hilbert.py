"""Hilbert-curve numbering of integer cells: cells next to each other along the curve are next to each other on
the plane, so sorting by it keeps neighbours together — batch jobs' spatial partitions (``batch.partition``) and
the walking graph's node order (``walking.graph``, so a search reads nearby memory)."""

from __future__ import annotations

import numpy as np

ORDER = 16  # 65,536 cells a side


def hilbert_index(x: np.ndarray, y: np.ndarray, order: int = ORDER) -> np.ndarray:
    """Distance along the Hilbert curve of side ``2**order`` for integer cell coordinates (vectorised)."""
    x = np.asarray(x, np.int64)
    y = np.asarray(y, np.int64)
    n = 1 << order
    d = np.zeros(x.shape, np.int64)
    s = n >> 1
    while s > 0:
        rx = ((x & s) > 0).astype(np.int64)
        ry = ((y & s) > 0).astype(np.int64)
        d += s * s * ((3 * rx) ^ ry)
        flip = (ry == 0) & (rx == 1)
        x, y = np.where(flip, n - 1 - x, x), np.where(flip, n - 1 - y, y)
        turn = ry == 0
        x, y = np.where(turn, y, x), np.where(turn, x, y)
        s >>= 1
    return d
