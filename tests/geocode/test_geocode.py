"""GET /api/geocode over OSM addresses, places, facilities, stations and areas; address-only intake."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from geo_service.db.pool import Database
from tests.documented import answered
from tests.incidents.areas import GRID_1, GRID_2, GRID_4

# Chinese addresses placed inside the synthetic grids (the Helsinki extract has Latin-script names only)
CHINESE = [
    ("address", "中山路12号", 24.9330, 60.1650),  # GRID_1
    ("address", "中山路21号", 24.9420, 60.1650),  # GRID_2
    ("address", "中山路120号", 24.9480, 60.1680),  # GRID_4
    ("street", "中山路", 24.9400, 60.1660),
    ("address", "中山北路12号", 24.9480, 60.1700),
    ("poi", "人民公园", 24.9420, 60.1630),
    ("poi", "幸福里小区", 24.9340, 60.1640),
    ("poi", "幸福里小区", 24.9490, 60.1700),  # the same name at two places: ambiguous
]


@pytest.fixture(scope="module")
def chinese_gazetteer(db: Database) -> None:
    with db.cursor() as cur:
        for kind, name, lon, lat in CHINESE:
            cur.execute(
                "INSERT INTO gazetteer (kind, name, geom) VALUES (%s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
                (kind, name, lon, lat),
            )


pytestmark = pytest.mark.usefixtures("areas", "chinese_gazetteer")


def _names(client: TestClient, q: str) -> list[str]:
    response = client.get("/api/geocode", params={"q": q})
    assert response.status_code == 200, response.text
    return [c["name"] for c in response.json()["candidates"]]


def test_short_chinese_address_ranks_first(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    body = answered(document, "/api/geocode", "get", client.get("/api/geocode", params={"q": "中山路12号"}))
    best = body["candidates"][0]
    assert (best["name"], best["kind"], best["score"]) == ("中山路12号", "address", 1.0)
    assert best["lon"] == pytest.approx(24.933) and best["lat"] == pytest.approx(60.165)
    names = [c["name"] for c in body["candidates"]]
    assert names.index("中山路") < names.index("中山路21号")  # the right street before a wrong number
    scores = [c["score"] for c in body["candidates"]]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("中山路十二号", "中山路12号"),  # Chinese numerals
        ("北京市东城区中山路12号", "中山路12号"),  # city and district in front
        ("中山路 12 号", "中山路12号"),  # spaces
        ("人民公园", "人民公园"),
        ("人民", "人民公园"),  # two characters: trigrams cannot, substring matching can
        ("Mannerheimintie 5", "Mannerheimintie 5"),  # Latin script, OSM addresses
        ("mannerheimintie", "Mannerheimintie"),  # a street
        ("Kaivokattu 2", "Kaivokatu 2"),  # a typo
        ("二网格", "二网格"),  # an area name
    ],
)
def test_fuzzy_queries(client: TestClient, query: str, expected: str) -> None:
    assert _names(client, query)[0] == expected


def test_sources_and_bad_queries(client: TestClient) -> None:
    kinds = {
        c["kind"]
        for c in client.get("/api/geocode", params={"q": "apteekki", "limit": 50}).json()["candidates"]
    }
    assert "facility" in kinds
    assert client.get("/api/geocode", params={"q": "  "}).status_code == 422
    assert client.get("/api/geocode", params={"q": "x" * 500}).status_code == 422
    assert client.get("/api/geocode").status_code == 422
    assert client.get("/api/geocode", params={"q": "%_\\'"}).status_code == 200  # LIKE wildcards are escaped


def test_address_only_intake_uses_the_best_candidate(client: TestClient, dispatcher_headers: dict) -> None:
    body = {"address": "中山路12号", "category": "E0102", "description": "门口垃圾"}
    body |= {"reporter": {"name": "王女士", "phone": "13800000000"}}
    response = client.post("/api/incidents", json=body, headers=dispatcher_headers)
    # member by member: the geocoding record and the reporter are described (they were "any object")
    created = answered(client.get("/openapi.json").json(), "/api/incidents", "post", response, 201)
    assert created["reporter"] == {"name": "王女士", "phone": "13800000000"}
    assert created["grid_code"] == GRID_1 and created["address"] == "中山路12号"
    assert created["geocode"]["name"] == "中山路12号" and created["geocode"]["score"] == 1.0
    assert created["note_codes"][0] == "incident.note.located_by_address"
    assert "按地址定位" in created["notes"][0] and "门牌号" in created["notes"][0]
    assert created["geocode"]["precision"] == "house_number" and created["geocode"]["grid_code"] == GRID_1
    other = client.post(
        "/api/incidents", json={**body, "address": "中山路二十一号"}, headers=dispatcher_headers
    )
    assert other.json()["grid_code"] == GRID_2
    far = client.post("/api/incidents", json={**body, "address": "中山路120号"}, headers=dispatcher_headers)
    assert far.json()["grid_code"] == GRID_4


def test_ambiguous_or_unknown_address_is_409_with_candidates(
    client: TestClient, dispatcher_headers: dict, db: Database
) -> None:
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(*) FROM incidents")
        before = cur.fetchone()[0]
    ambiguous = client.post(
        "/api/incidents", json={"address": "幸福里小区", "category": "E0102"}, headers=dispatcher_headers
    )
    assert ambiguous.status_code == 409
    assert ambiguous.json()["code"] == "geocode.ambiguous" and "ambiguous" in ambiguous.json()["detail"]
    assert [c["name"] for c in ambiguous.json()["candidates"][:2]] == ["幸福里小区", "幸福里小区"]
    unknown = client.post(
        "/api/incidents", json={"address": "火星路99号", "category": "E0102"}, headers=dispatcher_headers
    )
    assert unknown.status_code == 409 and "candidates" in unknown.json()
    other_road = client.post(
        "/api/incidents", json={"address": "中山北路21号", "category": "E0102"}, headers=dispatcher_headers
    )
    assert other_road.status_code == 409  # never placed on a look-alike road
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(*) FROM incidents")
        assert cur.fetchone()[0] == before
