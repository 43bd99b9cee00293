from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.db.pool import Database
from geo_service.settings import RateLimitSettings


@pytest.fixture(scope="module")
def client(db: Database, planner_headers: dict[str, str]) -> Iterator[TestClient]:
    """Siting is planner work (POST /api/siting needs the role): the module's client sends a planner token.
    The rate limits are off (they have tests of their own): a module sends more siting requests than a
    caller's burst."""
    app = create_app(db=db, limit_settings=RateLimitSettings(enabled=False))
    with TestClient(app, raise_server_exceptions=False, headers=planner_headers) as test_client:
        yield test_client
