"""Bulk assignment (CSV import) gives the answers of single intake: grid, snapshot, boundary distance, errors."""

from __future__ import annotations

import numpy as np
import pytest

from geo_service.db.pool import Database
from geo_service.errors import InvalidInput
from geo_service.incidents.assignment import assign, assign_many
from geo_service.locate.service import current_index
from tests.incidents.areas import EDGE_LON, POINTS

pytestmark = pytest.mark.usefixtures("areas")


def test_assign_many_agrees_with_assign(db: Database) -> None:
    rng = np.random.default_rng(3)
    lon = rng.uniform(24.926, 24.962, 1500)
    lat = rng.uniform(60.158, 60.184, 1500)
    # points right at the shared edge and a few metres either side of it
    lon[:200] = EDGE_LON + rng.choice([-0.0003, -0.0001, 0.0, 0.0001, 0.0003], 200)
    lon[200], lat[200] = POINTS["outside"]
    index = current_index(db)
    many = assign_many(index, lon, lat, near_boundary_m=20.0)
    for k in range(len(lon)):
        try:
            one = assign(index, float(lon[k]), float(lat[k]), "wgs84", 20.0)
        except InvalidInput as exc:
            assert isinstance(many[k], InvalidInput) and (many[k].code, many[k].detail) == (
                exc.code,
                exc.detail,
            )
            continue
        got = many[k]
        assert not isinstance(got, InvalidInput)
        assert (got.grid_code, got.grid_version, got.owner_code, got.snapshot) == (
            one.grid_code,
            one.grid_version,
            one.owner_code,
            one.snapshot,
        )
        # one local frame per grid instead of one per point: within 0.1 % (centimetres near the 20 m line)
        assert got.distance_to_boundary_m == pytest.approx(one.distance_to_boundary_m, rel=1e-3, abs=0.01)
        assert got.near_boundary == one.near_boundary or abs(one.distance_to_boundary_m - 20.0) < 0.01
    assert sum(isinstance(a, InvalidInput) for a in many) >= 1
    assert any(not isinstance(a, InvalidInput) and a.grid_code is None for a in many)  # 属地兜底 among them
