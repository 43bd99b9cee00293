"""Open311 GeoReport v2 conformance, written from the published spec (http://wiki.open311.org/GeoReport_v2).

Checked for both formats: the resources and their field names, the form-encoded POST with api_key, the
query arguments of GET requests (service_request_id overriding the rest, service_code, status, the 90-day
window, the 1,000-request cap), the status values, w3 datetimes with a zone, and errors as
``[{code, description}]`` / ``<errors><error>`` with 404 / 403 / 400.
"""

from __future__ import annotations

import re
from datetime import datetime
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.clock import ManualClock
from geo_service.db.pool import Database
from geo_service.settings import IncidentSettings
from tests.conftest import auth_headers
from tests.documented import mismatches, response_schema
from tests.incidents.areas import GRID_1, POINTS

pytestmark = pytest.mark.usefixtures("areas")
BASE = "/open311/v2"
SERVICE_KEYS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
REQUEST_KEYS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
W3_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def _token(headers: dict) -> str:
    return headers["Authorization"].split(" ", 1)[1]


def _xml(response) -> ElementTree.Element:
    assert response.headers["content-type"].startswith("text/xml")
    assert "utf-8" in response.headers["content-type"].lower()
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ElementTree.fromstring(response.content)
    assert "}" not in root.tag  # no namespace
    return root


def _errors(response, status: int) -> None:
    """The spec's error document in either format, with the HTTP status."""
    assert response.status_code == status, response.text
    if response.headers["content-type"].startswith("text/xml"):
        root = _xml(response)
        assert root.tag == "errors"
        errors = [{"code": int(e.findtext("code")), "description": e.findtext("description")} for e in root]
    else:
        errors = response.json()
    assert isinstance(errors, list) and errors
    for error in errors:
        assert set(error) == {"code", "description"} and error["code"] == status and error["description"]


def _post(client: TestClient, fmt: str, **form: str):
    return client.post(f"{BASE}/requests.{fmt}", data=form)


def _new_request(client: TestClient, key: str, **form: str) -> str:
    lon, lat = POINTS["grid_1"]
    fields = {"api_key": key, "service_code": "E0102", "lat": str(lat), "long": str(lon), **form}
    response = _post(client, "json", **fields)
    assert response.status_code == 201, response.text
    return response.json()[0]["service_request_id"]


