"""The pages on a phone (390×844, touch): each page's main task done with taps, and the layout rules checked
along the way — the map keeps at least half of the screen, the panel is a bottom sheet, nothing overflows
sideways, every visible button, link and input is at least 44 px. Screenshots: test-artifacts/pages/phone-*.png
(the README shows some of them)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from shapely.geometry import shape

from geo_service.coords import from_wgs84
from geo_service.crs import metres_per_degree
from tests.pages.conftest import HELSINKI_POINT, PHONE, Session
from tests.pages.test_browser import bearer, grids, inner_point, wait_status

pytestmark = pytest.mark.slow
LOOP_ENDPOINTS = {"/api/grids/validate": {422}}
CJK = re.compile(r"[\u4e00-\u9fff]")
# what a zh-CN user must never read: an HTTP status, or a sentence of English words
HTTP_CODE = re.compile(r"\b[45]\d\d\b")
ENGLISH_SENTENCE = re.compile(r"[A-Za-z]+ [a-z]+ [a-z]+ [a-z]+")


def assert_phone_layout(s: Session) -> None:
    assert s.page.viewport_size == PHONE
    assert s.layout_problems() == []


def assert_chinese(text: str) -> None:
    assert CJK.search(text), text
    assert not HTTP_CODE.search(text), text
    assert not ENGLISH_SENTENCE.search(text), text


def test_index_on_a_phone(session_factory) -> None:
    s = session_factory(phone=True)
    s.page.goto(f"{s.base}/app")
    s.page.wait_for_selector("a.card")
    assert_phone_layout(s)
    # the page links sit behind the menu button; opened, they are large enough to tap
    assert not s.page.is_visible("#top nav")
    s.page.tap("#menu")
    s.page.wait_for_selector("#top nav a", state="visible")
    assert s.page.get_attribute("#menu", "aria-expanded") == "true"
    assert_phone_layout(s)
    s.screenshot("phone-index", map_drawn=False)
    s.page.tap("#top nav a[href='/app/stations']")
    s.page.wait_for_selector("body[data-ready=true]")
    assert urlparse(s.page.url).path == "/app/stations"
    s.check_clean()


def test_the_sheet_folds_and_the_map_follows(session_factory) -> None:
    """The handle toggles the sheet (half ↔ full) and a drag folds it down; Leaflet's size follows the box."""
    s = session_factory(phone=True)
    s.goto("/app/circles", tiles=False)
    sheet, handle = "aside.panel", "aside.panel .sheet-handle"

    # the drag passes through taller map sizes than the peek's: only an agreeing pair is a settled one
    agree = (
        "Math.abs(gs.map.getSize().y - document.getElementById('map').getBoundingClientRect().height) <= 1"
    )

    def height() -> float:
        return s.page.evaluate("() => document.getElementById('map').getBoundingClientRect().height")

    def leaflet() -> float:
        return s.page.evaluate("() => gs.map.getSize().y")

    assert s.page.get_attribute(sheet, "data-sheet") == "half"
    half = height()
    assert half >= PHONE["height"] / 2
    s.page.tap(handle)
    s.wait_for("() => document.querySelector('aside.panel').dataset.sheet === 'full'")
    # Leaflet follows the box through a ResizeObserver, a frame after the class changes: wait for them to agree
    s.wait_for(f"() => gs.map.getSize().y < 0.4 * innerHeight && {agree}")
    assert height() < half and abs(leaflet() - height()) <= 1
    s.page.tap(handle)
    s.wait_for("() => document.querySelector('aside.panel').dataset.sheet === 'half'")
    # drag the handle down: the sheet folds to a peek and the map takes the rest
    box = s.page.locator(handle).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    s.page.mouse.move(x, y)
    s.page.mouse.down()
    for step in range(1, 11):
        s.page.mouse.move(x, y + step * 30)
    s.page.mouse.up()
    s.wait_for("() => document.querySelector('aside.panel').dataset.sheet === 'peek'")
    s.wait_for(f"(h) => gs.map.getSize().y > h && {agree}", arg=half)
    assert height() > half and abs(leaflet() - height()) <= 1
    assert_phone_layout(s)
    # longer English words fit as well
    s.page.tap("#lang")
    s.wait_for("() => document.documentElement.lang === 'en'")
    s.page.tap(handle)
    s.wait_for("() => document.querySelector('aside.panel').dataset.sheet === 'half'")
    assert_phone_layout(s)
    s.check_clean()


