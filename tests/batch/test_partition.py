"""The spatial key of batch jobs: a Hilbert curve over lon/lat cells (neighbours along the curve are neighbours
on the map, so a partition of consecutive cells is compact)."""

from __future__ import annotations

import numpy as np
import pytest

from geo_service.batch.errors import BatchError
from geo_service.batch.partition import NO_CELL, cell_box, cell_groups, cell_keys, grow_box


def test_points_of_one_cell_share_a_key_and_bad_coordinates_get_none() -> None:
    lon = np.array([24.941, 24.949, 24.951, np.nan, 200.0])
    lat = np.array([60.171, 60.179, 60.171, 60.17, 60.17])
    keys = cell_keys(lon, lat, 0.01)
    assert keys[0] == keys[1] != keys[2]
    assert keys[3] == keys[4] == NO_CELL
    west, south, east, north = cell_box(24.941, 60.171, 0.01)
    assert west <= 24.941 < east and south <= 60.171 < north and east - west == pytest.approx(0.01)
    w2, s2, _, n2 = grow_box((west, south, east, north), 1000.0)
    assert (south - s2) * 110_574 >= 1000 and (west - w2) * 111_320 * np.cos(np.radians(n2)) >= 1000
    with pytest.raises(BatchError):
        cell_keys(lon, lat, 0.0)


def test_cell_groups_are_the_cells_of_cell_keys_in_hilbert_order() -> None:
    rng = np.random.default_rng(3)
    lon = np.concatenate([rng.uniform(24.8, 25.1, 500), [np.nan, 200.0]])
    lat = np.concatenate([rng.uniform(60.1, 60.3, 500), [60.17, 60.17]])
    keys = cell_keys(lon, lat, 0.01)
    for spread in (lon, np.where(np.arange(len(lon)) == 0, -170.0, lon)):  # dense box, and one far away
        k = cell_keys(spread, lat, 0.01)
        groups = cell_groups(spread, lat, 0.01)
        assert [key for key, _ in groups] == sorted({int(v) for v in k if v != NO_CELL})
        assert sorted(np.concatenate([rows for _, rows in groups]).tolist()) == list(range(500))
        for key, rows in groups:
            assert (k[rows] == key).all() and (np.diff(rows) > 0).all()
    assert len(cell_groups(lon, lat, 0.01)) == len(set(keys[:500].tolist()))