def test_discovery(client: TestClient) -> None:
    body = client.get(f"{BASE}/discovery.json").json()
    endpoint = body["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert {"text/xml", "application/json"} <= set(endpoint["formats"])
    assert endpoint["url"].endswith("/open311/v2")
    root = _xml(client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery" and root.find("endpoints/endpoint/specification") is not None


def test_service_list_json_and_xml(client: TestClient) -> None:
    response = client.get(f"{BASE}/services.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    services = response.json()
    assert isinstance(services, list) and len(services) > 20
    for service in services:
        assert set(service) == SERVICE_KEYS
        assert isinstance(service["metadata"], bool) and service["type"] in ("realtime", "batch", "blackbox")
    by_code = {s["service_code"]: s for s in services}
    assert by_code["E0102"]["service_name"] == "暴露垃圾" and by_code["E0102"]["group"] == "市容环境"
    assert by_code["C0101"]["metadata"] is True and by_code["E0102"]["metadata"] is False
    root = _xml(client.get(f"{BASE}/services.xml"))
    assert root.tag == "services" and {child.tag for child in root} == {"service"}
    xml_codes = [s.findtext("service_code") for s in root]
    assert xml_codes == [s["service_code"] for s in services]
    first = root[0]
    assert {child.tag for child in first} == SERVICE_KEYS
    assert first.findtext("metadata") in ("true", "false")


def test_service_definition(client: TestClient) -> None:
    definition = client.get(f"{BASE}/services/C0101.json").json()
    assert definition["service_code"] == "C0101"
    attribute = definition["attributes"][0]
    assert set(attribute) == {
        "variable",
        "code",
        "datatype",
        "required",
        "datatype_description",
        "order",
        "description",
        "values",
    }
    assert attribute["datatype"] in (
        "string",
        "number",
        "datetime",
        "text",
        "singlevaluelist",
        "multivaluelist",
    )
    assert attribute["order"] == 1 and attribute["variable"] is True
    root = _xml(client.get(f"{BASE}/services/C0101.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "C0101"
    assert root.find("attributes/attribute/code").text == "component_id"
    _errors(client.get(f"{BASE}/services/NOPE.json"), 404)
    _errors(client.get(f"{BASE}/services/NOPE.xml"), 404)
    _errors(client.get(f"{BASE}/services.yaml"), 404)


def test_post_request_form_encoded(client: TestClient, dispatcher_headers: dict) -> None:
    lon, lat = POINTS["grid_1"]
    form = {
        "api_key": _token(dispatcher_headers),
        "service_code": "C0102",
        "lat": str(lat),
        "long": str(lon),
        "address_string": "Mannerheimintie 5",
        "email": "caller@example.org",
        "first_name": "Li",
        "last_name": "Wei",
        "phone": "13800000000",
        "description": "污水井盖缺失，很危险",
        "media_url": "http://example.org/photo.jpg",
        "attribute[component_id]": "1101010300020001",
        "account_id": "acct-7",
        "device_id": "dev-1",
    }
    response = _post(client, "json", **form)
    assert response.status_code == 201, response.text
    created = response.json()
    assert isinstance(created, list) and len(created) == 1
    assert set(created[0]) == {"service_request_id", "service_notice", "account_id"}  # no token for realtime
    assert created[0]["account_id"] == "acct-7" and created[0]["service_notice"]
    incident = client.get(
        f"/api/incidents/{created[0]['service_request_id']}", headers=dispatcher_headers
    ).json()
    assert incident["source"] == "open311" and incident["grid_code"] == GRID_1
    assert incident["attributes"] == {"component_id": "1101010300020001"}
    assert incident["reporter"]["email"] == "caller@example.org" and incident["category"] == "C0102"
    assert incident["address"] == "Mannerheimintie 5"  # kept, while lat/long placed it

    root = _xml(_post(client, "xml", **form))
    assert root.tag == "service_requests" and root[0].tag == "request"
    assert root[0].findtext("service_request_id").isdigit()


def test_post_request_location_forms(client: TestClient, dispatcher_headers: dict, db: Database) -> None:
    key = _token(dispatcher_headers)
    with db.cursor() as cur:
        cur.execute(
            """INSERT INTO gazetteer (kind, name, geom) VALUES ('address', '测试路1号',
               ST_SetSRID(ST_MakePoint(%s, %s), 4326)) RETURNING id""",
            POINTS["grid_1"],
        )
        address_id = cur.fetchone()["id"]
    by_id = _post(client, "json", api_key=key, service_code="E0102", address_id=str(address_id))
    assert by_id.status_code == 201, by_id.text
    by_string = _post(client, "json", api_key=key, service_code="E0102", address_string="测试路1号")
    assert by_string.status_code == 201, by_string.text
    for response in (by_id, by_string):
        request_id = response.json()[0]["service_request_id"]
        full = client.get(f"{BASE}/requests/{request_id}.json", params={"api_key": key}).json()[0]
        assert full["address"] == "测试路1号"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_request_errors(
    client: TestClient, dispatcher_headers: dict, planner_headers: dict, fmt: str
) -> None:
    lon, lat = POINTS["grid_1"]
    good = {"api_key": _token(dispatcher_headers), "service_code": "E0102", "lat": str(lat), "long": str(lon)}
    _errors(_post(client, fmt, **{k: v for k, v in good.items() if k != "api_key"}), 403)
    _errors(_post(client, fmt, **{**good, "api_key": "gs_not-a-key"}), 403)
    _errors(_post(client, fmt, **{**good, "api_key": _token(planner_headers)}), 403)
    _errors(_post(client, fmt, **{k: v for k, v in good.items() if k != "service_code"}), 400)
    _errors(_post(client, fmt, **{**good, "service_code": "NOPE"}), 404)
    _errors(_post(client, fmt, **{k: v for k, v in good.items() if k not in ("lat", "long")}), 400)
    _errors(_post(client, fmt, **{k: v for k, v in good.items() if k != "long"}), 400)
    _errors(_post(client, fmt, **{**good, "lat": "north"}), 400)
    outside_lon, outside_lat = POINTS["outside"]
    _errors(_post(client, fmt, **{**good, "lat": str(outside_lat), "long": str(outside_lon)}), 400)
    _errors(_post(client, fmt, **{**good, "description": "x" * 4001}), 400)
    _errors(client.post(f"{BASE}/requests.{fmt}", json=good), 400)  # not form-encoded


def test_get_request_and_requests(client: TestClient, dispatcher_headers: dict) -> None:
    key = _token(dispatcher_headers)
    first = _new_request(client, key, description="第一件")
    second = _new_request(client, key, service_code="E0501", description="第二件")
    one = client.get(f"{BASE}/requests/{first}.json", params={"api_key": key}).json()
    assert isinstance(one, list) and len(one) == 1
    request = one[0]
    assert set(request) == REQUEST_KEYS
    assert request["service_request_id"] == first and request["status"] == "open"
    assert request["service_code"] == "E0102" and request["service_name"] == "暴露垃圾"
    assert request["lat"] == pytest.approx(POINTS["grid_1"][1]) and request["long"] == pytest.approx(
        POINTS["grid_1"][0]
    )
    assert request["agency_responsible"] == "一网格"  # the name of the unit that owns it (GRID_1)
    for field in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert W3_DATETIME.match(request[field]), request[field]
    xml = _xml(client.get(f"{BASE}/requests/{first}.xml"))
    assert xml.tag == "service_requests" and {c.tag for c in xml[0]} == REQUEST_KEYS
    assert xml[0].findtext("status") == "open"
    _errors(client.get(f"{BASE}/requests/999999.json"), 404)
    _errors(client.get(f"{BASE}/requests/999999.xml"), 404)

    # service_request_id (comma list) overrides every other argument
    both = client.get(
        f"{BASE}/requests.json",
        params={"service_request_id": f"{first},{second}", "status": "closed", "service_code": "C0101"},
    ).json()
    assert {r["service_request_id"] for r in both} == {first, second}
    by_code = client.get(f"{BASE}/requests.json", params={"service_code": "E0501"}).json()
    assert second in {r["service_request_id"] for r in by_code} and first not in {
        r["service_request_id"] for r in by_code
    }
    multi = client.get(f"{BASE}/requests.json", params={"service_code": "E0102,E0501"}).json()
    assert {first, second} <= {r["service_request_id"] for r in multi}
    _errors(client.get(f"{BASE}/requests.json", params={"status": "pending"}), 400)
    _errors(client.get(f"{BASE}/requests.json", params={"service_request_id": "abc"}), 400)


def test_status_follows_the_closed_loop(client: TestClient, dispatcher_headers: dict) -> None:
    request_id = _new_request(client, _token(dispatcher_headers))
    for step, note in (
        ("filed", None),
        ("dispatched", None),
        ("in_progress", None),
        ("resolved", "已清运"),
        ("verified", None),
    ):
        client.post(
            f"/api/incidents/{request_id}/transition",
            json={"to": step, "note": note},
            headers=dispatcher_headers,
        )
        # resolved and verified are still open in Open311: only the callback (回访) closes the request
        assert client.get(f"{BASE}/requests/{request_id}.json").json()[0]["status"] == "open"
    client.post(
        f"/api/incidents/{request_id}/feedback",
        headers=dispatcher_headers,
        json={"reached": True, "satisfaction": "satisfied", "note": "已回访，群众满意"},
    )
    closed = client.get(f"{BASE}/requests/{request_id}.json", headers=dispatcher_headers).json()[0]
    assert closed["status"] == "closed" and closed["status_notes"] == "已回访，群众满意"
    assert closed["expected_datetime"] is None
    assert datetime.fromisoformat(closed["updated_datetime"]) >= datetime.fromisoformat(
        closed["requested_datetime"]
    )
    open_ids = {
        r["service_request_id"] for r in client.get(f"{BASE}/requests.json", params={"status": "open"}).json()
    }
    closed_ids = {
        r["service_request_id"]
        for r in client.get(f"{BASE}/requests.json", params={"status": "closed"}).json()
    }
    assert request_id in closed_ids and request_id not in open_ids
    both = client.get(f"{BASE}/requests.json", params={"status": "open,closed"}).json()
    assert request_id in {r["service_request_id"] for r in both}
    xml = _xml(client.get(f"{BASE}/requests.xml", params={"service_request_id": request_id}))
    assert xml[0].findtext("status") == "closed"


def test_date_window(db: Database) -> None:
    """Default: the most recent 90 days; an explicit window may not span more than 90 days."""
    clock = ManualClock(datetime.fromisoformat("2024-01-10T09:00:00+08:00"))
    app = create_app(db=db, clock=clock, incident_settings=IncidentSettings(escalation_enabled=False))
    with TestClient(app) as client:
        key = _token(auth_headers(db, "dispatcher"))
        old = _new_request(client, key, description="old")
        clock.now = datetime.fromisoformat("2024-06-01T09:00:00+08:00")
        recent = _new_request(client, key, description="recent")
        default = {r["service_request_id"] for r in client.get(f"{BASE}/requests.json").json()}
        assert recent in default and old not in default
        january = client.get(
            f"{BASE}/requests.json",
            params={"start_date": "2024-01-01T00:00:00Z", "end_date": "2024-02-01T00:00:00Z"},
        )
        assert [r["service_request_id"] for r in january.json()] == [old]
        assert january.json()[0]["requested_datetime"] == "2024-01-10T09:00:00+08:00"
        since = client.get(f"{BASE}/requests.json", params={"start_date": "2024-01-01T00:00:00+08:00"}).json()
        assert [r["service_request_id"] for r in since] == [old]  # start + 90 days
        _errors(
            client.get(
                f"{BASE}/requests.json",
                params={"start_date": "2024-01-01T00:00:00Z", "end_date": "2024-06-01T00:00:00Z"},
            ),
            400,
        )
        _errors(client.get(f"{BASE}/requests.xml", params={"start_date": "last tuesday"}), 400)
        _errors(
            client.get(
                f"{BASE}/requests.json",
                params={"start_date": "2024-02-01T00:00:00Z", "end_date": "2024-01-01T00:00:00Z"},
            ),
            400,
        )


def test_at_most_1000_requests_newest_first(client: TestClient, dispatcher_headers: dict) -> None:
    lon, lat = POINTS["grid_1"]
    rows = "".join(f"CAP-{i},{lon},{lat},,,E0102,row {i}\n" for i in range(1001))
    imported = client.post(
        "/api/incidents/import",
        content=("external_id,lon,lat,crs,address,category,description\n" + rows).encode(),
        headers={**dispatcher_headers, "Content-Type": "text/csv"},
    )
    assert imported.json()["created"] == 1001
    listed = client.get(f"{BASE}/requests.json").json()
    assert len(listed) == 1000
    stamps = [r["requested_datetime"] for r in listed]
    assert stamps == sorted(stamps, reverse=True)


def test_jurisdiction(db: Database) -> None:
    app = create_app(
        db=db,
        incident_settings=IncidentSettings(escalation_enabled=False, open311_jurisdiction_id="helsinki.test"),
    )
    with TestClient(app) as client:
        assert (
            client.get(f"{BASE}/services.json", params={"jurisdiction_id": "helsinki.test"}).status_code
            == 200
        )
        assert client.get(f"{BASE}/services.json").status_code == 200  # optional with one jurisdiction
        _errors(client.get(f"{BASE}/services.xml", params={"jurisdiction_id": "elsewhere.org"}), 404)


def test_every_document_has_the_members_its_schema_names(
    client: TestClient, dispatcher_headers: dict
) -> None:
    """Each JSON answer is what /openapi.json declares for its route (success and error): valid, and no member
    undocumented or missing, in the public and the full form."""
    document = client.get("/openapi.json").json()

    def check(method: str, route: str, response, status: int = 200) -> list:
        assert response.status_code == status, response.text
        name = response_schema(document, f"{BASE}{route}", method, str(status))
        body = response.json()
        assert mismatches(document, name, body) == [], (route, name)
        return body

    key = _token(dispatcher_headers)
    check("get", "/discovery.{fmt}", client.get(f"{BASE}/discovery.json"))
    check("get", "/services.{fmt}", client.get(f"{BASE}/services.json"))
    for code in ("C0101", "E0102"):  # with and without attributes
        check("get", "/services/{service_code}.{fmt}", client.get(f"{BASE}/services/{code}.json"))
    lon, lat = POINTS["grid_1"]
    form = {"api_key": key, "service_code": "E0102", "lat": str(lat), "long": str(lon), "account_id": "a-1"}
    created = check("post", "/requests.{fmt}", _post(client, "json", **form), 201)
    one = f"{BASE}/requests/{created[0]['service_request_id']}.json"
    for params in ({}, {"api_key": key}):
        assert check("get", "/requests/{request_id}.{fmt}", client.get(one, params=params))
        assert check("get", "/requests.{fmt}", client.get(f"{BASE}/requests.json", params=params))
    errors = document["paths"][f"{BASE}/requests.{{fmt}}"]["get"]["responses"]["4XX"]["content"]
    assert errors["application/json"]["schema"] == {"$ref": "#/components/schemas/Open311Errors"}
    for response in (client.get(f"{BASE}/requests/999999.json"), _post(client, "json", service_code="E0102")):
        assert response.status_code in (403, 404)
        assert mismatches(document, "Open311Errors", response.json()) == []
