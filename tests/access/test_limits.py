"""Expensive work needs a role and a limit: siting and grid validation need a planner; every caller (token, else
address) has a token bucket per route class (429 with Retry-After when it is empty); expensive routes take one
of a fixed number of slots (503 at once when all are taken, never a queue); invalid tokens from one address
earn that address 429s without ever locking out a valid token.

The limiter's clock is frozen in these tests (no refill between requests), so every count is exact."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.api.ratelimit import RateLimiter, TokenBuckets, route_class
from geo_service.db.pool import Database
from geo_service.settings import RateLimitSettings
from tests.conftest import running_server

FROZEN = 1000.0


def limited_app(db: Database, **limits: float) -> FastAPI:
    settings = RateLimitSettings(**{"enabled": True, **limits})  # the suite turns limits off elsewhere
    app = create_app(db=db, limit_settings=settings)
    app.state.rate_limiter = RateLimiter(settings, monotonic=lambda: FROZEN)
    return app


def client_from(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, raise_server_exceptions=False, client=(address, 50000))


@pytest.fixture(scope="module")
def anonymous(client: TestClient) -> TestClient:
    return client


def test_buckets_refill_at_their_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate_per_s=2.0, burst=3, monotonic=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # one token comes back in 1/2 s
    assert buckets.take("b") == 0.0  # every key has its own bucket
    now[0] = 0.5
    assert buckets.take("a") == 0.0 and buckets.take("a") == pytest.approx(0.5)
    now[0] = 100.0
    assert [buckets.take("a") for _ in range(4)][-1] > 0  # refilled to the burst, never beyond


def test_forgets_the_oldest_keys_beyond_its_size() -> None:
    buckets = TokenBuckets(rate_per_s=1.0, burst=1, monotonic=lambda: 0.0, max_keys=2)
    for key in ("a", "b", "c"):
        assert buckets.take(key) == 0.0
    assert buckets.take("c") > 0 and buckets.take("a") == 0.0  # "a" was forgotten: a full bucket again


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("POST", "/api/siting", "expensive"),
        ("POST", "/api/grids/validate", "expensive"),
        ("POST", "/api/grids/propose", "expensive"),
        ("POST", "/api/grids/import", "expensive"),
        ("POST", "/api/incidents/import", "expensive"),
        ("POST", "/api/networks/{name}/import", "expensive"),
        ("GET", "/api/areas/{code}/guide-map.pdf", "expensive"),
        ("POST", "/api/locate/batch", "expensive"),
        ("GET", "/api/locate", "read"),
        ("GET", "/tiles/{layers}/{z}/{x}/{y}.pbf", "read"),
        ("PUT", "/api/stations/{station_id}", "write"),
        ("POST", "/api/incidents", "write"),
        ("GET", "/healthz", "exempt"),
        ("GET", "/readyz", "exempt"),
    ],
)
def test_route_classes(method: str, path: str, kind: str) -> None:
    assert route_class(method, path) == kind


def test_siting_and_validation_need_a_planner(
    anonymous: TestClient, dispatcher_headers: dict[str, str], planner_headers: dict[str, str]
) -> None:
    siting = {
        "k": 1,
        "minutes": 5,
        "method": "mclp",
        "candidates": [{"id": "a", "lon": 24.94, "lat": 60.17}],
        "demand": [{"lon": 24.9401, "lat": 60.1701, "weight": 1}],
        "fixed": [],
    }
    for path, body in (
        ("/api/siting", siting),
        ("/api/grids/validate", {"type": "FeatureCollection", "features": []}),
    ):
        nobody = anonymous.post(path, json=body)
        assert nobody.status_code == 401 and nobody.json()["code"] == "auth.missing_token", path
        assert nobody.headers["www-authenticate"] == "Bearer"
        dispatcher = anonymous.post(path, json=body, headers=dispatcher_headers)
        assert dispatcher.status_code == 403 and dispatcher.json()["code"] == "auth.role_not_allowed", path
        assert anonymous.post(path, json=body, headers=planner_headers).status_code == 200, path


def test_reads_are_limited_per_address(db: Database) -> None:
    app = limited_app(db, read_burst=3)
    with client_from(app, "10.0.0.1") as first, client_from(app, "10.0.0.2") as second:
        assert [first.get("/api/locate?lon=24.94&lat=60.17").status_code for _ in range(3)] == [200] * 3
        refused = first.get("/api/locate?lon=24.94&lat=60.17")
        assert refused.status_code == 429 and refused.json()["code"] == "request.rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
        assert second.get("/api/locate?lon=24.94&lat=60.17").status_code == 200  # its own bucket
        assert first.get("/healthz").status_code == 200  # probes are never limited
        assert first.get("/tiles/grids.json").status_code == 429  # one bucket for every read


def test_a_token_has_its_own_bucket_wherever_it_calls_from(
    db: Database, planner_headers: dict[str, str]
) -> None:
    app = limited_app(db, read_burst=2, write_burst=1)
    with client_from(app, "10.0.1.1") as office, client_from(app, "10.0.1.2") as home:
        assert office.get("/api/stations/vocabulary").status_code == 200
        assert office.get("/api/stations/vocabulary").status_code == 200
        assert office.get("/api/stations/vocabulary").status_code == 429  # the address is spent ...
        for _ in range(2):  # ... its token's bucket is not
            assert office.get("/api/stations/vocabulary", headers=planner_headers).status_code == 200
        assert home.get("/api/stations/vocabulary", headers=planner_headers).status_code == 429
        # writes have their own bucket: one allowed, then 429 before the write is even looked at
        facility = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [24.94, 60.17]},
            "properties": {"name": "限流测试", "category": "canteen"},
        }
        assert home.post("/api/facilities", json=facility, headers=planner_headers).status_code == 201
        again = home.post("/api/facilities", json=facility, headers=planner_headers)
        assert again.status_code == 429 and "retry-after" in again.headers


def test_expensive_requests_have_a_small_bucket(db: Database, planner_headers: dict[str, str]) -> None:
    app = limited_app(db, expensive_burst=2)
    empty = {"type": "FeatureCollection", "features": []}
    with client_from(app, "10.0.2.1") as http:
        statuses = [
            http.post("/api/grids/validate", json=empty, headers=planner_headers).status_code
            for _ in range(3)
        ]
        assert statuses == [200, 200, 429]
        assert http.get("/api/stations/vocabulary", headers=planner_headers).status_code == 200  # reads go on


def test_invalid_tokens_back_off_without_locking_out_the_owner(
    db: Database, planner_headers: dict[str, str]
) -> None:
    app = limited_app(db, bad_token_burst=3)
    guesses = [{"Authorization": f"Bearer gs_guess-{i}"} for i in range(5)]
    with client_from(app, "10.0.3.1") as attacker, client_from(app, "10.0.3.2") as elsewhere:
        assert [attacker.get("/api/auth/whoami", headers=g).status_code for g in guesses[:3]] == [401] * 3
        slowed = attacker.get("/api/auth/whoami", headers=guesses[3])
        assert slowed.status_code == 429 and slowed.json()["code"] == "auth.too_many_invalid_tokens"
        assert int(slowed.headers["retry-after"]) >= 1
        # the valid token's owner behind the same address still gets in, and anonymous reads go on
        me = attacker.get("/api/auth/whoami", headers=planner_headers)
        assert me.status_code == 200 and me.json()["role"] == "planner"
        assert attacker.get("/api/stations/vocabulary").status_code == 200
        # another address is not punished for it
        assert elsewhere.get("/api/auth/whoami", headers=guesses[4]).status_code == 401


def test_rate_limits_keep_the_open311_error_shape(db: Database) -> None:
    app = limited_app(db, read_burst=1)
    with client_from(app, "10.0.4.1") as http:
        assert http.get("/open311/v2/services.json").status_code == 200
        refused = http.get("/open311/v2/services.json")
        assert refused.status_code == 429 and "retry-after" in refused.headers
        assert refused.json()[0]["code"] == 429


def test_limits_can_be_turned_off(db: Database) -> None:
    """For benchmarks: GEO_SERVICE_LIMITS_ENABLED=false."""
    app = limited_app(db, enabled=False, read_burst=1, bad_token_burst=1)
    with client_from(app, "10.0.5.1") as http:
        assert {http.get("/api/stations/vocabulary").status_code for _ in range(5)} == {200}
        bad = {"Authorization": "Bearer gs_nope"}
        assert {http.get("/api/auth/whoami", headers=bad).status_code for _ in range(3)} == {401}


@pytest.fixture
def gated_app(db: Database) -> Iterator[tuple[FastAPI, threading.Event, threading.Event]]:
    """An app with one expensive slot and an extra expensive route that holds it until told to finish."""
    app = limited_app(db, expensive_concurrency=1)
    entered, release = threading.Event(), threading.Event()

    @app.post("/api/test-gate/import")
    def gate() -> dict[str, int]:
        entered.set()
        release.wait(timeout=60)
        return {"running": app.state.rate_limiter.running}

    yield app, entered, release
    release.set()


def test_expensive_work_is_capped_not_queued(gated_app, planner_headers: dict[str, str]) -> None:
    app, entered, release = gated_app
    with running_server(app) as base:
        answers: list[httpx.Response] = []
        first = threading.Thread(
            target=lambda: answers.append(httpx.post(f"{base}/api/test-gate/import", timeout=60))
        )
        first.start()
        assert entered.wait(timeout=30)
        # the slot is taken: the next expensive request is refused at once, whoever sends it
        busy = httpx.post(
            f"{base}/api/grids/validate",
            json={"type": "FeatureCollection", "features": []},
            headers=planner_headers,
            timeout=30,
        )
        assert busy.status_code == 503 and busy.json()["code"] == "request.busy"
        assert int(busy.headers["retry-after"]) >= 1
        assert httpx.get(f"{base}/api/stations/vocabulary", timeout=30).status_code == 200  # reads go on
        release.set()
        first.join(timeout=60)
        assert answers[0].status_code == 200 and answers[0].json() == {"running": 1}
        # the slot comes back, also after a request that failed
        bad = httpx.post(
            f"{base}/api/grids/validate",
            content=b"{",
            headers={**planner_headers, "content-type": "application/json"},
            timeout=30,
        )
        assert bad.status_code == 400
        ok = httpx.post(
            f"{base}/api/grids/validate",
            json={"type": "FeatureCollection", "features": []},
            headers=planner_headers,
            timeout=30,
        )
        assert ok.status_code == 200
    assert app.state.rate_limiter.running == 0
