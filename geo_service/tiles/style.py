"""The MapLibre style built from the catalogue, and the external basemaps a deployment may choose.

Our own basemap (``local``) is drawn from the imported OpenStreetMap layers through our own tiles, so a
page works with no internet. The style has no text labels, hence no ``glyphs``: MapLibre needs glyph PBFs
only for ``text-field`` and we serve none (pages label with HTML popups instead).

External basemaps are raster tiles: OpenStreetMap, Tianditu (天地图, CGCS2000 ≈ WGS-84, needs a key) and
AMap (高德, GCJ-02). Over AMap every overlay is fetched with ``crs=gcj02`` so the server shifts it into
the basemap's coordinates; ``metadata["geo-service:crs"]`` tells a page to shift any GeoJSON it draws
itself (isochrones, routes) the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal, NotRequired

from pydantic import Field
from typing_extensions import TypedDict  # pydantic documents Style on Python 3.11

from geo_service.errors import BadRequest
from geo_service.layers.model import Layer, StyleLayer
from geo_service.settings import MapSettings

BASEMAPS = ("local", "osm", "tianditu", "amap")
BACKGROUND = "#f2efe9"


@dataclass(frozen=True)
class Basemap:
    """A raster basemap: URL templates (``{z}/{x}/{y}``), attribution and the coordinates its tiles use."""

    kind: str
    tiles: tuple[str, ...]
    attribution: str
    crs: str  # wgs84 or gcj02
    max_zoom: int = 18


def external_basemap(kind: str, settings: MapSettings) -> Basemap:
    """The raster basemap ``kind`` with the deployment's URL/key; ``settings.basemap_url`` overrides the URL."""
    custom = (settings.basemap_url,) if settings.basemap_url else None
    if kind == "osm":
        return Basemap(
            "osm",
            custom or ("https://tile.openstreetmap.org/{z}/{x}/{y}.png",),
            "© OpenStreetMap contributors",
            "wgs84",
            19,
        )
    if kind == "tianditu":
        key = settings.basemap_key or ""
        default = tuple(
            f"https://t{n}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
            f"&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
            f"&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
            for layer in ("vec",)
            for n in range(8)
        )
        return Basemap("tianditu", custom or default, "© 天地图 Tianditu", "wgs84")
    if kind == "amap":
        default = tuple(
            f"https://webrd0{n}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
            "&x={x}&y={y}&z={z}"
            for n in range(1, 5)
        )
        return Basemap("amap", custom or default, "© 高德地图 AutoNavi", "gcj02")
    raise ValueError(f"no external basemap {kind!r}")


class VectorSource(TypedDict):
    type: Literal["vector"]
    url: Annotated[str, Field(description="the TileJSON of the source's layers")]


class RasterSource(TypedDict):
    type: Literal["raster"]
    tiles: list[str]
    tileSize: int
    maxzoom: int
    attribution: str


class Overlay(TypedDict):
    id: str
    title: str
    title_zh: str | None
    source: str
    style_layers: Annotated[list[str], Field(description="ids of the style layers that draw it")]


# the members' names carry the service's prefix, as the style spec asks of metadata
StyleMetadata = TypedDict(
    "StyleMetadata",
    {
        "geo-service:basemap": str,
        "geo-service:crs": str,
        "geo-service:overlays": list[Overlay],
        "geo-service:bounds": NotRequired[list[float]],
    },
)


class Style(TypedDict):
    """A MapLibre style specification document (version 8)."""

    version: Literal[8]
    name: str
    metadata: StyleMetadata
    center: Annotated[list[float], Field(description="[lon, lat]")]
    zoom: float
    sources: dict[str, VectorSource | RasterSource]
    layers: list[StyleLayer]


def parse_basemap(kind: str) -> str:
    """``kind`` if it names a basemap; 400 otherwise."""
    if kind not in BASEMAPS:
        raise BadRequest("basemap.unknown", basemap=kind, choices=list(BASEMAPS))
    return kind


def _style_layers(layer: Layer, source: str) -> list[StyleLayer]:
    out = []
    for entry in layer.style:
        item = {"id": entry["id"], "type": entry["type"], "source": source, "source-layer": layer.id}
        item.update({k: v for k, v in entry.items() if k not in ("id", "type")})
        item.setdefault("minzoom", layer.minzoom)
        out.append(item)
    return out


def build_style(
    layers: list[Layer],
    base_url: str,
    basemap: str,
    settings: MapSettings,
    bounds: tuple[float, float, float, float] | None = None,
) -> Style:
    """A MapLibre style (spec v8) for the served ``layers`` over ``basemap``.

    Sources point at our TileJSON documents (``{base_url}/tiles/{ids}.json``), so tile URLs carry the
    current data revision. Basemap layers share one composite source ``basemap``; each overlay has its
    own source named after its layer id, which a page can refresh alone after an edit.
    """
    parse_basemap(basemap)
    crs = "wgs84"
    sources: dict[str, VectorSource | RasterSource] = {}
    style_layers: list[StyleLayer] = [
        {"id": "background", "type": "background", "paint": {"background-color": BACKGROUND}}
    ]
    ordered = sorted(layers, key=lambda layer: (layer.order, layer.id))
    base_layers = [layer for layer in ordered if layer.group == "basemap"]
    if basemap == "local":
        if base_layers:
            ids = ",".join(layer.id for layer in base_layers)
            sources["basemap"] = {"type": "vector", "url": f"{base_url}/tiles/{ids}.json"}
            for layer in base_layers:
                style_layers += _style_layers(layer, "basemap")
    else:
        external = external_basemap(basemap, settings)
        crs = external.crs
        sources["basemap"] = {
            "type": "raster",
            "tiles": list(external.tiles),
            "tileSize": 256,
            "maxzoom": external.max_zoom,
            "attribution": external.attribution,
        }
        style_layers.append({"id": "basemap-raster", "type": "raster", "source": "basemap"})
    suffix = "?crs=gcj02" if crs == "gcj02" else ""
    overlays = [layer for layer in ordered if layer.group == "overlay"]
    for layer in overlays:
        sources[layer.id] = {"type": "vector", "url": f"{base_url}/tiles/{layer.id}.json{suffix}"}
        style_layers += _style_layers(layer, layer.id)
    metadata: StyleMetadata = {
        "geo-service:basemap": basemap,
        "geo-service:crs": crs,
        "geo-service:overlays": [
            {
                "id": layer.id,
                "title": layer.title,
                "title_zh": layer.title_zh,
                "source": layer.id,
                "style_layers": [entry["id"] for entry in layer.style],
            }
            for layer in overlays
        ],
    }
    center, zoom = [0.0, 0.0], 1.0
    if bounds is not None:
        west, south, east, north = bounds
        metadata["geo-service:bounds"] = list(bounds)
        center = [(west + east) / 2, (south + north) / 2]
        span_deg = max(east - west, (north - south) * 1.5, 1e-4)
        zoom = round(max(0.0, min(16.0, math.log2(360.0 / span_deg))), 1)
    return {
        "version": 8,
        "name": f"geo-service ({basemap})",
        "metadata": metadata,
        "center": center,
        "zoom": zoom,
        "sources": sources,
        "layers": style_layers,
    }
