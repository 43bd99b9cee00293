"""Browser tests of the pages: Debian's chromium driven by Playwright against a real uvicorn server over the
Helsinki database with the demo hierarchy and incidents loaded. Chromium resolves no host but 127.0.0.1
(``CHROMIUM_ARGS``) and every request is observed: one for another host fails in the page and fails the test
(the pages must work with no internet). Every response carries the strict Content-Security-Policy the service
is deployed with (:data:`PAGE_CSP`): a violation is a console error, and console errors fail the tests."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, CDPSession, ConsoleMessage, Page, Request, Route
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Response as PlaywrightResponse
from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from geo_service.api.app import create_app
from geo_service.clock import ManualClock
from geo_service.db.pool import Database
from geo_service.settings import IncidentSettings
from tests.conftest import DEMO_NOW, REPO, auth_headers, running_server

ARTIFACTS = REPO / "test-artifacts" / "pages"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PHONE_MAX_WIDTH = (
    760  # the pages' CSS switches to the phone layout (map on top, bottom sheet) up to this width
)
# The policy the pages are served under (the access side sends it on every response; the test server here adds
# it when the app did not). No inline script or style attribute, no eval, nothing from another host; MapLibre's
# workers start from blob: URLs.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "worker-src 'self' blob:; connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)
# A deployment that chooses AMap's raster basemap (?basemap=amap) must also let the map fetch those tiles.
AMAP_TILES = "https://*.is.autonavi.com"
AMAP_CSP = PAGE_CSP.replace("img-src 'self'", f"img-src 'self' {AMAP_TILES}").replace(
    "connect-src 'self'", f"connect-src 'self' {AMAP_TILES}"
)
# Inside the demo district (central Helsinki), on a street: where the phone and dispatch tests stand.
HELSINKI_POINT = (24.9445, 60.1702)
PAGE_TIMEOUT_MS = 20_000
POLL_MS = 50  # how often a test's wait for a condition in the page tries it
# the URL schemes of requests that could leave the machine (the others are the page's own data)
NETWORK_SCHEMES = {"http", "https", "ws", "wss"}
# how Chromium logs a response with an error status
FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of (\d{3})")
# Reported on the page's console as errors as well (Chromium logs its own "Refused to ..." line too).
CSP_WATCH = """document.addEventListener('securitypolicyviolation', (e) => console.error(
  `CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`));"""
# The phone layout rules, measured in the page: [problems] (empty when the page keeps them all).
LAYOUT_RULES = """() => {
  const problems = [];
  const vw = window.innerWidth, vh = window.innerHeight;
  const width = document.documentElement.scrollWidth;
  if (width > vw) problems.push(`the page is ${width}px wide in a ${vw}px viewport`);
  for (const panel of document.querySelectorAll('aside.panel')) {
    if (panel.scrollWidth > panel.clientWidth + 1) problems.push(`the panel scrolls sideways (${panel.scrollWidth} > ${panel.clientWidth})`);
  }
  const map = document.getElementById('map');
  if (map) {
    const r = map.getBoundingClientRect();
    const shown = Math.min(r.bottom, vh) - Math.max(r.top, 0);
    if (shown < vh / 2) problems.push(`the map shows ${Math.round(shown)}px of ${vh}px`);
  }
  const targets = document.querySelectorAll('button, a[href], input:not([type=hidden]), select, textarea, [role=button]');
  for (const el of targets) {
    const box = ['checkbox', 'radio'].includes(el.type) && el.closest('label') ? el.closest('label') : el;
    const r = box.getBoundingClientRect();
    if (!r.width || !r.height || getComputedStyle(el).visibility === 'hidden') continue;
    if (r.width < 43.5 || r.height < 43.5) {
      const name = (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
      problems.push(`${el.tagName.toLowerCase()}${name} "${(el.textContent || el.value || '').trim().slice(0, 20)}" is ${Math.round(r.width)}×${Math.round(r.height)}px`);
    }
  }
  return problems;
}"""


# The pages' server runs on this clock, whatever the wall clock says: a Wednesday noon in Beijing. Tests that
# depend on the hour move it (``clock.now = ...``) and put it back.
PAGES_NOW = DEMO_NOW


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock(PAGES_NOW)


@pytest.fixture(scope="module")
def db(demo_city_db: Database) -> Database:
    """The module's Helsinki copy with the demo districts, streets, communities, grids, stations and incidents
    (filed relative to ``PAGES_NOW``)."""
    return demo_city_db


@pytest.fixture(scope="module")
def demo_db(db: Database) -> Database:
    return db


def add_page_policy(app: FastAPI) -> None:
    """Send :data:`PAGE_CSP` (and frame refusal) on every response that does not carry a policy already."""

    @app.middleware("http")
    async def _policy(request: HttpRequest, call_next: Any) -> Response:
        response = await call_next(request)
        policy = AMAP_CSP if request.query_params.get("basemap") == "amap" else PAGE_CSP
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response


@pytest.fixture(scope="module")
def server(demo_db: Database, clock: ManualClock) -> Iterator[str]:
    app = create_app(db=demo_db, incident_settings=IncidentSettings(escalation_enabled=False), clock=clock)
    add_page_policy(app)
    with running_server(app) as base:
        yield base


@pytest.fixture(scope="module")
def http(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(demo_db: Database) -> dict[str, str]:
    """A bearer token per role (the value a user pastes into the page's token field)."""
    return {
        role: auth_headers(demo_db, role)["Authorization"].removeprefix("Bearer ")
        for role in ("planner", "dispatcher", "admin")
    }


def missing_routes(http: httpx.Client, paths: list[str]) -> set[str]:
    """Which of these API paths (with a query) this server does not have yet: FastAPI's bare 404."""
    missing = set()
    for path in paths:
        response = http.get(path)
        if response.status_code == 404 and response.json().get("detail") == "Not Found":
            missing.add(urlparse(path).path)
    return missing


def view_hash(bbox: tuple[float, float, float, float], viewport: dict[str, int] | None) -> str:
    """``#map=zoom/lat/lon`` showing ``bbox`` and a margin on a page's map: the viewport less the side panel and
    the header on a desktop; on a phone the part above the bottom sheet (under half the screen)."""
    west, south, east, north = bbox
    pad_x, pad_y = max((east - west) * 0.15, 0.0005), max((north - south) * 0.15, 0.00025)
    west, south, east, north = west - pad_x, south - pad_y, east + pad_x, north + pad_y
    size = viewport or DESKTOP
    if size["width"] <= PHONE_MAX_WIDTH:
        width, height = size["width"], size["height"] * 0.5 - 48
    else:
        width, height = size["width"] - 370, size["height"] - 50

    def mercator_y(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    zoom_x = math.log2(width * 360 / (256 * (east - west)))
    zoom_y = math.log2(height * 2 * math.pi / (256 * (mercator_y(north) - mercator_y(south))))
    zoom = math.floor(min(zoom_x, zoom_y) * 4) / 4  # Leaflet's zoom snap
    return f"#map={zoom}/{(south + north) / 2:.7f}/{(west + east) / 2:.7f}"


@dataclass
class Session:
    """One browser context and page with everything it asked for and everything it logged."""

    page: Page
    base: str
    foreign: list[str] = field(default_factory=list)
    stood_in: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    console_errors: list[ConsoleMessage] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def goto(
        self, path: str, bbox: tuple[float, float, float, float] | None = None, tiles: bool = True
    ) -> PlaywrightResponse | None:
        """Open a page (at the view that fits the WGS-84 ``bbox``, else the data's) until its script is ready
        and, with ``tiles``, its map drawn (clicks on what the page draws itself need no tiles); the
        document's response."""
        if bbox is not None:
            path += view_hash(bbox, self.page.viewport_size)
        response = self.page.goto(f"{self.base}{path}")
        self.page.wait_for_selector("body[data-ready=true]", timeout=PAGE_TIMEOUT_MS)
        if tiles:
            self.wait_map()
        return response

    def wait_for(self, expression: str, arg: Any = None) -> None:
        """Until the function ``expression`` (of ``arg``) returns a truthy value, tried every
        :data:`POLL_MS`: Playwright's default tries it on every animation frame, which keeps a page that has
        nothing to draw compositing frames (in software here) the whole wait."""
        self.page.wait_for_function(expression, arg=arg, polling=POLL_MS, timeout=PAGE_TIMEOUT_MS)

    def wait_map(self) -> None:
        """Until the MapLibre layer has its style and every visible tile loaded."""
        self.wait_for(
            "() => { const m = window.gs && gs.ctx.gl.getMaplibreMap(); return m && m.loaded() && m.areTilesLoaded(); }"
        )

    def rendered_features(self) -> int:
        """How many vector-tile features the map draws now (0 = a blank map)."""
        return self.page.evaluate("() => gs.ctx.gl.getMaplibreMap().queryRenderedFeatures().length")

    def point(self, lon: float, lat: float) -> tuple[float, float]:
        """Viewport pixel of a WGS-84 position on the page's map."""
        x, y = self.page.evaluate(
            """([lon, lat]) => { const p = gs.map.latLngToContainerPoint(gs.ctx.toLatLng([lon, lat]));
                 const r = document.getElementById('map').getBoundingClientRect(); return [p.x + r.left, p.y + r.top]; }""",
            [lon, lat],
        )
        return x, y

    def click_map(self, lon: float, lat: float) -> None:
        self.page.mouse.click(*self.point(lon, lat))

    def tap_map(self, lon: float, lat: float) -> None:
        """A finger's tap on the map (phone sessions)."""
        self.page.touchscreen.tap(*self.point(lon, lat))

    def layout_problems(self) -> list[str]:
        """What breaks the phone layout rules now: sideways overflow, a map under half the screen, tap targets
        under 44 px (visible buttons, links, inputs)."""
        return self.page.evaluate(LAYOUT_RULES)

    def screenshot(self, name: str, map_drawn: bool = True) -> Path:
        if map_drawn:
            self.wait_map()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def check_clean(self, allowed: dict[str, set[int]] | None = None) -> None:
        """No request left 127.0.0.1, no script error, and no console error except failed loads of
        ``allowed`` paths with the listed statuses (e.g. a dry run's 422, an endpoint not landed yet)."""
        allowed = allowed or {}
        assert not self.foreign, f"requests to other hosts: {self.foreign}"
        assert not self.page_errors, f"script errors: {self.page_errors}"
        unexpected = []
        for message in self.console_errors:
            url = (message.location or {}).get("url", "")
            failed_load = FAILED_LOAD.match(message.text)
            if failed_load and int(failed_load.group(1)) in allowed.get(urlparse(url).path, set()):
                continue
            unexpected.append(f"{message.text} ({url})")
        assert not unexpected, f"console errors: {unexpected}"


def host_pattern(suffix: str) -> re.Pattern[str]:
    """URLs of the host ``suffix`` and its subdomains."""
    return re.compile(rf"^[a-z]+://([^/?#]*\.)?{re.escape(suffix)}(:\d+)?[/?#]")


def answer_with(body: bytes, log: list[str]) -> Callable[[Route], None]:
    """A route handler that answers every request with the PNG ``body`` and logs its URL."""

    def answer(route: Route) -> None:
        log.append(route.request.url)
        route.fulfill(status=200, body=body, content_type="image/png")

    return answer


@dataclass
class Tab:
    """A browser context with its one page, kept by the module for its next session with the same options."""

    context: BrowserContext
    page: Page
    cdp: CDPSession


@pytest.fixture(scope="module")
def idle_tabs() -> Iterator[dict[str, list[Tab]]]:
    """The module's tabs between sessions, by their context options. A session in a tab that an earlier test
    used costs ~0.45 CPU s less than one in a new context (the renderer process, its compiled scripts and the
    context are kept: 6 map pages 11.5 -> 9.0 CPU s); :func:`reset_tab` leaves nothing of the earlier test."""
    idle: dict[str, list[Tab]] = {}
    yield idle
    for tabs in idle.values():
        for tab in tabs:
            tab.context.close()


def reset_tab(tab: Tab, base: str) -> bool:
    """Make a used tab what a new context's is: no document, nothing stored for the service's origin (local and
    session storage, IndexedDB, caches, cookies, the HTTP cache), no permission, no geolocation, online, no
    route, no emulated media. False when that cannot be vouched for (the page left the service's origin, whose
    session storage only its own documents can clear; another page is open; a step failed): close it then."""
    page, context = tab.page, tab.context
    try:
        if page.is_closed() or len(context.pages) != 1 or urlparse(page.url).netloc != urlparse(base).netloc:
            return False
        page.evaluate("() => sessionStorage.clear()")
        page.goto("about:blank")
        tab.cdp.send("Storage.clearDataForOrigin", {"origin": base, "storageTypes": "all"})
        tab.cdp.send("Network.clearBrowserCache")
        context.clear_permissions()
        context.set_geolocation(None)
        context.set_offline(False)
        page.unroute_all()
        page.emulate_media(media="null")
    except PlaywrightError:
        return False
    return True


@pytest.fixture
def session_factory(browser: Browser, server: str, idle_tabs: dict[str, list[Tab]]) -> Iterator[Any]:
    """``open(viewport=..., token=..., geolocation=..., stand_ins=..., hidpi=...)`` → a :class:`Session` in a
    tab of its own for this test (a new context, or one of the module's reset by :func:`reset_tab`: nothing an
    earlier test stored is left). ``stand_ins`` maps host suffixes to the bytes answered for them instead of
    failing (such a context is never kept); ``hidpi`` makes a phone's screen two device pixels per CSS pixel (the
    README's phone screenshots, 780×1688)."""
    used: list[tuple[Tab, str | None, list[Callable[[], Any]]]] = []
    host = urlparse(server).hostname

    def open_session(
        viewport: dict[str, int] = DESKTOP,
        phone: bool = False,
        token: str | None = None,
        geolocation: tuple[float, float] | None = None,
        storage: dict[str, str] | None = None,
        stand_ins: dict[str, bytes] | None = None,
        hidpi: bool = False,
    ) -> Session:
        # reduced motion: the map jumps instead of animating (every animation frame is a redraw in software
        # WebGL here); the tests wait for where a move ends, not for its frames
        options: dict[str, Any] = {
            "viewport": viewport,
            "locale": "zh-CN",
            "timezone_id": "Asia/Shanghai",
            "reduced_motion": "reduce",
        }
        if phone:
            # one device pixel per CSS pixel: the layout (all the checks measure) is the same at two, the map
            # costs four times the pixels to draw in software WebGL; ``hidpi`` for the README's screenshots
            options |= {
                "viewport": PHONE,
                "is_mobile": True,
                "has_touch": True,
                "device_scale_factor": 2 if hidpi else 1,
            }
        key = None if stand_ins else json.dumps(options, sort_keys=True)
        kept = idle_tabs.get(key, []) if key else []
        if kept:
            tab = kept.pop()
        else:
            context = browser.new_context(**options)
            context.add_init_script(CSP_WATCH)
            page = context.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            tab = Tab(context=context, page=page, cdp=context.new_cdp_session(page))
        context, page = tab.context, tab.page
        undo: list[Callable[[], Any]] = []
        used.append((tab, key, undo))
        if geolocation:
            context.set_geolocation({"longitude": geolocation[0], "latitude": geolocation[1]})
            context.grant_permissions(["geolocation"])
        values = dict(storage or {})
        if values:
            # the first load only: a reload must show what the page itself stored
            script = context.add_init_script(
                f"if (!sessionStorage.getItem('seeded')) {{ sessionStorage.setItem('seeded', '1');"
                f" for (const [k, v] of Object.entries({json.dumps(values)})) localStorage.setItem(k, v); }}"
            )
            undo.append(script.close)
        if token:
            # the pages keep the token in sessionStorage (this tab only), as a user's paste would leave it
            script = context.add_init_script(
                f"if (!sessionStorage.getItem('token-seeded')) {{ sessionStorage.setItem('token-seeded', '1');"
                f" sessionStorage.setItem('geo-service:token', {json.dumps(token)}); }}"
            )
            undo.append(script.close)
        session = Session(page=page, base=server)
        stood_in_hosts = [host_pattern(suffix) for suffix in stand_ins or {}]

        def seen(request: Request) -> None:
            """Every request, observed (not intercepted): Chromium resolves no host name but 127.0.0.1
            (CHROMIUM_ARGS' host resolver rules), so a request for another host fails in the browser and is
            recorded here as foreign, which fails the test (``check_clean``)."""
            url = urlparse(request.url)
            if url.scheme not in NETWORK_SCHEMES:
                return  # data:, blob: and the like never leave the page
            hostname = url.hostname or ""
            if hostname == host:
                session.requests.append(request.url)
            elif not any(pattern.match(request.url) for pattern in stood_in_hosts):
                session.foreign.append(request.url)

        def console(message: ConsoleMessage) -> None:
            if message.type == "error":
                session.console_errors.append(message)

        def page_error(exc: Exception) -> None:
            session.page_errors.append(str(exc))

        context.on("request", seen)
        page.on("console", console)
        page.on("pageerror", page_error)
        undo += [
            lambda: context.remove_listener("request", seen),
            lambda: page.remove_listener("console", console),
            lambda: page.remove_listener("pageerror", page_error),
        ]
        for pattern, body in zip(stood_in_hosts, (stand_ins or {}).values(), strict=True):
            # an external basemap a deployment chose (an intranet mirror stands in for it here): only these
            # hosts are intercepted; routing every request would cost a round trip to Python per tile and
            # turn off the browser's cache
            context.route(pattern, answer_with(body, session.stood_in))
        return session

    yield open_session
    for tab, key, undo in used:
        for step in undo:
            step()
        if key is not None and reset_tab(tab, server):
            idle_tabs.setdefault(key, []).append(tab)
        else:
            tab.context.close()
