"""A real uvicorn server over a copy of the Helsinki database, on a free port, with grid history in it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import uvicorn

from geo_service.api.app import create_app
from tests.tiles.conftest import HELSINKI_CENTRE, insert_area, square

LON, LAT = HELSINKI_CENTRE
V1_FROM = datetime(2023, 1, 1, tzinfo=UTC)
V2_FROM = datetime(2024, 6, 1, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def grid_history(db) -> dict[str, object]:
    """Grid O-G1 redrawn on 2024-06-01 (v1 then v2), grid O-G2 unchanged since 2023, a community above both."""
    insert_area(db, "O-C1", "community", square(LON - 0.006, LAT - 0.003, 0.012), valid_from=V1_FROM)
    insert_area(db, "O-G1", "grid", square(LON - 0.006, LAT - 0.003, 0.004), name="旧网格", parent_code="O-C1",
                version=1, valid_from=V1_FROM, valid_to=V2_FROM)  # fmt: skip
    insert_area(db, "O-G1", "grid", square(LON - 0.006, LAT - 0.003, 0.006), name="新网格", parent_code="O-C1",
                version=2, valid_from=V2_FROM)  # fmt: skip
    insert_area(db, "O-G2", "grid", square(LON + 0.002, LAT - 0.003, 0.004), name="二号网格", parent_code="O-C1",
                valid_from=V1_FROM)  # fmt: skip
    return {"v1_from": V1_FROM, "v2_from": V2_FROM}


@pytest.fixture(scope="module")
def server(db, grid_history) -> Iterator[str]:
    """Base URL of uvicorn serving the app on 127.0.0.1 in a background thread."""
    port = free_port()
    config = uvicorn.Config(create_app(db=db), host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        raise RuntimeError("uvicorn did not start")
    yield base
    uv.should_exit = True
    thread.join(timeout=10)
