"""Open311 details: attributes checked against the service definition, address_string under the intake's rule
(409, nothing written), the responsible unit by name, the discovery changeset from the data, and texts in the
negotiated language."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.clock import ManualClock
from geo_service.db.pool import Database
from geo_service.settings import IncidentSettings
from tests.conftest import auth_headers
from tests.incidents.areas import COMMUNITY_SE, POINTS

pytestmark = pytest.mark.usefixtures("areas")
BASE = "/open311/v2"
EN = {"Accept-Language": "en"}


def _token(headers: dict) -> str:
    return headers["Authorization"].split(" ", 1)[1]


def _form(headers: dict, point: str = "grid_1", **extra: str) -> dict[str, str]:
    lon, lat = POINTS[point]
    return {"api_key": _token(headers), "lat": str(lat), "long": str(lon), **extra}


def _count(db: Database) -> int:
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(*) FROM incidents")
        return cur.fetchone()[0]


def test_attributes_follow_the_service_definition(
    client: TestClient, dispatcher_headers: dict, db: Database
) -> None:
    definition = client.get(f"{BASE}/services/C0103.json").json()
    by_code = {a["code"]: a for a in definition["attributes"]}
    assert by_code["damage"]["required"] is True and by_code["damage"]["datatype"] == "singlevaluelist"
    assert {v["key"]: v["name"] for v in by_code["damage"]["values"]}["missing"] == "缺失"
    english = client.get(f"{BASE}/services/C0103.json", headers=EN).json()
    assert {a["code"]: a for a in english["attributes"]}["damage"]["values"][0]["name"] == "Missing"
    before = _count(db)
    for bad, fragment in (
        ({}, "必须填写属性 damage"),  # required, missing
        ({"attribute[damage]": "stolen"}, "不在可选项"),  # not in the list
        ({"attribute[damage]": "missing", "attribute[colour]": "red"}, "没有属性"),  # not defined
        ({"attribute[damage]": "missing", "attribute[component_id]": "12-34"}, "16 位数字"),
    ):
        response = client.post(
            f"{BASE}/requests.json", data=_form(dispatcher_headers, service_code="C0103", **bad)
        )
        assert response.status_code == 400, (bad, response.text)
        [error] = response.json()
        assert error["code"] == 400 and fragment in error["description"], error
    assert _count(db) == before  # nothing written
    good = client.post(
        f"{BASE}/requests.json",
        data=_form(
            dispatcher_headers,
            service_code="C0103",
            **{"attribute[damage]": "missing", "attribute[component_id]": "1101010300030001"},
        ),
    )
    assert good.status_code == 201, good.text
    created = client.get(f"/api/incidents/{good.json()[0]['service_request_id']}", headers=dispatcher_headers)
    assert created.json()["attributes"] == {"damage": "missing", "component_id": "1101010300030001"}
    # a multi-value list: attribute[code][]=a&attribute[code][]=b
    lon, lat = POINTS["grid_2"]
    multi = client.post(
        f"{BASE}/requests.json",
        content=f"api_key={_token(dispatcher_headers)}&service_code=C0105&lat={lat}&long={lon}"
        "&attribute[fault][]=dark&attribute[fault][]=flicker".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert multi.status_code == 201, multi.text
    stored = client.get(f"/api/incidents/{multi.json()[0]['service_request_id']}", headers=dispatcher_headers)
    assert stored.json()["attributes"] == {"fault": ["dark", "flicker"]}


def test_address_string_follows_the_intake_rule(
    client: TestClient, dispatcher_headers: dict, db: Database
) -> None:
    with db.cursor() as cur:
        cur.executemany(
            "INSERT INTO gazetteer (kind, name, geom) VALUES (%s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
            [("address", "望江路8号", *POINTS["grid_2"]), ("street", "望江路", *POINTS["grid_1"])],
        )
    key = _token(dispatcher_headers)
    before = _count(db)
    coarse = client.post(
        f"{BASE}/requests.json", data={"api_key": key, "service_code": "E0102", "address_string": "望江路"}
    )
    assert coarse.status_code == 409, coarse.text
    [error] = coarse.json()
    assert set(error) == {"code", "description"} and error["code"] == 409
    assert "只能定位到道路" in error["description"] and "候选地点" in error["description"]
    xml = client.post(
        f"{BASE}/requests.xml",
        data={"api_key": key, "service_code": "E0102", "address_string": "望江路"},
        headers=EN,
    )
    assert xml.status_code == 409 and b"<errors><error><code>409</code>" in xml.content
    assert b"only names a street" in xml.content
    assert _count(db) == before  # never filed at the street's middle
    traditional = client.post(
        f"{BASE}/requests.json",
        data={"api_key": key, "service_code": "E0102", "address_string": "望江路８號"},
    )
    assert traditional.status_code == 201, traditional.text
    request_id = traditional.json()[0]["service_request_id"]
    assert client.get(f"/api/incidents/{request_id}", headers=dispatcher_headers).json()["geocode"][
        "name"
    ] == ("望江路8号")


def test_agency_responsible_names_the_unit(client: TestClient, dispatcher_headers: dict) -> None:
    created = client.post(
        f"{BASE}/requests.json", data=_form(dispatcher_headers, "community_only", service_code="E0102")
    )
    request = client.get(f"{BASE}/requests/{created.json()[0]['service_request_id']}.json").json()[0]
    assert request["agency_responsible"] == "东南社区"  # 属地兜底: the community COMMUNITY_SE
    assert COMMUNITY_SE not in request["agency_responsible"]


def test_services_in_the_negotiated_language(client: TestClient) -> None:
    zh = {s["service_code"]: s for s in client.get(f"{BASE}/services.json").json()}
    en = {s["service_code"]: s for s in client.get(f"{BASE}/services.json", headers=EN).json()}
    assert zh["E0102"]["service_name"] == "暴露垃圾" and zh["E0102"]["group"] == "市容环境"
    assert zh["E0102"]["description"] == "暴露垃圾（事件 · 市容环境，E0102）"
    assert en["E0102"]["service_name"] == "Exposed rubbish"
    assert en["E0102"]["description"] == "Exposed rubbish (event · City appearance and environment, E0102)"
    assert zh["C0103"]["metadata"] is True


def test_discovery_changeset_is_the_last_change(db: Database) -> None:
    clock = ManualClock(datetime.fromisoformat("2031-03-04T10:20:30+08:00"))
    app = create_app(db=db, clock=clock, incident_settings=IncidentSettings(escalation_enabled=False))
    with TestClient(app) as client:
        headers = auth_headers(db, "dispatcher")
        created = client.post(f"{BASE}/requests.json", data=_form(headers, service_code="E0102"))
        assert created.status_code == 201, created.text
        clock.advance(hours=5)  # the wall clock moves on; the data does not
        discovery = client.get(f"{BASE}/discovery.json").json()
    assert discovery["changeset"] == "2031-03-04T10:20:30+08:00"
    assert discovery["endpoints"][0]["changeset"] == discovery["changeset"]
    assert "调度" in discovery["contact"]
