"""The overview map (``/maps/overview.html``): the imported walking network, homes and facilities."""

from __future__ import annotations

import html

from geo_service.db.cache import RevisionCache
from geo_service.db.pool import Database
from geo_service.db.revisions import watch_of
from geo_service.maps.assets import local_map
from geo_service.osm.rules import FacilityRules
from geo_service.store import overview

MAX_EDGES = 60_000
MAX_POINTS = 20_000
CATEGORY_COLOURS = {
    "grocery": "#2e7d32",
    "market": "#558b2f",
    "pharmacy": "#c62828",
    "clinic": "#d81b60",
    "hospital": "#b71c1c",
    "school": "#1565c0",
    "kindergarten": "#42a5f5",
    "childcare": "#64b5f6",
    "elderly_care": "#6a1b9a",
    "canteen": "#ef6c00",
    "restaurant": "#ffa726",
    "community_center": "#8e24aa",
    "sports": "#00897b",
    "park": "#43a047",
    "toilet": "#6d4c41",
    "drinking_water": "#0288d1",
    "bank": "#fbc02d",
    "post": "#2e7d32",
    "police": "#283593",
    "bus_stop": "#546e7a",
}
BASEMAP_STYLE = {
    "water": {"color": "#90caf9", "weight": 0, "fillColor": "#bbdefb", "fillOpacity": 1},
    "green": {"color": "#a5d6a7", "weight": 0, "fillColor": "#c8e6c9", "fillOpacity": 0.9},
    "building": {"color": "#bdbdbd", "weight": 0.5, "fillColor": "#e0e0e0", "fillOpacity": 1},
}


# What the page shows: the walking edges, homes, facilities and the basemap. It is drawn again only when one of
# them moved (a ~0.3 CPU s page of up to 60,000 edges, the same for every caller).
PAGE_ENTITIES = ("network", "residences", "facilities", "basemap")
_PAGES: RevisionCache[str] = RevisionCache()


def overview_html(db: Database) -> str:
    """A self-contained HTML page (assets from /vendor) of everything imported."""
    revisions = watch_of(db).revisions(PAGE_ENTITIES)
    return _PAGES.get(db, tuple(revisions[e] for e in PAGE_ENTITIES), lambda: _draw(db))


def _draw(db: Database) -> str:
    import folium  # imported by the first page drawn, not at start

    with db.cursor(dict_rows=False) as cur:
        extent = overview.data_extent(cur)
        network = overview.network_features(cur, MAX_EDGES)
        homes = overview.residence_features(cur, MAX_POINTS)
        facilities = overview.facility_features(cur, MAX_POINTS)
        background = overview.basemap_features(cur, ("water", "green", "building"), MAX_EDGES)
    fmap = local_map(location=[0, 0], zoom_start=2, control_scale=True, prefer_canvas=True)
    if extent:
        west, south, east, north = extent
        fmap.fit_bounds([[south, west], [north, east]])
    folium.GeoJson(
        {"type": "FeatureCollection", "features": background},
        name="basemap (water, green, buildings)",
        style_function=lambda f: BASEMAP_STYLE[f["properties"]["kind"]],
    ).add_to(fmap)
    folium.GeoJson(
        {"type": "FeatureCollection", "features": network},
        name=f"walking network ({len(network):,} edges)",
        style_function=lambda f: {
            "color": "#d84315" if f["properties"]["steps"] else "#455a64",
            "weight": 1.2,
        },
    ).add_to(fmap)
    folium.GeoJson(
        {"type": "FeatureCollection", "features": homes},
        name=f"residences ({len(homes):,})",
        marker=folium.CircleMarker(radius=3, fill=True, weight=0, fill_opacity=0.6),
        style_function=lambda _f: {"fillColor": "#5c6bc0"},
        tooltip=folium.GeoJsonTooltip(fields=["households", "building", "address"]),
    ).add_to(fmap)
    folium.GeoJson(
        {"type": "FeatureCollection", "features": facilities},
        name=f"facilities ({len(facilities):,})",
        marker=folium.CircleMarker(radius=5, fill=True, weight=1, color="#ffffff", fill_opacity=0.9),
        style_function=lambda f: {"fillColor": CATEGORY_COLOURS.get(f["properties"]["category"], "#212121")},
        tooltip=folium.GeoJsonTooltip(fields=["name", "category"]),
    ).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    present = sorted({f["properties"]["category"] for f in facilities})
    fmap.get_root().html.add_child(folium.Element(_legend(present)))  # type: ignore[attr-defined]
    return fmap.get_root().render()


def _legend(categories: list[str]) -> str:
    """A fixed legend of the facility categories on the map, in Chinese and English."""
    zh, en = FacilityRules.load().labels("zh"), FacilityRules.load().labels("en")
    rows = "".join(
        f'<div><span style="display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:6px;'
        f'background:{CATEGORY_COLOURS.get(c, "#212121")}"></span>{html.escape(zh.get(c, c))} '
        f'<span style="color:#666">{html.escape(en.get(c, c))}</span></div>'
        for c in categories
    )
    return (
        '<div style="position:fixed;bottom:30px;right:10px;z-index:1000;background:rgba(255,255,255,.92);'
        'padding:8px 10px;font:12px sans-serif;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3)">'
        f"<b>设施 Facilities</b>{rows}<div style='margin-top:4px;color:#666'>© OpenStreetMap contributors</div></div>"
    )