def test_planner_on_a_phone_draws_a_grid(session_factory, http: httpx.Client, tokens) -> None:
    """A planner on a phone closes a demo grid and draws its replacement with taps, then saves it."""
    features = sorted(grids(http), key=lambda f: -inner_point(shape(f["geometry"]))[1])
    hole = features[0]
    code, parent = hole["properties"]["code"], hole["properties"]["parent_code"]
    closed = http.delete(f"/api/grids/{code}", headers={**bearer(tokens["planner"]), "If-Match": '"1"'})
    assert closed.status_code == 204
    (lon, lat), radius_m = inner_point(shape(hole["geometry"]))
    kx, ky = metres_per_degree(lat)
    half = radius_m * 0.6
    corners = [
        (lon + dx * half / kx, lat + dy * half / ky) for dx, dy in ((-1, -1), (1, -1), (1, 1), (-1, 1))
    ]
    view = (lon - 2 * half / kx, lat - 2 * half / ky, lon + 2 * half / kx, lat + 2 * half / ky)

    s = session_factory(phone=True, hidpi=True, token=tokens["planner"])
    s.goto("/app/planner", view, tiles=False)
    s.page.wait_for_selector("#token-status.ok", state="attached")
    assert_phone_layout(s)
    s.page.tap("#tool-draw")
    for corner in corners:
        s.tap_map(*corner)
        s.page.wait_for_timeout(200)
    s.tap_map(*corners[0])  # close the ring
    s.page.wait_for_selector("#draft:not([hidden])")
    assert s.page.input_value("#f-parent") == parent
    assert "校验通过" in wait_status(s, "warn", "#validation")
    s.page.fill("#f-name", "手机绘制网格")
    assert_phone_layout(s)
    s.screenshot("phone-planner")
    s.page.tap("#save")
    message = wait_status(s, "ok")
    assert "已保存" in message
    assert_chinese(message)
    saved = [f for f in grids(http, parent_code=parent) if f["properties"]["name"] == "手机绘制网格"]
    assert len(saved) == 1
    assert shape(hole["geometry"]).contains(shape(saved[0]["geometry"]))
    assert_phone_layout(s)
    s.check_clean(LOOP_ENDPOINTS)


def test_stations_on_a_phone_finds_a_station_and_its_route(session_factory, http: httpx.Client) -> None:
    """Locate → the nearest open stations, the route to the first; hours in Chinese, navigation links."""
    s = session_factory(phone=True, hidpi=True, geolocation=HELSINKI_POINT)
    s.goto("/app/stations", tiles=False)
    assert_phone_layout(s)
    s.page.tap("#locate")
    s.page.wait_for_selector(".station")
    first = s.page.get_attribute(".station >> nth=0", "data-station-id")
    s.wait_for(f"() => document.body.dataset.route === '{first}'")
    s.page.wait_for_selector(".leaflet-overlay-pane path")
    # opening hours read as Chinese sentences, never the raw OSM syntax
    for text in s.page.eval_on_selector_all(
        ".station [data-hours]", "els => els.map(e => e.textContent.trim())"
    ):
        assert CJK.search(text) and not re.search(r"\b(Mo|Tu|We|Th|Fr|Sa|Su|PH)\b", text), text
    # navigation in AMap (GCJ-02) and Baidu Maps (BD-09) to the first station, from where the worker stands
    station = http.get(f"/api/stations/{first}").json()
    lon, lat = station["geometry"]["coordinates"]
    amap = s.page.get_attribute(".station >> nth=0 >> a.nav-amap", "href")
    baidu = s.page.get_attribute(".station >> nth=0 >> a.nav-baidu", "href")
    gx, gy = from_wgs84(lon, lat, "gcj02")
    bx, by = from_wgs84(lon, lat, "bd09")
    assert amap.startswith("https://uri.amap.com/navigation?") and f"{gx:.6f}%2C{gy:.6f}" in amap
    assert baidu.startswith("https://api.map.baidu.com/direction?") and f"{by:.6f}%2C{bx:.6f}" in baidu
    assert_phone_layout(s)
    s.screenshot("phone-stations")
    s.check_clean()


