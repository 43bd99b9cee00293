"""The web pages (``/app/...``): HTML, JS and CSS files in this folder, served by the service.

Pages load third-party JS/CSS only from ``/vendor`` (npm packages installed by ``make``, never a CDN), so they
work on an intranet with no internet. A page file names the vendor bundles it needs in a
``<!--#vendor a b c-->`` line, which :func:`render_page` expands into ``<link>``/``<script>`` tags.
"""

from __future__ import annotations

import re
from pathlib import Path

from geo_service.errors import NotFound

WEB_DIR = Path(__file__).resolve().parent
PAGES = ("index", "planner", "stations", "dispatch", "circles")
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
}
_VENDOR_LINE = re.compile(r"<!--#vendor ([a-z ]+)-->")


def vendor_tags(names: list[str]) -> str:
    """``<link>`` and ``<script>`` tags for the named bundles (stylesheets first, scripts in order)."""
    unknown = [n for n in names if n not in VENDOR]
    if unknown:
        raise ValueError(f"unknown vendor bundles {unknown}; known: {sorted(VENDOR)}")
    css = [f'<link rel="stylesheet" href="/vendor/{href}">' for n in names for href in VENDOR[n][0]]
    js = [f'<script src="/vendor/{src}"></script>' for n in names for src in VENDOR[n][1]]
    return "\n".join(css + js)


def render_page(name: str) -> str:
    """The HTML of page ``name`` (one of :data:`PAGES`) with its vendor tags filled in."""
    if name not in PAGES:
        raise NotFound(f"no page {name!r}; pages: {', '.join(p for p in PAGES if p != 'index')}")
    html = (WEB_DIR / f"{name}.html").read_text(encoding="utf-8")
    return _VENDOR_LINE.sub(lambda m: vendor_tags(m.group(1).split()), html)


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
        raise NotFound(f"no page asset {path!r}")
    return candidate, media_type
