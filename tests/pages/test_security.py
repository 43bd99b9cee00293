"""The pages under the strict Content-Security-Policy they are deployed with, and the bearer token's life in
the browser: this tab only (sessionStorage), gone on sign out, never in localStorage."""

from __future__ import annotations

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.pages.conftest import PAGE_CSP

pytestmark = pytest.mark.slow
TOKEN_KEY = "geo-service:token"


# The planner, dispatch and circles pages (and the stations page at a phone's width) under the policy, map
# drawn: tests/pages/test_browser.py's page-load test, which loads them with the same checks (one page load
# each instead of two).
@pytest.mark.parametrize("name", ["index", "stations"])
def test_page_runs_under_the_strict_policy(session_factory, tokens, name: str) -> None:
    """Each page loads, draws its map and fills itself in with the policy on: no violation is reported
    (the session turns every `securitypolicyviolation` into a console error, and console errors fail)."""
    s = session_factory(token=tokens["admin"])
    response = s.page.goto(f"{s.base}/app" if name == "index" else f"{s.base}/app/{name}")
    assert response is not None and response.headers["content-security-policy"] == PAGE_CSP
    assert response.headers["x-frame-options"] == "DENY"
    if name == "index":
        s.page.wait_for_selector("a.card")
    else:
        s.page.wait_for_selector("body[data-ready=true]")
        s.wait_map()
        assert s.rendered_features() > 50
    s.page.wait_for_timeout(300)  # late violations (workers, styles set after load) are reported too
    s.check_clean()


def test_docs_load_with_local_assets_only(session_factory, http) -> None:
    """/docs is Swagger UI from /vendor/swagger-ui-dist (FastAPI's default page loads it from a CDN and stays
    blank offline): it renders the operations with no request leaving the machine and no violation."""
    s = session_factory()
    response = s.page.goto(f"{s.base}/docs")
    assert response is not None and response.status == 200
    assert response.headers["content-security-policy"] == PAGE_CSP
    s.page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    operations = s.page.locator(".swagger-ui .opblock").count()
    assert operations >= len(
        [p for p in http.get("/openapi.json").json()["paths"] if p.startswith("/api/grids")]
    )
    assert any("/vendor/swagger-ui-dist/swagger-ui-bundle.js" in u for u in s.requests)
    assert any(u.endswith("/openapi.json") for u in s.requests)
    s.screenshot("docs", map_drawn=False)
    s.check_clean()
    assert http.get("/redoc", follow_redirects=False).headers["location"] == "/docs"


def test_token_lives_in_this_tab_only_and_signs_out(session_factory, browser, tokens) -> None:
    s = session_factory()
    s.goto("/app/dispatch", tiles=False)
    assert s.page.is_hidden("#sign-out")
    s.page.fill("#token", tokens["dispatcher"])
    s.page.press("#token", "Enter")
    s.page.wait_for_selector("#token-status.ok")
    s.page.wait_for_selector("#queue li[data-incident]")
    stored = s.page.evaluate(
        f"() => [localStorage.getItem('{TOKEN_KEY}'), sessionStorage.getItem('{TOKEN_KEY}')]"
    )
    assert stored == [None, tokens["dispatcher"]]
    # a reload in the same tab keeps it; another tab does not have it
    s.page.reload()
    s.page.wait_for_selector("#token-status.ok")
    other = s.page.context.new_page()
    other.goto(f"{s.base}/app/dispatch")
    other.wait_for_selector("body[data-ready=true]")
    assert other.input_value("#token") == ""
    assert other.evaluate(f"() => sessionStorage.getItem('{TOKEN_KEY}')") is None
    other.close()
    # sign out: the token is gone from the page and the storage, and the queue needs it again
    s.page.click("#sign-out")
    s.page.wait_for_selector("#sign-out", state="hidden")
    assert s.page.input_value("#token") == ""
    assert s.page.evaluate(f"() => sessionStorage.getItem('{TOKEN_KEY}')") is None
    assert "调度员令牌" in s.page.inner_text("#queue")
    assert s.page.locator("#queue li[data-incident]").count() == 0
    s.check_clean()


def test_a_token_left_in_local_storage_is_moved_out(session_factory, tokens) -> None:
    """Pages from before kept the token in localStorage (on disk, every tab): the first load moves it to this
    tab's sessionStorage and deletes the old copy."""
    s = session_factory(storage={TOKEN_KEY: tokens["planner"]})
    s.goto("/app/planner", tiles=False)
    s.page.wait_for_selector("#token-status.ok")
    stored = s.page.evaluate(
        f"() => [localStorage.getItem('{TOKEN_KEY}'), sessionStorage.getItem('{TOKEN_KEY}')]"
    )
    assert stored == [None, tokens["planner"]]
    s.check_clean()


FOREIGN = ["http://example.com/", "https://tile.openstreetmap.org/0/0/0.png", "http://192.0.2.1/"]


def test_a_request_for_another_host_fails_and_fails_the_test(session_factory) -> None:
    """The sessions' guard: a page that asks another host (by name or by address) gets nothing (Chromium
    resolves no host but 127.0.0.1) and the request is recorded, so that ``check_clean`` fails the test."""
    s = session_factory()
    s.page.goto(f"{s.base}/app")
    s.page.wait_for_selector("a.card")
    for url in FOREIGN:
        # a navigation: the page's policy does not stop it, the resolver does (at once, no connection tried)
        with pytest.raises(PlaywrightError, match="ERR_NAME_NOT_RESOLVED"):
            s.page.goto(url, timeout=5_000)
    assert s.foreign == FOREIGN
    with pytest.raises(AssertionError, match="requests to other hosts"):
        s.check_clean()
