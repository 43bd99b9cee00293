"""OGC API – Features under /ogc, over a real uvicorn server: the documents, paging, bbox, datetime on
grid versions, single items, HTML, bad input — then the same read by GDAL's OAPIF driver and by OWSLib."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from owslib.ogcapi.features import Features

from tests.documented import mismatches, response_schema
from tests.tiles.conftest import HELSINKI_CENTRE

LON, LAT = HELSINKI_CENTRE
CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
# One client for the module's requests: each ``httpx.get`` makes a client of its own, whose TLS context (the CA
# bundle parsed) costs ~40 ms of CPU, for a plain-HTTP loopback request.
HTTP = httpx.Client(timeout=30)


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    HTTP.close()


def get(server: str, path: str, **params) -> httpx.Response:
    return HTTP.get(f"{server}{path}", params=params)


def test_landing_links_to_the_api_definition_conformance_and_data(server):
    doc = get(server, "/ogc").json()
    rels = {link["rel"]: link for link in doc["links"]}
    assert rels["service-desc"]["href"] == f"{server}/openapi.json"
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert get(server, "/openapi.json").json()["paths"]["/ogc/collections/{collection_id}/items"]
    assert rels["conformance"]["href"] == f"{server}/ogc/conformance"
    assert rels["data"]["href"] == f"{server}/ogc/collections"
    assert CORE in get(server, "/ogc/conformance").json()["conformsTo"]


def test_collections(server):
    doc = get(server, "/ogc/collections").json()
    ids = [c["id"] for c in doc["collections"]]
    assert set(ids) == {
        "grids",
        "stations",
        "service_circles",
        "facilities",
        "networks",
    }  # incidents need a token
    grids = next(c for c in doc["collections"] if c["id"] == "grids")
    assert grids["extent"]["temporal"]["interval"][0][0].startswith("2023-01-01")
    assert grids["extent"]["temporal"]["interval"][0][1] is None
    west, south, east, north = grids["extent"]["spatial"]["bbox"][0]
    assert west < LON < east and south < LAT < north
    assert any(link["rel"] == "items" and link["type"] == "application/geo+json" for link in grids["links"])


def test_items_page_through_with_limit_and_offset(server, db):
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(*) FROM facilities")
        total = cur.fetchone()[0]
    first = get(server, "/ogc/collections/facilities/items", limit=50)
    assert first.headers["content-type"].startswith("application/geo+json")
    page = first.json()
    assert page["numberMatched"] == total and page["numberReturned"] == 50
    seen = [f["id"] for f in page["features"]]
    while (nxt := next((link["href"] for link in page["links"] if link["rel"] == "next"), None)) is not None:
        page = HTTP.get(nxt).json()
        seen += [f["id"] for f in page["features"]]
    assert len(seen) == len(set(seen)) == total
    second = get(server, "/ogc/collections/facilities/items", limit=10, offset=10).json()
    assert [f["id"] for f in second["features"]] == seen[10:20]


def test_bbox_selects_features_inside(server, db):
    bbox = (LON - 0.002, LAT - 0.001, LON + 0.002, LAT + 0.001)
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            "SELECT array_agg(id ORDER BY id) FROM facilities WHERE ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326))",
            bbox,
        )
        expected = cur.fetchone()[0]
    page = get(server, "/ogc/collections/facilities/items", bbox=",".join(map(str, bbox)), limit=1000).json()
    assert [f["id"] for f in page["features"]] == expected and expected
    for feature in page["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        assert bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]


def grid_names(server: str, **params) -> dict[str, str]:
    page = get(server, "/ogc/collections/grids/items", level="grid", **params).json()
    return {
        str(f["id"]): f["properties"]["name"]
        for f in page["features"]
        if f["properties"]["code"].startswith("O-")
    }


def test_datetime_selects_the_grid_versions_valid_then(server):
    assert grid_names(server) == {"O-G1": "新网格", "O-G2": "二号网格"}  # now: current versions only
    assert grid_names(server, datetime="2024-01-15T00:00:00Z") == {"O-G1@v1": "旧网格", "O-G2": "二号网格"}
    assert grid_names(server, datetime="2025-01-01T00:00:00+08:00") == {"O-G1": "新网格", "O-G2": "二号网格"}
    assert grid_names(server, datetime="2022-01-01T00:00:00Z") == {}
    assert grid_names(server, datetime="2024-06-01T00:00:00Z") == {"O-G1": "新网格", "O-G2": "二号网格"}
    both = grid_names(server, datetime="2024-01-01T00:00:00Z/2024-12-31T00:00:00Z")
    assert both == {"O-G1@v1": "旧网格", "O-G1": "新网格", "O-G2": "二号网格"}
    assert grid_names(server, datetime="../2023-06-01T00:00:00Z") == {"O-G1@v1": "旧网格", "O-G2": "二号网格"}
    assert set(grid_names(server, datetime="2024-07-01T00:00:00Z/..")) == {"O-G1", "O-G2"}


def test_single_item_current_and_past_version(server):
    current = get(server, "/ogc/collections/grids/items/O-G1").json()
    assert current["id"] == "O-G1" and current["properties"]["version"] == 2
    assert current["properties"]["valid_to"] is None
    past = get(server, "/ogc/collections/grids/items/O-G1@v1").json()
    assert past["properties"]["name"] == "旧网格" and past["properties"]["valid_to"].startswith("2024-06-01")
    assert past["geometry"]["type"] == "MultiPolygon"
    assert get(server, "/ogc/collections/grids/items/O-G1@v9").status_code == 404
    assert get(server, "/ogc/collections/grids/items/NOPE").status_code == 404
    assert get(server, "/ogc/collections/facilities/items/999999999").status_code == 404
    assert get(server, "/ogc/collections/facilities/items/abc").status_code == 404


def test_html_for_browsers_and_f_html(server):
    for response in (
        get(server, "/ogc/collections/grids/items", f="html"),
        HTTP.get(f"{server}/ogc/collections/grids/items", headers={"Accept": "text/html,*/*"}),
    ):
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        assert "新网格" in response.text and "/vendor/leaflet/dist/leaflet.js" in response.text
    for path in (
        "/ogc",
        "/ogc/conformance",
        "/ogc/collections",
        "/ogc/collections/grids",
        "/ogc/collections/grids/items/O-G1",
    ):
        response = get(server, path, f="html")
        assert response.status_code == 200 and ("<table" in response.text or "<ul>" in response.text), path
    assert get(server, "/ogc/collections", f="json").headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    "params",
    [
        {"bbox": "1,2,3"},
        {"bbox": "a,b,c,d"},
        {"bbox": "24,61,25,60"},  # south above north
        {"bbox": "60.1,24.9,60.2,25.0,1"},
        {"bbox": "24,60,25,61", "bbox-crs": "EPSG:3857"},
        {"datetime": "yesterday"},
        {"datetime": "../.."},
        {"datetime": "2024-12-01T00:00:00Z/2024-01-01T00:00:00Z"},
        {"limit": "0"},
        {"limit": "ten"},
        {"offset": "-1"},
        {"colour": "red"},
        {"f": "xml"},
    ],
)
def test_bad_parameters_are_400(server, params):
    response = get(server, "/ogc/collections/grids/items", **params)
    assert response.status_code == 400, response.text
    assert response.json()["detail"]


def test_datetime_on_a_collection_without_time_is_400_and_unknown_collection_404(server):
    assert (
        get(server, "/ogc/collections/facilities/items", datetime="2024-01-01T00:00:00Z").status_code == 400
    )
    assert get(server, "/ogc/collections/nope/items").status_code == 404
    assert get(server, "/ogc/collections/roads/items").status_code == 404  # tiles only


def test_huge_limit_is_clamped(server):
    page = get(server, "/ogc/collections/facilities/items", limit=10**9).json()
    assert page["numberReturned"] == page["numberMatched"]


def test_property_filter(server):
    page = get(server, "/ogc/collections/facilities/items", category="pharmacy", limit=1000).json()
    assert page["numberMatched"] > 0
    assert {f["properties"]["category"] for f in page["features"]} == {"pharmacy"}


# -- real clients ---------------------------------------------------------------------------------------


def ogr(*args: str) -> str:
    if shutil.which("ogrinfo") is None:
        pytest.fail("GDAL's ogrinfo is required (Debian gdal-bin, installed by `make`)")
    result = subprocess.run(["ogrinfo", "-ro", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_gdal_oapif_driver_lists_and_reads_collections(server, db):
    listing = ogr("-so", f"OAPIF:{server}/ogc")
    for name in ("grids", "stations", "facilities"):
        assert name in listing
    assert "incidents" not in listing  # anonymous: the collection is not offered
    summary = ogr("-so", "-al", f"OAPIF:{server}/ogc", "facilities")
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(*) FROM facilities")
        total = cur.fetchone()[0]
    assert f"Feature Count: {total}" in summary
    assert "category: String" in summary
    # Read every grid feature (GDAL pages with limit/next) and check names come through intact.
    features = ogr("-al", "-q", f"OAPIF:{server}/ogc", "grids", "-where", "level = 'grid'")
    assert "新网格" in features and "二号网格" in features and "旧网格" not in features


def test_gdal_oapif_bbox(server):
    west, south, east, north = LON - 0.002, LAT - 0.001, LON + 0.002, LAT + 0.001
    out = ogr(
        "-so", "-al", f"OAPIF:{server}/ogc", "facilities", "-spat", *map(str, (west, south, east, north))
    )
    count = int(out.split("Feature Count: ")[1].split()[0])
    expected = get(server, "/ogc/collections/facilities/items", bbox=f"{west},{south},{east},{north}").json()
    assert count == expected["numberMatched"] > 0


def test_owslib_reads_collections_and_items(server):
    api = Features(f"{server}/ogc")
    assert CORE in api.conformance()["conformsTo"]
    assert {"grids", "stations", "facilities"} <= set(api.feature_collections())
    assert "incidents" not in api.feature_collections()
    assert api.api()["openapi"].startswith("3.")
    items = api.collection_items("grids", datetime_="2024-01-15T00:00:00Z", level="grid", limit=100)
    names = {f["properties"]["name"] for f in items["features"]}
    assert {"旧网格", "二号网格"} <= names and "新网格" not in names
    one = api.collection_item("grids", "O-G1")
    assert json.loads(json.dumps(one))["properties"]["name"] == "新网格"
    bbox_items = api.collection_items(
        "facilities", bbox=[LON - 0.002, LAT - 0.001, LON + 0.002, LAT + 0.001], limit=5
    )
    assert 0 < bbox_items["numberReturned"] <= 5


def test_every_document_has_the_members_its_schema_names(server):
    """Each answer is what /openapi.json declares for its route: valid, and no member undocumented or missing."""
    document = get(server, "/openapi.json").json()

    def check(path: str, route: str, url_path: str, **params) -> dict:
        response = get(server, url_path, **params)
        assert response.status_code == 200, response.text
        name = response_schema(document, route, "get", "200")
        body = response.json()
        assert mismatches(document, name, body) == [], (url_path, name)
        return body

    check("landing", "/ogc", "/ogc")
    check("conformance", "/ogc/conformance", "/ogc/conformance")
    collections = check("collections", "/ogc/collections", "/ogc/collections")["collections"]
    assert any("temporal" in c["extent"] for c in collections)  # the optional member is checked too
    one = "/ogc/collections/{collection_id}"
    for collection in collections:
        cid = collection["id"]
        check("collection", one, f"/ogc/collections/{cid}")
        check("queryables", f"{one}/queryables", f"/ogc/collections/{cid}/queryables")
        page = check("items", f"{one}/items", f"/ogc/collections/{cid}/items", limit=2)
        for feature in page["features"][:1]:
            check("item", f"{one}/items/{{feature_id}}", f"/ogc/collections/{cid}/items/{feature['id']}")
    check("past item", f"{one}/items/{{feature_id}}", "/ogc/collections/grids/items/O-G1@v1")
    bad = get(server, "/ogc/collections/nowhere/items")
    assert bad.status_code == 404 and mismatches(document, "ErrorBody", bad.json()) == []
