"""Lost updates are not opt-in: every update and delete of a versioned resource (grids, stations, facilities,
and a grid merge) must name the version it read in ``If-Match``. Without it — or with ``*``, which names none —
the answer is 428 and nothing changes; with it, concurrent editors never overwrite each other."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.db.pool import Database
from tests.conftest import auth_headers, running_server
from tests.incidents.areas import GRID_1, GRID_2

pytestmark = pytest.mark.usefixtures("areas")
EDITORS = 20
ATTEMPTS_PER_EDITOR = 3


def point(lon: float, lat: float, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": props}


@pytest.fixture(scope="module")
def station(client: TestClient, planner_headers: dict[str, str]) -> int:
    body = point(
        24.945,
        60.168,
        name="版本测试驿站",
        kind="care_station",
        amenities=["hot_water"],
        opening_hours="24/7",
        manager="0",
    )
    response = client.post("/api/stations", json=body, headers=planner_headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture(scope="module")
def facility(client: TestClient, planner_headers: dict[str, str]) -> int:
    body = point(24.944, 60.169, name="版本测试食堂", category="canteen")
    response = client.post("/api/facilities", json=body, headers=planner_headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.mark.parametrize("if_match", [None, "", "*", " * "])
def test_updates_and_deletes_without_a_version_are_428(
    client: TestClient, planner_headers: dict[str, str], station: int, facility: int, if_match: str | None
) -> None:
    headers = planner_headers if if_match is None else {**planner_headers, "If-Match": if_match}
    rename = {"type": "Feature", "properties": {"name": "盲写"}}
    writes = [
        ("PUT", f"/api/grids/{GRID_1}", rename),
        ("DELETE", f"/api/grids/{GRID_1}", None),
        ("POST", f"/api/grids/{GRID_1}/merge", {"absorb": [GRID_2]}),
        ("PUT", f"/api/stations/{station}", rename),
        ("DELETE", f"/api/stations/{station}", None),
        ("PUT", f"/api/facilities/{facility}", rename),
        ("DELETE", f"/api/facilities/{facility}", None),
    ]
    for method, path, body in writes:
        before = client.get(path.removesuffix("/merge"))
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == 428, (method, path, response.text)
        assert response.json()["code"] == "request.if_match_required"
        after = client.get(path.removesuffix("/merge"))
        assert after.status_code == 200 and after.headers["etag"] == before.headers["etag"], path
        assert after.json()["properties"].get("name") != "盲写"
    assert client.get(f"/api/grids/{GRID_2}").status_code == 200  # not absorbed


def test_role_is_checked_before_the_version(client: TestClient, station: int) -> None:
    """An anonymous blind write learns nothing about versions: 401 first."""
    assert (
        client.put(f"/api/stations/{station}", json={"type": "Feature", "properties": {}}).status_code == 401
    )


def test_a_malformed_if_match_is_400(
    client: TestClient, planner_headers: dict[str, str], station: int
) -> None:
    response = client.put(
        f"/api/stations/{station}",
        json={"type": "Feature", "properties": {}},
        headers={**planner_headers, "If-Match": "version three"},
    )
    assert response.status_code == 400 and response.json()["code"] == "request.if_match_malformed"


def test_twenty_concurrent_editors_lose_no_update(db: Database, station: int) -> None:
    """Each of 20 editors (own token, own connection) reads the station, adds one to the counter it keeps in
    ``manager`` and saves with the ETag it read, a few times over; a 412 means someone else saved first. Every
    success must show: the version grows by exactly the number of successes and the counter equals it."""
    tokens = [auth_headers(db, "planner") for _ in range(EDITORS)]
    successes: list[int] = []
    stale: list[int] = []
    failures: list[str] = []
    lock = threading.Lock()
    with running_server(create_app(db=db)) as base:
        start = httpx.get(f"{base}/api/stations/{station}", timeout=30)
        version_before = int(start.headers["etag"].strip('"'))
        counter_before = int(start.json()["properties"]["manager"])
        barrier = threading.Barrier(EDITORS)

        def editor(headers: dict[str, str]) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
                barrier.wait()
                for _ in range(ATTEMPTS_PER_EDITOR):
                    read = http.get(f"/api/stations/{station}")
                    counter = int(read.json()["properties"]["manager"])
                    body = {"type": "Feature", "properties": {"manager": str(counter + 1)}}
                    saved = http.put(
                        f"/api/stations/{station}", json=body, headers={"If-Match": read.headers["etag"]}
                    )
                    with lock:
                        if saved.status_code == 200:
                            successes.append(int(saved.headers["etag"].strip('"')))
                        elif saved.status_code == 412:
                            stale.append(1)
                        else:
                            failures.append(f"{saved.status_code} {saved.text}")

        threads = [threading.Thread(target=editor, args=(headers,)) for headers in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        final = httpx.get(f"{base}/api/stations/{station}", timeout=30)
    assert failures == []
    assert len(successes) + len(stale) == EDITORS * ATTEMPTS_PER_EDITOR
    assert successes, "at least one editor got through"
    # every success made its own version: no two saves produced the same one
    assert sorted(successes) == list(range(version_before + 1, version_before + 1 + len(successes)))
    assert int(final.headers["etag"].strip('"')) == version_before + len(successes)
    assert int(final.json()["properties"]["manager"]) == counter_before + len(successes)
