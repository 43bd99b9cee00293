from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.db.pool import Database


@pytest.fixture(scope="module")
def client(db: Database, planner_headers: dict[str, str]) -> Iterator[TestClient]:
    """Siting is planner work (POST /api/siting needs the role): the module's client sends a planner token."""
    with TestClient(create_app(db=db), raise_server_exceptions=False, headers=planner_headers) as test_client:
        yield test_client
