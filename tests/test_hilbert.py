"""The Hilbert numbering of cells: every cell once, each step to a neighbour."""

from __future__ import annotations

import numpy as np

from geo_service.hilbert import hilbert_index


def test_the_hilbert_index_numbers_every_cell_once_and_steps_to_a_neighbour() -> None:
    side = 1 << 5
    x, y = (a.ravel() for a in np.meshgrid(np.arange(side), np.arange(side)))
    d = hilbert_index(x, y, order=5)
    assert sorted(d.tolist()) == list(range(side * side))
    order = np.argsort(d)
    assert (np.abs(np.diff(x[order])) + np.abs(np.diff(y[order])) == 1).all()