def incident_by_description(http: httpx.Client, token: str, description: str) -> list[dict[str, Any]]:
    listed = http.get("/api/incidents", params={"limit": 500}, headers=bearer(token)).json()
    return [f["properties"] for f in listed["features"] if f["properties"]["description"] == description]


def test_dispatch_on_a_phone_files_an_ambiguous_address(session_factory, http: httpx.Client, tokens) -> None:
    """The caller's address matches two places: nothing is filed, the page lists the candidates with their
    precision, the dispatcher taps one, and the incident is filed at its coordinates."""
    token = tokens["dispatcher"]
    address, description = "R-kioski", "手机测试：地址有歧义"
    # what the service says to an address-only intake of this address: not confident (409; 422 before)
    refused = http.post(
        "/api/incidents", json={"address": address, "category": "E0102"}, headers=bearer(token)
    )
    assert refused.status_code in (409, 422) and len(refused.json()["candidates"]) >= 2
    candidates = refused.json()["candidates"]
    located = [http.get("/api/locate", params={"lon": c["lon"], "lat": c["lat"]}).json() for c in candidates]
    pick = next(i for i, where in enumerate(located) if where["grid"])

    s = session_factory(phone=True, hidpi=True, token=token)
    s.goto("/app/dispatch", tiles=False)
    s.page.wait_for_selector("#queue li[data-incident]")
    assert_phone_layout(s)
    s.page.select_option("#category", "E0102")
    s.page.fill("#description", description)
    s.page.fill("#address", address)
    s.page.tap("#create")
    s.page.wait_for_selector("#candidates li.candidate")
    assert_chinese(wait_status(s, "warn", "#pick-status"))
    assert incident_by_description(http, token, description) == []  # nothing filed yet
    shown = s.page.eval_on_selector_all("#candidates li.candidate", "els => els.map(e => e.textContent)")
    assert len(shown) == len(candidates)
    for text, candidate in zip(shown, candidates, strict=True):
        assert candidate["name"] in text
        assert "place:" not in text and candidate["kind"] not in text.split()  # kinds in words, not ids
    if "precision" in candidates[0]:
        precisions = s.page.eval_on_selector_all(
            "#candidates [data-precision]", "els => els.map(e => e.textContent)"
        )
        assert len(precisions) == len(candidates) and all(CJK.search(p) for p in precisions)
    assert_phone_layout(s)
    s.screenshot("phone-dispatch-candidates")
    s.page.tap(f"#candidates li.candidate >> nth={pick} >> button")
    s.page.wait_for_selector("#where dd[data-grid]")
    s.page.tap("#create")
    assert "已创建事件" in wait_status(s, "ok")
    s.page.wait_for_selector("#created dd[data-assigned]")

    [incident] = incident_by_description(http, token, description)
    assert incident["address"] == address
    assert abs(incident["lon"] - candidates[pick]["lon"]) < 1e-6
    assert abs(incident["lat"] - candidates[pick]["lat"]) < 1e-6
    assert incident["grid_code"] == located[pick]["grid"]["code"]
    assert s.page.get_attribute("#created dd[data-assigned]", "data-assigned") == incident["grid_code"]
    assert_phone_layout(s)
    s.screenshot("phone-dispatch")
    s.check_clean({"/api/incidents": {409, 422}})  # the refused intake


def test_circles_on_a_phone_shows_a_life_circle(session_factory, http: httpx.Client) -> None:
    lon, lat = HELSINKI_POINT
    s = session_factory(phone=True, hidpi=True)
    s.goto("/app/circles", (lon - 0.004, lat - 0.002, lon + 0.004, lat + 0.002), tiles=False)
    assert_phone_layout(s)
    s.tap_map(lon, lat)
    s.wait_for("() => document.body.dataset.isochrones === '3'")
    s.page.wait_for_selector("#circle-result li[data-category]")
    circle = http.get("/api/life-circle", params={"lon": lon, "lat": lat}).json()
    assert s.page.locator("#circle-result li[data-category]").count() == sum(
        len(level["categories"]) for level in circle["levels"]
    )
    s.page.wait_for_selector("#guide a[data-guide=png]")
    assert_phone_layout(s)
    s.screenshot("phone-circles")
    s.check_clean()
