"""The web pages (``/app/...``): HTML, JS and CSS files in this folder, served by the service.

Pages load third-party JS/CSS only from ``/vendor`` (npm packages installed by ``make``, never a CDN), so they
work on an intranet with no internet. A page file holds its body, after a first line
``<!--#page title="…" vendor="a b c" class="…"-->``; :func:`render_page` puts it into ``shell.html`` (the head,
the header the page script fills, the page's script ``js/<name>.js``) with ``<link>``/``<script>`` tags for the
named vendor bundles.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from geo_service.errors import NotFound

WEB_DIR = Path(__file__).resolve().parent
PAGES = ("index", "planner", "stations", "dispatch", "circles", "worker", "dashboard")
STATIC_SUFFIXES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png"}

# Vendor bundles: (stylesheets, scripts) under /vendor, in load order.
VENDOR: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "leaflet": (("leaflet/dist/leaflet.css",), ("leaflet/dist/leaflet.js",)),
    "maplibre": (
        ("maplibre-gl/dist/maplibre-gl.css",),
        ("maplibre-gl/dist/maplibre-gl.js", "@maplibre/maplibre-gl-leaflet/leaflet-maplibre-gl.js"),
    ),
    "geoman": (
        ("@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.css",),
        ("@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.min.js",),
    ),
    "turf": ((), ("@turf/turf/turf.min.js",)),
    "icons": (("@fortawesome/fontawesome-free/css/all.min.css",), ()),
    "echarts": ((), ("echarts/dist/echarts.min.js",)),
}
_PAGE_LINE = re.compile(r"\A<!--#page((?:\s+[a-z]+=\"[^\"]*\")*)\s*-->\n")
_ATTRIBUTE = re.compile(r'([a-z]+)="([^"]*)"')


def vendor_tags(names: list[str]) -> str:
    """``<link>`` and ``<script>`` tags for the named bundles (stylesheets first, scripts in order)."""
    unknown = [n for n in names if n not in VENDOR]
    if unknown:
        raise ValueError(f"unknown vendor bundles {unknown}; known: {sorted(VENDOR)}")
    css = [f'<link rel="stylesheet" href="/vendor/{href}">' for n in names for href in VENDOR[n][0]]
    js = [f'<script src="/vendor/{src}"></script>' for n in names for src in VENDOR[n][1]]
    return "\n".join(css + js)


def render_page(name: str) -> str:
    """The HTML of page ``name`` (one of :data:`PAGES`): its body in the shared shell, vendor tags filled in."""
    if name not in PAGES:
        raise NotFound("page.not_found", page=name, pages=[p for p in PAGES if p != "index"])
    source = (WEB_DIR / f"{name}.html").read_text(encoding="utf-8")
    directive = _PAGE_LINE.match(source)
    if directive is None:
        raise ValueError(f"{name}.html must start with <!--#page title=... vendor=...-->")
    attributes = dict(_ATTRIBUTE.findall(directive.group(1)))
    fields = {
        "title": html.escape(attributes.get("title", name)),
        "vendor": vendor_tags(attributes.get("vendor", "").split()),
        "body_class": html.escape(attributes.get("class", "")),
        "body": source[directive.end() :],
        "name": name,
    }
    shell = (WEB_DIR / "shell.html").read_text(encoding="utf-8")
    return re.sub(r"\{(title|vendor|body_class|body|name)\}", lambda m: fields[m.group(1)], shell)


def render_docs(openapi_url: str) -> str:
    """The API documentation page: Swagger UI from ``/vendor/swagger-ui-dist`` reading ``openapi_url``."""
    template = (WEB_DIR / "docs.html").read_text(encoding="utf-8")
    return template.replace("{openapi_url}", html.escape(openapi_url, quote=True))


def static_file(path: str) -> tuple[Path, str]:
    """The file under ``js/``, ``css/`` or ``img/`` that ``path`` names, and its media type.

    Raises
    ------
    NotFound
        For anything else (other suffixes, paths leaving the folder, missing files).
    """
    candidate = (WEB_DIR / path).resolve()
    media_type = STATIC_SUFFIXES.get(candidate.suffix)
    inside = candidate.is_relative_to(WEB_DIR) and candidate.parent != WEB_DIR
    if media_type is None or not inside or not candidate.is_file():
        raise NotFound("page.asset_not_found", path=path)
    return candidate, media_type
