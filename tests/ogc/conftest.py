"""A real uvicorn server over a copy of the Helsinki database, on a free port, with grid history in it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from geo_service.api.app import create_app
from tests.conftest import running_server
from tests.tiles.conftest import HELSINKI_CENTRE, insert_area, square

LON, LAT = HELSINKI_CENTRE
V1_FROM = datetime(2023, 1, 1, tzinfo=UTC)
V2_FROM = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def grid_history(db) -> dict[str, object]:
    """Grid O-G1 redrawn on 2024-06-01 (v1 then v2), grid O-G2 unchanged since 2023, a community above both."""
    insert_area(db, "O-C1", "community", square(LON - 0.006, LAT - 0.003, 0.012), valid_from=V1_FROM)
    insert_area(
        db,
        "O-G1",
        "grid",
        square(LON - 0.006, LAT - 0.003, 0.004),
        name="旧网格",
        parent_code="O-C1",
        version=1,
        valid_from=V1_FROM,
        valid_to=V2_FROM,
    )
    insert_area(
        db,
        "O-G1",
        "grid",
        square(LON - 0.006, LAT - 0.003, 0.006),
        name="新网格",
        parent_code="O-C1",
        version=2,
        valid_from=V2_FROM,
    )
    insert_area(
        db,
        "O-G2",
        "grid",
        square(LON + 0.002, LAT - 0.003, 0.004),
        name="二号网格",
        parent_code="O-C1",
        valid_from=V1_FROM,
    )
    return {"v1_from": V1_FROM, "v2_from": V2_FROM}


@pytest.fixture(scope="module")
def server(db, grid_history) -> Iterator[str]:
    """Base URL of uvicorn serving the app on 127.0.0.1 in a background thread."""
    with running_server(create_app(db=db)) as base:
        yield base
