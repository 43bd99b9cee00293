"""Incidents hold personal data (what a caller said, where they live, the 12345 ticket, the exact point): every
route that exposes the incidents table applies the layer catalogue's rule (``layers/incidents.yaml``:
``access: [dispatcher]``). Each route family is tried anonymously, with a planner token (a role the rule does
not name) and with a dispatcher token: API, OGC collections/collection/items/item/queryables, TileJSON,
tiles, the style and the layer catalogue, and Open311 GET requests."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.incidents.areas import POINTS
from tests.tiles.conftest import decode, tile_of

pytestmark = pytest.mark.usefixtures("areas")

DESCRIPTION = "王先生家门口垃圾堆了三天，电话13912345678"
ADDRESS = "Mannerheimintie 5 A 12"
TICKET = "12345-PRIVACY-0001"
PHONE = "13800001111"
SECRETS = (DESCRIPTION, ADDRESS, TICKET, PHONE, "13912345678")
LON, LAT = POINTS["grid_1"]


@pytest.fixture(scope="module")
def filed(client: TestClient, dispatcher_headers: dict[str, str]) -> int:
    body = {
        "lon": LON,
        "lat": LAT,
        "category": "E0102",
        "description": DESCRIPTION,
        "address": ADDRESS,
        "external_id": TICKET,
        "reporter": {"name": "王先生", "phone": PHONE},
    }
    response = client.post("/api/incidents", json=body, headers=dispatcher_headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def restricted_routes(incident_id: int) -> list[str]:
    z, x, y = tile_of(LON, LAT, 15)
    return [
        "/api/incidents",
        f"/api/incidents/{incident_id}",
        "/ogc/collections/incidents",
        "/ogc/collections/incidents?f=html",
        "/ogc/collections/incidents/queryables",
        "/ogc/collections/incidents/items",
        "/ogc/collections/incidents/items?f=html",
        f"/ogc/collections/incidents/items/{incident_id}",
        "/tiles/incidents.json",
        "/tiles/grids,incidents.json",
        f"/tiles/incidents/{z}/{x}/{y}.pbf",
        f"/tiles/grids,incidents/{z}/{x}/{y}.pbf",
    ]


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def test_anonymous_callers_get_no_incident_data(client: TestClient, filed: int) -> None:
    for path in restricted_routes(filed):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.json()["code"] in ("auth.missing_token", "layer.token_required"), path
        assert response.headers["www-authenticate"] == "Bearer"
        assert leaks(response.text) == [], path
    # a cached validator does not turn into a 304 for someone who may not read the tile
    z, x, y = tile_of(LON, LAT, 15)
    assert client.get(f"/tiles/incidents/{z}/{x}/{y}.pbf", headers={"If-None-Match": "*"}).status_code == 401

    collections = client.get("/ogc/collections").json()["collections"]
    assert "incidents" not in {c["id"] for c in collections}
    style = client.get("/tiles/style.json")
    assert "incidents" not in style.json()["sources"] and style.headers["vary"] == "Authorization"
    catalogue = client.get("/tiles/catalogue.json").json()
    assert "incidents" not in {entry["id"] for entry in catalogue["layers"]}
    # the coarse public form stays: counts per area, no text, no points
    stats = next(entry for entry in catalogue["layers"] if entry["id"] == "incident_stats")
    assert stats["access"] == "public"
    z, x, y = tile_of(LON, LAT, 13)
    tile = client.get(f"/tiles/incident_stats/{z}/{x}/{y}.pbf")
    assert tile.status_code == 200 and leaks(tile.content.decode("latin-1")) == []
    features = decode(tile.content)["incident_stats"]["features"]
    assert sum(f["properties"]["total"] for f in features if f["properties"]["level"] == "grid") >= 1
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in features)


def test_another_role_is_forbidden_and_sees_no_incident_layer(
    client: TestClient, filed: int, planner_headers: dict[str, str]
) -> None:
    for path in restricted_routes(filed)[2:]:  # /api/incidents admits any token (reporters stay hidden)
        response = client.get(path, headers=planner_headers)
        assert response.status_code == 403, path
        assert response.json()["code"] == "layer.role_not_allowed", path
        assert leaks(response.text) == [], path
    listed = client.get("/ogc/collections", headers=planner_headers).json()["collections"]
    assert "incidents" not in {c["id"] for c in listed}
    assert "incidents" not in client.get("/tiles/style.json", headers=planner_headers).json()["sources"]


def test_dispatchers_read_incidents_privately(
    client: TestClient, filed: int, dispatcher_headers: dict[str, str]
) -> None:
    item = client.get(f"/ogc/collections/incidents/items/{filed}", headers=dispatcher_headers)
    assert item.status_code == 200
    assert item.json()["properties"]["description"] == DESCRIPTION
    assert item.json()["properties"]["external_id"] == TICKET
    items = client.get("/ogc/collections/incidents/items", headers=dispatcher_headers)
    assert filed in {f["id"] for f in items.json()["features"]}
    listed = client.get("/ogc/collections", headers=dispatcher_headers)
    assert "incidents" in {c["id"] for c in listed.json()["collections"]}
    for response in (item, items, listed):
        assert response.headers["cache-control"].startswith("private")
        assert "access-control-allow-origin" not in response.headers

    tilejson = client.get("/tiles/incidents.json", headers=dispatcher_headers)
    assert tilejson.status_code == 200 and tilejson.headers["cache-control"].startswith("private")
    tile_url = tilejson.json()["tiles"][0].removeprefix("http://testserver")
    z, x, y = tile_of(LON, LAT, 15)
    tile = client.get(tile_url.format(z=z, x=x, y=y), headers=dispatcher_headers)
    assert tile.status_code == 200
    # the current revision may be kept long, but only by the dispatcher's browser
    assert tile.headers["cache-control"].startswith("private, max-age=")
    assert "access-control-allow-origin" not in tile.headers
    ids = {f["id"] for f in decode(tile.content)["incidents"]["features"]}
    assert filed in ids

    style = client.get("/tiles/style.json", headers=dispatcher_headers)
    assert "incidents" in style.json()["sources"] and style.headers["cache-control"].startswith("private")
    catalogue = client.get("/tiles/catalogue.json", headers=dispatcher_headers).json()
    entry = next(e for e in catalogue["layers"] if e["id"] == "incidents")
    assert entry["access"] == ["admin", "dispatcher"]


def test_public_layers_stay_shared(client: TestClient) -> None:
    z, x, y = tile_of(LON, LAT, 15)
    tile = client.get(f"/tiles/grids/{z}/{x}/{y}.pbf?v=0")
    assert tile.status_code in (200, 204) and tile.headers["access-control-allow-origin"] == "*"
    assert not tile.headers["cache-control"].startswith("private")
    grids = client.get("/ogc/collections/grids/items")
    assert grids.status_code == 200 and grids.headers["access-control-allow-origin"] == "*"


def test_an_invalid_token_is_refused_even_on_public_routes(client: TestClient) -> None:
    response = client.get("/ogc/collections", headers={"Authorization": "Bearer gs_not-a-real-token"})
    assert response.status_code == 401 and response.json()["code"] == "auth.invalid_token"


def test_open311_requests_are_public_only_in_a_coarse_form(
    client: TestClient, filed: int, dispatcher_headers: dict[str, str]
) -> None:
    token = dispatcher_headers["Authorization"].split()[1]
    for path in ("/open311/v2/requests.json", f"/open311/v2/requests/{filed}.json"):
        for fmt_path in (path, path.replace(".json", ".xml")):
            anonymous = client.get(fmt_path, params={"service_request_id": str(filed)})
            assert anonymous.status_code == 200, fmt_path
            assert leaks(anonymous.text) == [] and "王先生" not in anonymous.text, fmt_path
    public = client.get(f"/open311/v2/requests/{filed}.json").json()[0]
    assert public["service_request_id"] == str(filed) and public["service_code"] == "E0102"
    assert public["status"] == "open" and public["requested_datetime"]
    assert public["description"] is None and public["address"] is None
    assert public["status_notes"] is None and public["media_url"] is None
    # moved to the centre of its H3 cell (resolution 9: within ~200 m, never the exact point)
    assert (public["long"], public["lat"]) != (pytest.approx(LON, abs=1e-6), pytest.approx(LAT, abs=1e-6))
    assert abs(public["long"] - LON) < 0.005 and abs(public["lat"] - LAT) < 0.003

    for credentials in ({"params": {"api_key": token}}, {"headers": dispatcher_headers}):
        full = client.get(f"/open311/v2/requests/{filed}.json", **credentials)
        assert full.headers["cache-control"].startswith("private")
        request = full.json()[0]
        assert request["description"] == DESCRIPTION and request["address"] == ADDRESS
        assert request["lat"] == pytest.approx(LAT) and request["long"] == pytest.approx(LON)
        assert PHONE not in full.text  # reporter contact data is never published
    bad = client.get(f"/open311/v2/requests/{filed}.json", params={"api_key": "gs_wrong"})
    assert bad.status_code == 403 and bad.json()[0]["code"] == 403
