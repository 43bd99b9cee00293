"""Folium with local assets: every JS/CSS file comes from the service (``/vendor``, filled by npm), never
from a CDN — deployments sit on intranets with no internet."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import folium

VENDOR = "/vendor"
LOCAL_JS = [
    ("leaflet", f"{VENDOR}/leaflet/dist/leaflet.js"),
    ("jquery", f"{VENDOR}/jquery/dist/jquery.min.js"),
    ("bootstrap", f"{VENDOR}/bootstrap/dist/js/bootstrap.bundle.min.js"),
    ("awesome_markers", f"{VENDOR}/leaflet.awesome-markers/dist/leaflet.awesome-markers.js"),
]
LOCAL_CSS = [
    ("leaflet_css", f"{VENDOR}/leaflet/dist/leaflet.css"),
    ("bootstrap_css", f"{VENDOR}/bootstrap/dist/css/bootstrap.min.css"),
    ("awesome_markers_font_css", f"{VENDOR}/@fortawesome/fontawesome-free/css/all.min.css"),
    ("awesome_markers_css", f"{VENDOR}/leaflet.awesome-markers/dist/leaflet.awesome-markers.css"),
]


def local_map(**kwargs: Any) -> folium.Map:
    """A folium Map whose assets are served locally and whose background is blank (no tile server)."""
    import folium  # half a second of imports (branca, jinja2): paid by the first map, not at start

    fmap = folium.Map(tiles=None, **kwargs)
    fmap.default_js = list(LOCAL_JS)
    fmap.default_css = list(LOCAL_CSS)
    return fmap
