"""Hostile input gets a clear 4xx and changes nothing (issue 11, points 3 and 10): NUL characters anywhere in
the request, numbers and dates beyond what the database stores, JSON nested a thousand deep, lax types,
over-long names, undeclared methods, oversized chunked bodies — and the 4xx bodies are the ones
``/openapi.json`` declares."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import jsonschema
import pytest
from fastapi.testclient import TestClient

from geo_service.api import params
from geo_service.api.app import create_app
from geo_service.db.pool import Database
from geo_service.settings import APISettings
from tests.grids.conftest import feature, hierarchy, origin_for, rect

PREFIX = "130101"  # a district of this module's own
COMMUNITY = f"{PREFIX}001001"
HERE = origin_for(PREFIX)
DEEP = b"[" * 100_000 + b"]" * 100_000


def _count(db: Database, table: str) -> int:
    with db.cursor(dict_rows=False) as cur:
        cur.execute(f"SELECT count(*) FROM {table}")  # table names are this module's constants
        return int(cur.fetchone()[0])


def _error_schema(client: TestClient) -> dict[str, Any]:
    """The ErrorBody schema of /openapi.json, with the components it refers to."""
    document = client.get("/openapi.json").json()
    return {**document["components"]["schemas"]["ErrorBody"], "components": document["components"]}


def _assert_documented(client: TestClient, response: Any, path: str, method: str) -> None:
    """The body matches the schema /openapi.json declares for this status (4XX / 422)."""
    document = client.get("/openapi.json").json()
    responses = document["paths"][path][method]["responses"]
    declared = responses.get(str(response.status_code)) or responses[f"{str(response.status_code)[0]}XX"]
    schema = declared["content"]["application/json"]["schema"]
    jsonschema.validate(response.json(), {**schema, "components": document["components"]})


@pytest.fixture(scope="module")
def community(client: TestClient, planner_headers: dict[str, str]) -> str:
    response = client.post(
        "/api/grids/import",
        json={"type": "FeatureCollection", "features": hierarchy(PREFIX)},
        headers=planner_headers,
    )
    assert response.status_code == 200, response.text
    return COMMUNITY


# -- NUL characters --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/grids?parent_code=a%00b",  # query
        "/api/grids/a%00b",  # path
        "/api/grids/a%00b/history",
        "/api/locate?lon=24.9&lat=60.1&crs=wgs%0084",
        "/api/geocode?q=%00",
        "/ogc/collections/grids/items?code=%00",
    ],
)
def test_nul_in_path_or_query_is_422(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "input.nul_in_url"


def test_nul_in_an_open311_query_is_an_open311_error(client: TestClient) -> None:
    response = client.get("/open311/v2/requests.json?status=open%00")
    assert response.status_code == 400
    assert [set(e) for e in response.json()] == [{"code", "description"}] and response.json()[0][
        "code"
    ] == 400


def test_nul_in_json_fields_is_422_and_nothing_is_written(
    client: TestClient,
    db: Database,
    community: str,
    planner_headers: dict[str, str],
    dispatcher_headers: dict[str, str],
) -> None:
    areas, incidents = _count(db, "areas"), _count(db, "incidents")
    grid = feature(f"{community}001", rect(0, 0, 200, 200, HERE), parent=community, name="a\x00b")
    for path in ("/api/grids", "/api/grids/validate", "/api/grids/import"):
        response = client.post(path, json=grid, headers=planner_headers)
        assert response.status_code == 422 and response.json()["code"] == "input.nul_character", response.text
    workers = feature(
        f"{community}002", rect(0, 0, 200, 200, HERE), parent=community, workers=[{"name": "张\x00三"}]
    )
    assert client.post("/api/grids", json=workers, headers=planner_headers).status_code == 422
    merge = client.post(
        f"/api/grids/{community}/merge",
        json={"absorb": ["x\x00y"]},
        headers={**planner_headers, "If-Match": '"1"'},
    )
    assert merge.status_code == 422 and merge.json()["code"] == "grid.merge_bad_code"
    incident = {"lon": 24.94, "lat": 60.17, "category": "E0102", "description": "bad\x00text"}
    response = client.post("/api/incidents", json=incident, headers=dispatcher_headers)
    assert response.status_code == 422, response.text
    station = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [24.94, 60.17]},
        "properties": {"name": "驿站\x00", "kind": "care_station"},
    }
    assert client.post("/api/stations", json=station, headers=planner_headers).status_code == 422
    assert (_count(db, "areas"), _count(db, "incidents")) == (areas, incidents)


# -- numbers and dates beyond the columns ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/incidents?offset=99999999999999999999",
        "/api/incidents?offset=2147483648",
        "/api/facilities?offset=99999999999999999999",
        "/ogc/collections/grids/items?offset=99999999999999999999",
        "/api/incidents/99999999999999999999",
        "/api/incidents/99999999999999999999/history",
        "/api/stations/99999999999999999999",
        "/api/facilities/99999999999999999999",
        "/api/stats/incidents?since=0001-01-01T00:00:00%2B14:00",
        "/api/stats/incidents?since=9999-12-31T23:59:59-14:00",
        "/api/grids/1?version=99999999999999999999",
    ],
)
def test_numbers_and_dates_beyond_the_columns_are_4xx(
    client: TestClient, admin_headers: dict[str, str], url: str
) -> None:
    response = client.get(url, headers=admin_headers)
    assert 400 <= response.status_code < 500, (url, response.status_code, response.text)
    assert response.json()["code"] != "internal.error"


def test_bounds_are_named(client: TestClient, admin_headers: dict[str, str]) -> None:
    offset = client.get("/api/incidents?offset=99999999999999999999", headers=admin_headers).json()
    assert offset["detail"][0]["loc"] == "query.offset" and "2147483647" in offset["detail"][0]["msg"]
    for path in ("/api/stations/", "/api/facilities/", "/api/incidents/"):
        row = client.get(f"{path}99999999999999999999", headers=admin_headers)
        assert row.status_code == 422 and "9223372036854775807" in row.json()["detail"][0]["msg"], path
    since = client.get("/api/stats/incidents?since=0001-01-01T00:00:00%2B14:00", headers=admin_headers).json()
    assert (
        since["detail"][0]["code"] == "validation.datetime_range" and "1900" in since["detail"][0]["message"]
    )


@pytest.mark.parametrize("key", ["households", "population"])
@pytest.mark.parametrize("value", [2**31, 2**63, 10**30, -1, 1.5, True, "many"])
def test_counts_beyond_the_column_or_not_counts(
    client: TestClient, db: Database, community: str, planner_headers: dict[str, str], key: str, value: Any
) -> None:
    areas = _count(db, "areas")
    grid = feature(f"{community}003", rect(0, 0, 200, 200, HERE), parent=community, **{key: value})
    created = client.post("/api/grids", json=grid, headers=planner_headers)
    validated = client.post(
        "/api/grids/validate", json={"type": "FeatureCollection", "features": [grid]}, headers=planner_headers
    )
    for response in (created, validated):
        assert response.status_code == 422, response.text
        problems = [p for p in response.json()["detail"] if p["problem"] != "gap"]  # the dry run adds gaps
        assert [p["problem"] for p in problems] == ["invalid_property"]
        assert "2147483647" in problems[0]["message"]
    assert _count(db, "areas") == areas  # true was stored as 1 household before


# -- JSON nested a thousand deep ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/grids",
        "/api/grids/import",
        "/api/grids/validate",
        "/api/siting",
        "/api/locate/batch",
        "/api/incidents",
        "/api/stations",
        f"/api/grids/{COMMUNITY}",
    ],
)
def test_deeply_nested_json_is_4xx(client: TestClient, admin_headers: dict[str, str], path: str) -> None:
    headers = {**admin_headers, "Content-Type": "application/json", "If-Match": '"1"'}
    method = "PUT" if path.endswith(COMMUNITY) else "POST"
    response = client.request(method, path, content=DEEP, headers=headers)
    assert 400 <= response.status_code < 500, (path, response.status_code, response.text)


# -- grid codes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["网格1", "grid 1", "a/b", "Ā-1", "validate", "x" * 65, "emoji🙂"])
def test_codes_outside_the_rule_are_422_everywhere(
    client: TestClient, db: Database, community: str, planner_headers: dict[str, str], code: str
) -> None:
    """Non-Latin-1 codes were saved, then answered with 500 (Location cannot carry them); now every write
    route refuses them alike, and nothing is written."""
    areas = _count(db, "areas")
    grid = feature(code, rect(0, 0, 200, 200, HERE), parent=community)
    collection = {"type": "FeatureCollection", "features": [grid]}
    answers = [
        client.post("/api/grids", json=grid, headers=planner_headers),
        client.post("/api/grids/import", json=collection, headers=planner_headers),
        client.post("/api/grids/validate", json=collection, headers=planner_headers),
    ]
    for response in answers:
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "grid.bad_code", response.text
        assert response.json()["detail"][0]["problem"] == "bad_code"
    assert _count(db, "areas") == areas
    assert client.get("/api/grids/网格1").status_code == 404  # a path parameter: no 500 either


@pytest.mark.parametrize("code", ["grid_2", "D01-S02", "110105001001009", "v1.2"])
def test_working_codes_are_allowed_and_located(
    client: TestClient, community: str, planner_headers: dict[str, str], code: str
) -> None:
    x0 = 210 + 60 * ["grid_2", "D01-S02", "110105001001009", "v1.2"].index(code)
    grid = feature(code, rect(x0, 300, x0 + 50, 350, HERE), parent=community)
    response = client.post("/api/grids", json=grid, headers=planner_headers)
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/api/grids/{code}"
    assert client.get(response.headers["Location"]).json()["properties"]["code"] == code


def test_location_of_an_area_stored_before_the_code_rule(
    client: TestClient, db: Database, community: str, planner_headers: dict[str, str]
) -> None:
    """An area whose code predates the rule (written straight to the table) can still be read and updated;
    its Location header is percent-encoded instead of failing with 500."""
    with db.cursor() as cur:
        cur.execute(
            """INSERT INTO areas (code, name, level, parent_code, version, geom)
               VALUES (%s, %s, 'grid', %s, 1, ST_Multi(ST_GeomFromGeoJSON(%s)))""",
            ("旧网格", "旧网格", community, json.dumps(rect(700, 700, 800, 800, HERE))),
        )
    saved = client.put(
        "/api/grids/旧网格",
        json={"type": "Feature", "properties": {"name": "改名"}},
        headers={**planner_headers, "If-Match": '"1"'},
    )
    assert saved.status_code == 200, saved.text
    assert saved.headers["Location"] == "/api/grids/%E6%97%A7%E7%BD%91%E6%A0%BC"
    assert client.get(saved.headers["Location"]).json()["properties"]["name"] == "改名"
    guide = client.get("/api/areas/旧网格/guide-map.png")  # its file name travels in Content-Disposition
    assert guide.status_code < 500, guide.text[:300]


def test_file_names_with_any_code_fit_a_header() -> None:
    value = params.content_disposition("inline", "guide-map-旧网格.png")
    value.encode("latin-1")  # what an HTTP header can carry
    assert unquote(value.split("filename*=UTF-8''")[1]) == "guide-map-旧网格.png"


def test_validate_refuses_what_import_refuses(
    client: TestClient, community: str, planner_headers: dict
) -> None:
    bad = [
        feature(f"{community}010", rect(0, 0, 100, 100, HERE), parent=community, households=True),
        feature("网格", rect(100, 0, 200, 100, HERE), parent=community),
        feature(f"{community}011", rect(200, 0, 300, 100, HERE), parent=community, name="长" * 201),
        feature(f"{community}012", {"type": "Point", "coordinates": [1, 2]}, parent=community),
        feature(f"{community}013", rect(300, 0, 400, 100, HERE), parent="NOPE"),
    ]
    collection = {"type": "FeatureCollection", "features": bad}
    imported = client.post("/api/grids/import", json=collection, headers=planner_headers)
    validated = client.post("/api/grids/validate", json=collection, headers=planner_headers)
    assert imported.status_code == validated.status_code == 422

    def refused(response: Any) -> set[tuple[int, str]]:
        return {(p.get("feature"), p["problem"]) for p in response.json()["detail"] if p["problem"] != "gap"}

    assert refused(imported) == refused(validated) and len(refused(imported)) == len(bad)


# -- contract: strict types, names, 405, error bodies, 413 ------------------------------------------------


def test_lax_coercion_is_refused(client: TestClient, dispatcher_headers: dict[str, str]) -> None:
    response = client.post(
        "/api/incidents", json={"lon": 24.94, "lat": True, "category": "E0102"}, headers=dispatcher_headers
    )
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == "lat"
    station = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [24.94, True]},
        "properties": {"name": "x", "kind": "care_station"},
    }
    assert client.post("/api/stations", json=station, headers=dispatcher_headers).status_code in (403, 422)


def test_a_long_name_is_refused_not_cut(client: TestClient, community: str, planner_headers: dict) -> None:
    grid = feature(f"{community}020", rect(0, 400, 100, 500, HERE), parent=community, name="名" * 1_000_000)
    response = client.post("/api/grids", json=grid, headers={**planner_headers, "Accept-Language": "en"})
    assert response.status_code == 422 and response.json()["code"] == "grid.invalid_property.name_too_long"
    assert "1000000" in response.json()["message"] and "200" in response.json()["message"]
    assert client.get(f"/api/grids/{community}020").status_code == 404


def _concrete(path: str) -> str:
    return (
        path.replace("{code}", "1")
        .replace("{fmt}", "json")
        .replace("{z}", "1")
        .replace("{x}", "1")
        .replace("{y}", "1")
        .replace("{path}", "x.js")
    )


def test_undeclared_methods_are_405_with_allow(client: TestClient) -> None:
    """Every documented path answers the methods it does not serve with 405 and the ones it does in Allow
    (PUT /api/grids/validate and DELETE /api/stations/nearest used to answer 422 through {code} / {id})."""
    document = client.get("/openapi.json").json()
    checked = 0
    for path, operations in document["paths"].items():
        concrete = _concrete(path)
        for name in ("station_id", "facility_id", "incident_id", "request_id", "feature_id", "media_id"):
            concrete = concrete.replace("{" + name + "}", "1")
        for name in ("layers", "page", "collection_id", "profile_id", "service_code"):
            concrete = concrete.replace("{" + name + "}", "grids")
        concrete = re.sub(r"\{[a-z_]+\}", "x", concrete)
        declared = {m.upper() for m in operations}
        for method in {"GET", "POST", "PUT", "DELETE", "PATCH"} - declared:
            response = client.request(method, concrete)
            assert response.status_code == 405, (method, concrete, response.status_code, response.text[:200])
            allowed = set(response.headers["Allow"].replace(" ", "").split(","))
            assert declared <= allowed and method not in allowed, (method, concrete, allowed)
            checked += 1
    assert checked > 200


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("get", "/api/locate", {"params": {"lon": "east", "lat": 1}}),
        ("post", "/api/siting", {"json": {"k": -1, "minutes": 5, "method": "mclp"}}),
        ("get", "/api/incidents", {"params": {"limit": 0}}),
        ("post", "/api/grids/validate", {"json": {"type": "FeatureCollection", "features": [{"type": "x"}]}}),
        ("get", "/api/grids/no-such-code", {}),
        ("put", "/api/grids/validate", {}),
        ("post", "/api/grids/import", {"content": b"{", "headers": {"Content-Type": "application/json"}}),
    ],
)
def test_error_bodies_match_the_published_schema(
    client: TestClient, admin_headers: dict[str, str], method: str, path: str, kwargs: dict[str, Any]
) -> None:
    kwargs = {**kwargs, "headers": {**admin_headers, **kwargs.get("headers", {})}}
    response = client.request(method, path, **kwargs)
    assert 400 <= response.status_code < 500
    document_path = "/api/grids/{code}" if path.startswith("/api/grids/no-") else path
    if response.status_code == 405:
        document_path, method = "/api/grids/validate", "post"
    _assert_documented(client, response, document_path, method)
    if response.json()["code"] == "request.validation":
        problem = response.json()["detail"][0]
        assert isinstance(problem["loc"], str) and {"msg", "type", "code", "message"} <= set(problem)
    jsonschema.validate(response.json(), _error_schema(client))


@pytest.fixture
def small_body_client(db: Database) -> Iterator[TestClient]:
    app = create_app(db=db, api_settings=APISettings(max_body_bytes=64 * 1024))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_chunked_body_over_the_limit_is_413(small_body_client: TestClient, planner_headers: dict) -> None:
    """A body streamed without Content-Length past the limit gets 413 (it got 400 from the body parser)."""

    def chunks() -> Iterator[bytes]:
        yield b'{"type": "FeatureCollection", "features": ['
        for _ in range(200):
            yield b'{"type": "Feature", "properties": {"name": "' + b"x" * 1000 + b'"}, "geometry": null},'
        yield b"]}"

    for path in ("/api/grids/import", "/api/siting", "/api/locate/batch"):
        response = small_body_client.post(
            path, content=chunks(), headers={**planner_headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 413, (path, response.status_code, response.text)
        assert response.json()["code"] == "request.too_large"
    declared = small_body_client.post(
        "/api/siting", content=b"x" * 70_000, headers={"Content-Type": "application/json"}
    )
    assert declared.status_code == 413
