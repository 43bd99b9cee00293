"""POST /api/siting rejects bad input with a 422 that names the problem (and computes nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.db.pool import Database
from geo_service.settings import SitingSettings

CANDIDATES = [
    {"id": "a", "lon": 24.9410, "lat": 60.1690},
    {"id": "b", "lon": 24.9480, "lat": 60.1720},
]
DEMAND = [{"lon": 24.9420, "lat": 60.1700, "weight": 10}, {"lon": 24.9500, "lat": 60.1730, "weight": 5}]


def body(**changes: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "k": 1,
        "minutes": 5,
        "method": "mclp",
        "candidates": CANDIDATES,
        "demand": DEMAND,
        "fixed": [],
    }
    out.update(changes)
    return out


def detail_text(response: Any) -> str:
    assert response.status_code == 422, response.text
    return str(response.json()["detail"])


@pytest.fixture
def small_client(db: Database, planner_headers: dict[str, str]) -> Iterator[TestClient]:
    """A service whose siting limits were set at start-up (as the environment would set them) to tiny ones."""
    limits = SitingSettings(max_demand=3, max_candidates=2, max_minutes=20)
    app = create_app(db=db, siting_settings=limits)
    with TestClient(app, raise_server_exceptions=False, headers=planner_headers) as test_client:
        yield test_client


def test_negative_k(client: TestClient) -> None:
    text = detail_text(client.post("/api/siting", json=body(k=-1)))
    assert "'loc': 'k'" in text and "greater than or equal to 0" in text


def test_k_larger_than_the_candidates(client: TestClient) -> None:
    text = detail_text(client.post("/api/siting", json=body(k=3)))
    assert "k=3 is more than the 2 candidates" in text


def test_k_counts_only_candidates_that_are_not_fixed_sites(client: TestClient) -> None:
    fixed = [{"id": "s1", "lon": 24.9410, "lat": 60.1690}]  # where candidate "a" is
    text = detail_text(client.post("/api/siting", json=body(k=2, fixed=fixed)))
    assert "more than the 1 candidates (1 more coincide with fixed sites" in text
    same_id = [{"id": "b", "lon": 24.9300, "lat": 60.1600}]  # same id as candidate "b", elsewhere
    assert "1 candidates" in detail_text(client.post("/api/siting", json=body(k=2, fixed=same_id)))


def test_k_required_except_for_lscp(client: TestClient) -> None:
    request = body()
    del request["k"]
    assert "k is required for method 'mclp'" in detail_text(client.post("/api/siting", json=request))
    assert "k is required for method 'p-median'" in detail_text(
        client.post("/api/siting", json={**request, "method": "p-median"})
    )


def test_nan_and_out_of_range_coordinates(client: TestClient) -> None:
    raw = (
        '{"k": 1, "minutes": 5, "method": "mclp", "fixed": [], "candidates": [{"id": "a", "lon": 24.94, '
        '"lat": 60.17}], "demand": [{"lon": NaN, "lat": 60.17, "weight": 1}]}'
    )
    text = detail_text(client.post("/api/siting", content=raw, headers={"content-type": "application/json"}))
    assert "demand.0.lon" in text and "finite" in text
    swapped = [{"id": "a", "lon": 60.17, "lat": 124.94}]
    text = detail_text(client.post("/api/siting", json=body(candidates=swapped)))
    assert "candidates.0" in text and "swapped" in text
    text = detail_text(
        client.post("/api/siting", json=body(demand=[{"lon": 24.9, "lat": 60.1, "weight": -2}]))
    )
    assert "demand.0.weight" in text


def test_unknown_method(client: TestClient) -> None:
    text = detail_text(client.post("/api/siting", json=body(method="p-centre")))
    assert "'loc': 'method'" in text and "mclp" in text and "p-median" in text


def test_empty_demand_and_zero_weights(client: TestClient) -> None:
    assert "demand is empty" in detail_text(client.post("/api/siting", json=body(demand=[])))
    zero = [{"lon": 24.9420, "lat": 60.1700, "weight": 0}]
    assert "every demand weight is 0" in detail_text(client.post("/api/siting", json=body(demand=zero)))


def test_duplicate_ids(client: TestClient) -> None:
    twice = [*CANDIDATES, {"id": "a", "lon": 24.95, "lat": 60.17}]
    text = detail_text(client.post("/api/siting", json=body(candidates=twice)))
    assert "candidates: ids must be unique; repeated: a" in text


def test_minutes_and_time_limit(client: TestClient) -> None:
    assert "'loc': 'minutes'" in detail_text(client.post("/api/siting", json=body(minutes=0)))
    assert "GEO_SERVICE_SITING_MAX_MINUTES" in detail_text(client.post("/api/siting", json=body(minutes=600)))
    text = detail_text(client.post("/api/siting", json=body(time_limit_s=10_000)))
    assert "GEO_SERVICE_SITING_MAX_TIME_LIMIT_S" in text


def test_too_many_points(small_client: TestClient) -> None:
    client = small_client
    text = detail_text(client.post("/api/siting", json=body(demand=DEMAND * 2)))
    assert "too many demand points: 4, the limit is 3 (GEO_SERVICE_SITING_MAX_DEMAND)" in text
    three = [*CANDIDATES, {"id": "c", "lon": 24.95, "lat": 60.17}]
    assert "too many candidate sites: 3" in detail_text(
        client.post("/api/siting", json=body(candidates=three))
    )
    assert "the limit of 20" in detail_text(client.post("/api/siting", json=body(minutes=30)))
    # the defaults count too: the Helsinki extract has more residences than 3
    request = body()
    del request["demand"]
    assert "too many demand points" in detail_text(client.post("/api/siting", json=request))


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"k": True}, "k"),  # JSON true is not 1 site
        ({"k": 1.5}, "k"),
        ({"minutes": "5"}, "minutes"),
        ({"demand": [{"lon": 24.942, "lat": True, "weight": 1}]}, "demand.0.lat"),  # not latitude 1.0
        ({"demand": [{"lon": 24.942, "lat": 60.17, "weight": False}]}, "demand.0.weight"),
    ],
)
def test_no_lax_coercion(client: TestClient, change: dict[str, Any], loc: str) -> None:
    response = client.post("/api/siting", json=body(**change))
    assert response.status_code == 422, response.text
    assert loc in [p["loc"] for p in response.json()["detail"]]


def test_coordinate_problems_are_localised(client: TestClient) -> None:
    swapped = [{"id": "a", "lon": 60.17, "lat": 124.94}]
    problem = client.post("/api/siting", json=body(candidates=swapped)).json()["detail"][0]
    assert problem["code"] == "validation.coordinates_swapped" and "填反" in problem["message"]
