"""A forged Host header never reaches the links the service writes, and every answer carries the security
headers: a Content-Security-Policy on HTML (exactly the pages' policy; its own for the API docs and folium maps),
X-Frame-Options, X-Content-Type-Options and Referrer-Policy. The OGC HTML pages keep the strict policy in a
real browser (no inline script or style)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser

from geo_service.api.app import create_app
from geo_service.api.security import DOCS_POLICY, PAGE_POLICY, host_name, is_trusted, trusted_hosts
from geo_service.db.pool import Database
from geo_service.settings import APISettings
from tests.conftest import running_server
from tests.tiles.conftest import HELSINKI_CENTRE, insert_area, square

EXPECTED_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "worker-src 'self' blob:; connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)
AMAP = " ".join(f"https://webrd0{n}.is.autonavi.com" for n in range(1, 5))
LINKED = [
    "/tiles/grids.json",
    "/tiles/style.json",
    "/tiles/catalogue.json",
    "/ogc",
    "/ogc/collections",
    "/ogc/collections/grids/items?limit=2",
    "/open311/v2/discovery.json",
]


def urls(value: object) -> list[str]:
    if isinstance(value, dict):
        return [u for v in value.values() for u in urls(v)]
    if isinstance(value, list):
        return [u for v in value for u in urls(v)]
    return [value] if isinstance(value, str) and "://" in value else []


@pytest.fixture(scope="module")
def default_hosts(db: Database) -> Iterator[TestClient]:
    """The service as deployed with no host settings (bound to 127.0.0.1)."""
    app = create_app(db=db, api_settings=APISettings(trusted_hosts=None, host="127.0.0.1"))
    with TestClient(app, raise_server_exceptions=False, base_url="http://127.0.0.1:8000") as client:
        yield client


def test_host_names() -> None:
    assert host_name("Example.org:8000") == "example.org" and host_name("[::1]:8000") == "::1"
    assert host_name("::1") == "::1" and host_name("127.0.0.1") == "127.0.0.1"
    assert is_trusted("a.gov.cn", ["*.gov.cn"]) and not is_trusted("gov.cn.evil.org", ["*.gov.cn"])
    assert is_trusted("anything", ["*"])
    public = APISettings(trusted_hosts=None, host="0.0.0.0", public_base_url="https://map.example.gov.cn/")
    assert trusted_hosts(public) == ["localhost", "127.0.0.1", "::1", "map.example.gov.cn"]
    assert trusted_hosts(APISettings(trusted_hosts=["a", " B "])) == ["a", "b"]


def test_a_forged_host_gets_400_and_no_link(default_hosts: TestClient) -> None:
    for path in LINKED:
        forged = default_hosts.get(path, headers={"Host": "evil.example:8000"})
        assert forged.status_code == 400, path
        assert forged.json()["code"] == "request.untrusted_host" and "evil.example" not in str(
            urls(forged.json())
        )
        assert forged.headers["x-frame-options"] == "DENY"
    for host in ("localhost:8000", "127.0.0.1:8000", "[::1]:8000"):
        tilejson = default_hosts.get("/tiles/grids.json", headers={"Host": host})
        assert tilejson.status_code == 200, host
        assert tilejson.json()["tiles"][0].startswith(f"http://{host}/tiles/grids/")
    # probes answer whatever address an orchestrator uses
    assert default_hosts.get("/healthz", headers={"Host": "10.1.2.3:8000"}).status_code == 200


def test_links_use_the_public_base_url(db: Database) -> None:
    settings = APISettings(trusted_hosts=None, public_base_url="https://map.example.gov.cn/geo")
    with TestClient(create_app(db=db, api_settings=settings), base_url="http://127.0.0.1:8000") as client:
        for path in LINKED:
            response = client.get(path)
            assert response.status_code == 200, path
            found = urls(response.json())
            assert found and all(
                u.startswith("https://map.example.gov.cn/geo/")
                for u in found
                if "127.0.0.1" in u or "map.example" in u
            ), (path, found)
            assert not any("127.0.0.1" in u for u in found), path
        assert client.get("/tiles/grids.json", headers={"Host": "map.example.gov.cn"}).status_code == 200
        assert client.get("/tiles/grids.json", headers={"Host": "evil.example"}).status_code == 400


def test_every_answer_carries_the_security_headers(client: TestClient) -> None:
    for path, status in (
        ("/healthz", 200),
        ("/api/locate?lon=24.94&lat=60.17", 200),
        ("/api/nowhere", 404),
        ("/api/incidents", 401),
        ("/tiles/grids/99/0/0.pbf", 400),
        ("/ogc?f=html", 200),
        ("/app/planner", 200),
        ("/app/static/js/common.js", 200),
    ):
        response = client.get(path)
        assert response.status_code == status, path
        assert response.headers["x-frame-options"] == "DENY", path
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["referrer-policy"] == "same-origin", path
    assert PAGE_POLICY == EXPECTED_POLICY
    for page in (
        "/app",
        "/app/planner",
        "/app/stations",
        "/app/dispatch",
        "/app/circles",
        "/ogc?f=html",
        "/ogc/collections/grids/items?f=html",
        "/app/static/img/favicon.svg",
    ):
        assert client.get(page).headers["content-security-policy"] == EXPECTED_POLICY, page
    assert "content-security-policy" not in client.get("/api/locate?lon=24.94&lat=60.17").headers
    # over an external basemap a page may fetch that basemap's tiles, and nothing else
    amap = client.get("/app/circles?basemap=amap").headers["content-security-policy"]
    assert amap == EXPECTED_POLICY.replace(
        "img-src 'self' data: blob:", "img-src 'self' data: blob: " + AMAP
    ).replace("connect-src 'self'", "connect-src 'self' " + AMAP)
    assert client.get("/app/circles?basemap=nonsense").headers["content-security-policy"] == EXPECTED_POLICY
    # FastAPI's own docs page needs its CDN and inline script; docs served from /vendor get the strict policy
    docs = client.get("/docs")
    assert docs.status_code == 200
    expected = DOCS_POLICY if client.app.docs_url == "/docs" else EXPECTED_POLICY
    assert docs.headers["content-security-policy"] == expected
    folium = client.get("/maps/overview.html").headers["content-security-policy"]
    assert "frame-ancestors 'none'" in folium and "script-src 'self' 'unsafe-inline'" in folium


def test_ogc_html_keeps_the_strict_policy_in_a_browser(db: Database, browser: Browser) -> None:
    """The items page draws its map from ogc.js and a JSON data block: chromium reports no CSP violation."""
    lon, lat = HELSINKI_CENTRE
    insert_area(db, "CSP-G1", "grid", square(lon - 0.001, lat - 0.001, 0.002), name="策略网格")
    with running_server(create_app(db=db)) as base:
        page = browser.new_page()  # a context of its own, closed with the page
        try:
            problems: list[str] = []
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            response = page.goto(f"{base}/ogc/collections/grids/items?f=html&level=grid&limit=50")
            assert response is not None and response.headers["content-security-policy"] == EXPECTED_POLICY
            page.wait_for_selector("#map path.leaflet-interactive")
            assert page.locator("#map path.leaflet-interactive").count() >= 1
            assert page.locator("table").first.inner_text().count("策略网格") == 1
            assert problems == []
        finally:
            page.close()
