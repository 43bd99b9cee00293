"""The page routes without a browser: what is served, what is refused, and that every asset is local."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from geo_service import web
from geo_service.api.app import web_assets_dir
from geo_service.incidents.states import TRANSITIONS, manual_transitions
from geo_service.settings import APISettings

PAGES = ["planner", "stations", "dispatch", "circles", "worker", "dashboard"]


@pytest.mark.parametrize("page", ["", *PAGES])
def test_pages_are_html_with_local_assets_only(client: TestClient, page: str) -> None:
    response = client.get(f"/app/{page}".rstrip("/"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<html lang="zh-CN">' in html  # Chinese by default
    assert "<!--#" not in html and "{body}" not in html  # the page line was expanded into the shell
    # every URL in the page is a path on this service: no CDN, no other host
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and all(u.startswith("/") for u in urls), urls
    scripts = re.findall(r'src="([^"]+)"', html)
    assert any(s.startswith("/app/static/js/") for s in scripts)


@pytest.mark.parametrize("page", [*PAGES, "index"])
def test_every_vendor_file_a_page_names_is_installed(client: TestClient, page: str) -> None:
    """The npm packages the pages use are in web/package.json, installed under web/node_modules and
    served under /vendor (a missing package would leave a page without its map)."""
    assets = web_assets_dir(APISettings())
    assert assets is not None, "web/node_modules is missing: run `make web` (npm ci in web/)"
    html = web.render_page(page)
    vendor = re.findall(r'(?:src|href)="/vendor/([^"]+)"', html)
    assert vendor
    for path in vendor:
        assert (assets / path).is_file(), path
        assert client.get(f"/vendor/{path}").status_code == 200, path


def test_static_files_and_refusals(client: TestClient) -> None:
    js = client.get("/app/static/js/common.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert client.get("/app/static/css/app.css").headers["content-type"].startswith("text/css")
    assert client.get("/app/static/img/favicon.svg").status_code == 200
    for bad in (
        "../__init__.py",
        "js/../../__init__.py",
        "planner.html",
        "js/missing.js",
        "%2e%2e/api/app.py",
    ):
        assert client.get(f"/app/static/{bad}").status_code == 404, bad
    assert client.get("/app/nonsense").status_code == 404


def test_no_page_source_names_another_host() -> None:
    """The sources themselves fetch nothing from outside (links in text such as the OSM licence aside)."""
    for path in web.WEB_DIR.rglob("*"):
        if path.suffix in (".js", ".html", ".css"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"""(?:fetch|import|src=|href=|url\()\s*\(?["']?(?:https?:)?//""", text), (
                path
            )


def test_config_lists_the_incident_loop(client: TestClient) -> None:
    config = client.get("/app/config.json").json()
    assert config["levels"] == ["district", "street", "community", "grid"]
    moves = {(m["from"], m["to"]): m for m in config["incident_transitions"]}
    # the buttons: every move but those only a callback makes (closing, reopening an unsatisfied case)
    assert set(moves) == {(t.from_status, t.to_status) for t in manual_transitions()}
    assert set(TRANSITIONS) - set(moves) == {k for k, t in TRANSITIONS.items() if t.via == "feedback"}
    assert ("verified", "closed") not in moves and config["callback_states"] == ["resolved", "verified"]
    assert "worker" in moves[("dispatched", "in_progress")]["roles"]
    assert moves[("reported", "rejected")]["note_required"] is True
    assert moves[("closed", "filed")]["roles"] == ["admin"]
    assert "dispatcher" in moves[("reported", "filed")]["roles"]


def test_page_sources_keep_to_the_content_security_policy() -> None:
    """The pages run under ``script-src 'self'; style-src 'self'`` (no 'unsafe-inline', no 'unsafe-eval'): no
    inline script, no inline event handler, no style attribute in markup, no eval or code in strings."""
    unsafe = {
        "inline script": r"<script(?![^>]*\bsrc=)[^>]*>",
        "inline event handler": r"<[a-z][^>]*\son[a-z]+\s*=",
        "style attribute": r"""\sstyle\s*=\s*["'\\]|setAttribute\(\s*["']style""",
        "eval": r"\beval\s*\(|\bnew\s+Function\s*\(|set(?:Timeout|Interval)\(\s*[\"'`]",
    }
    for path in web.WEB_DIR.rglob("*"):
        if path.suffix in (".js", ".html"):
            text = path.read_text(encoding="utf-8")
            for what, pattern in unsafe.items():
                assert not re.search(pattern, text), f"{what} in {path}"


def test_docs_page_uses_local_assets(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    urls = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert "/vendor/swagger-ui-dist/swagger-ui-bundle.js" in urls
    assert all(u.startswith(("/vendor/", "/app/static/")) for u in urls), urls
    assert 'data-openapi-url="/openapi.json"' in response.text
    for path in urls:
        assert client.get(path).status_code == 200, path
    assert client.get("/redoc", follow_redirects=False).headers["location"] == "/docs"


def test_unknown_page_is_a_coded_404_in_the_callers_language(client: TestClient) -> None:
    zh = client.get("/app/nonsense").json()
    assert zh["code"] == "page.not_found" and "页面" in zh["message"] and "planner" in zh["message"]
    en = client.get("/app/nonsense", headers={"Accept-Language": "en"}).json()
    assert (
        en["message"]
        == en["detail"]
        == "no page 'nonsense'; pages: planner, stations, dispatch, circles, worker, dashboard"
    )
    asset = client.get("/app/static/js/missing.js").json()
    assert asset["code"] == "page.asset_not_found" and "missing.js" in asset["message"]
