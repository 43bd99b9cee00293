"""Chinese addresses against the real Helsinki extract (its Chinese names are in traditional characters) and
the synthetic grids over it: the case of issue 12, precision and grid of every candidate, pinyin, the index
following its sources, and the refusal rule on every intake path."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from geo_service.db.pool import Database
from tests.incidents.areas import GRID_1, GRID_2, POINTS

pytestmark = pytest.mark.usefixtures("areas", "chinese_places")
PLACES = [
    ("address", "望海路18号", *POINTS["grid_1"]),
    ("address", "望海路19号", 24.9335, 60.1652),
    ("street", "望海路", 24.9350, 60.1660),
    ("building", "锦绣花园小区3栋", *POINTS["grid_2"]),
    ("poi", "锦绣花园小区", 24.9415, 60.1648),
    ("poi", "人民醫院", *POINTS["grid_4"]),  # stored in traditional characters
    ("place:suburb", "望海区", 24.9450, 60.1700),
]


@pytest.fixture(scope="module")
def chinese_places(db: Database) -> None:
    with db.cursor() as cur:
        cur.executemany(
            "INSERT INTO gazetteer (kind, name, geom) VALUES (%s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
            PLACES,
        )


def _candidates(client: TestClient, q: str, **headers: str) -> list[dict]:
    response = client.get("/api/geocode", params={"q": q}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["candidates"]


def _incidents(db: Database) -> int:
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(*) FROM incidents")
        return cur.fetchone()[0]


def test_station_in_traditional_characters_is_found_in_simplified(
    client: TestClient, dispatcher_headers: dict, db: Database
) -> None:
    """Issue 12: the map has the railway station as 赫爾辛基中央車站 (OSM name:zh); the dispatcher types
    simplified characters. It must come first, as the POI it is, and the incident must be filed there."""
    best = _candidates(client, "赫尔辛基中央车站")[0]
    assert (best["name"], best["precision"], best["score"]) == ("赫爾辛基中央車站", "poi", 1.0)
    assert best["grid_code"] is not None  # the station lies inside the synthetic grids
    response = client.post(
        "/api/incidents",
        json={"address": "赫尔辛基中央车站", "category": "E0102"},
        headers=dispatcher_headers,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["grid_code"] == best["grid_code"]
    assert (created["lon"], created["lat"]) == pytest.approx((best["lon"], best["lat"]))
    assert created["geocode"]["name"] == "赫爾辛基中央車站" and created["geocode"]["precision"] == "poi"


def test_a_city_alone_is_refused_never_filed_at_its_centre(
    client: TestClient, dispatcher_headers: dict, db: Database
) -> None:
    before = _incidents(db)
    for address in ("赫尔辛基", "赫爾辛基"):
        response = client.post(
            "/api/incidents", json={"address": address, "category": "E0102"}, headers=dispatcher_headers
        )
        assert response.status_code == 409, response.text
        body = response.json()
        assert body["code"] == "geocode.too_coarse"
        assert body["message"].startswith(f"地址“{address}”只能定位到城市")
        first = body["candidates"][0]
        assert first["precision"] == "city" and first["kind"] == "place:city" and first["kind_name"] == "城市"
        assert {"lon", "lat", "grid_code", "precision", "score", "name"} <= set(first)
    assert _incidents(db) == before


def test_every_candidate_says_how_precise_it_is_and_where_it_lands(client: TestClient) -> None:
    by_name = {c["name"]: c for c in _candidates(client, "望海路18号")}
    assert (
        by_name["望海路18号"]["precision"] == "house_number" and by_name["望海路18号"]["grid_code"] == GRID_1
    )
    assert by_name["望海路"]["precision"] == "street"
    assert _candidates(client, "锦绣花园3栋")[0]["precision"] == "building"  # 小区 left out
    assert _candidates(client, "锦绣花园小区3栋")[0]["grid_code"] == GRID_2
    area = _candidates(client, "望海区")[0]
    assert area["precision"] == "area" and area["kind_name"] == "城区"
    grid = next(c for c in _candidates(client, "一网格") if c["source"] == "area")
    assert grid["precision"] == "area" and grid["kind_name"] == "网格" and grid["grid_code"] == GRID_1
    assert _candidates(client, "望海区", **{"Accept-Language": "en"})[0]["kind_name"] == "district"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("望海路十八号", "望海路18号"),  # Chinese numerals
        ("望海路１８號", "望海路18号"),  # full-width digits, traditional 號
        ("广东省广州市天河区望海路18号", "望海路18号"),  # province, city and district in front
        ("望海路 18", "望海路18号"),  # no 号
        ("wanghailu 18 hao", "望海路18号"),  # full pinyin
        ("wang hai lu 18", "望海路18号"),
        ("忘海路18号", "望海路18号"),  # a character that sounds the same
        ("人民医院", "人民醫院"),  # simplified for traditional
        ("renminyiyuan", "人民醫院"),  # pinyin
        ("rmyy", "人民醫院"),  # initials
        ("人民医院门口", "人民醫院"),  # 门口: at the place
        ("锦绣花园小区3栋2单元1201室", "锦绣花园小区3栋"),  # unit and room: the building
        ("Kaivokattu 2", "Kaivokatu 2"),  # Latin script, a typo
    ],
)
def test_how_callers_write_it(client: TestClient, query: str, expected: str) -> None:
    assert _candidates(client, query)[0]["name"] == expected


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ("望海路", "geocode.too_coarse"),  # a street
        ("望海路99号", "geocode.too_coarse"),  # a number the street does not have: the street is all we know
        ("望海区", "geocode.too_coarse"),  # an area
        ("一网格", "geocode.too_coarse"),  # a grid is an area too
        ("火星基地", "geocode.no_match"),
    ],
)
def test_coarse_addresses_are_refused(
    client: TestClient, dispatcher_headers: dict, db: Database, address: str, code: str
) -> None:
    before = _incidents(db)
    response = client.post(
        "/api/incidents", json={"address": address, "category": "E0102"}, headers=dispatcher_headers
    )
    assert response.status_code == 409 and response.json()["code"] == code, response.text
    assert all(c["precision"] in ("street", "area", "city") for c in response.json()["candidates"][:1])
    assert _incidents(db) == before


def test_index_follows_its_sources(client: TestClient, db: Database) -> None:
    """Facilities, areas and gazetteer rows written by anyone (API, SQL, imports) are searchable at once."""
    with db.cursor() as cur:
        cur.execute(
            """INSERT INTO facilities (name, category, source, geom)
               VALUES ('長者飯堂', 'canteen', 'planner', ST_SetSRID(ST_MakePoint(%s, %s), 4326)) RETURNING id""",
            POINTS["grid_1"],
        )
        facility_id = cur.fetchone()["id"]
    found = _candidates(client, "长者饭堂")[0]
    assert (found["name"], found["kind"], found["precision"]) == ("長者飯堂", "facility", "poi")
    with db.cursor() as cur:
        cur.execute("UPDATE facilities SET name = '长者食堂' WHERE id = %s", (facility_id,))
    assert _candidates(client, "长者食堂")[0]["name"] == "长者食堂"
    assert all(c["name"] != "長者飯堂" for c in _candidates(client, "长者饭堂"))
    with db.cursor() as cur:
        cur.execute("UPDATE facilities SET deleted_at = now() WHERE id = %s", (facility_id,))
    assert all(c["name"] != "长者食堂" for c in _candidates(client, "长者食堂"))
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(*) FROM geocode_names WHERE name_key IS NULL")
        assert cur.fetchone()[0] == 0  # every name keyed


def test_csv_rows_with_only_an_address_follow_the_rule(
    client: TestClient, dispatcher_headers: dict, db: Database
) -> None:
    text = "external_id,address,category,description\nADDR-1,望海路18号,E0102,好地址\nADDR-2,望海路,E0102,只有路名\n"
    before = _incidents(db)
    atomic = client.post(
        "/api/incidents/import",
        content=text.encode(),
        headers={**dispatcher_headers, "Content-Type": "text/csv"},
    )
    assert atomic.status_code == 422 and atomic.json()["created"] == 0
    [error] = atomic.json()["errors"]
    assert error["row"] == 3 and error["code"] == "geocode.too_coarse"
    assert (
        error["message"].startswith("地址“望海路”只能定位到道路")
        and error["candidates"][0]["precision"] == "street"
    )
    assert _incidents(db) == before
    partial = client.post(
        "/api/incidents/import",
        params={"atomic": "false"},
        content=text.encode(),
        headers={**dispatcher_headers, "Content-Type": "text/csv", "Accept-Language": "en"},
    )
    assert partial.status_code == 200 and partial.json()["created"] == 1
    assert partial.json()["errors"][0]["message"].startswith("The address '望海路' only names a street")
    row_id = partial.json()["rows"][0]["id"]
    assert client.get(f"/api/incidents/{row_id}", headers=dispatcher_headers).json()["grid_code"] == GRID_1
