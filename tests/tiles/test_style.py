"""The MapLibre style: valid per MapLibre's own validator, offline (every URL on our server, no glyphs),
every source resolving to a TileJSON, external basemaps with the GCJ-02 shift for AMap."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from geo_service.layers import load_layers
from geo_service.settings import MapSettings
from geo_service.tiles.style import build_style
from tests.documented import answered

REPO = Path(__file__).resolve().parents[2]
VALIDATOR = REPO / "web/node_modules/@maplibre/maplibre-gl-style-spec/dist/gl-style-validate.cjs"


def validate(style: dict, tmp_path: Path) -> None:
    """Run MapLibre's gl-style-validate (installed from npm by `make`) on ``style``."""
    if not VALIDATOR.exists() or shutil.which("node") is None:
        pytest.skip("MapLibre style validator not installed (run `make web`)")
    path = tmp_path / "style.json"
    path.write_text(json.dumps(style), encoding="utf-8")
    result = subprocess.run(["node", str(VALIDATOR), str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def urls(value: object) -> list[str]:
    if isinstance(value, dict):
        return [u for v in value.values() for u in urls(v)]
    if isinstance(value, list):
        return [u for v in value for u in urls(v)]
    return [value] if isinstance(value, str) and "://" in value else []


def test_served_style_is_valid_offline_and_every_source_resolves(client, tmp_path):
    response = client.get("/tiles/style.json")
    assert "etag" in response.headers
    # member by member against /openapi.json (sources and metadata were "any object")
    style = answered(client.get("/openapi.json").json(), "/tiles/style.json", "get", response)
    validate(style, tmp_path)
    assert "glyphs" not in style and "sprite" not in style
    assert all(layer.get("layout", {}).get("text-field") is None for layer in style["layers"])
    assert all(u.startswith("http://testserver/") for u in urls(style["sources"]))
    assert style["metadata"]["geo-service:crs"] == "wgs84"
    assert set(style["sources"]) >= {"basemap", "grids", "stations", "facilities"}
    assert "incidents" not in style["sources"]  # restricted: only in the style a dispatcher's token gets
    ids = [layer["id"] for layer in style["layers"]]
    assert (
        ids.index("water-fill")
        < ids.index("roads-major")
        < ids.index("grids-line")
        < ids.index("stations-circle")
    )
    for source in style["sources"].values():
        tilejson = client.get(source["url"].removeprefix("http://testserver"))
        assert tilejson.status_code == 200
        assert tilejson.json()["tilejson"] == "3.0.0"
    source_layers = {layer.get("source-layer") for layer in style["layers"]} - {None}
    assert source_layers >= {"roads", "buildings", "water", "green", "rail", "grids", "facilities"}
    centre = style["center"]
    assert 24.9 < centre[0] < 25.0 and 60.1 < centre[1] < 60.2
    again = client.get("/tiles/style.json", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


def test_amap_basemap_shifts_overlays(client, tmp_path):
    document = client.get("/openapi.json").json()
    style = answered(document, "/tiles/style.json", "get", client.get("/tiles/style.json?basemap=amap"))
    validate(style, tmp_path)
    assert style["metadata"]["geo-service:crs"] == "gcj02"
    assert style["sources"]["basemap"]["type"] == "raster"
    assert all("autonavi" in url for url in style["sources"]["basemap"]["tiles"])
    for layer_id in ("grids", "stations", "facilities"):
        assert style["sources"][layer_id]["url"].endswith(f"/tiles/{layer_id}.json?crs=gcj02")
        tilejson = client.get(style["sources"][layer_id]["url"].removeprefix("http://testserver")).json()
        assert "crs=gcj02" in tilejson["tiles"][0]
    assert not any(layer.get("source-layer") in ("roads", "buildings") for layer in style["layers"])


def test_tianditu_and_osm_basemaps_use_wgs84_and_the_configured_key(tmp_path):
    layers, _ = load_layers(REPO / "layers")
    tianditu = build_style(layers, "http://x", "tianditu", MapSettings(basemap_key="KEY123"))
    validate(tianditu, tmp_path)
    assert tianditu["metadata"]["geo-service:crs"] == "wgs84"
    assert all(url.endswith("tk=KEY123") for url in tianditu["sources"]["basemap"]["tiles"])
    assert "crs=gcj02" not in json.dumps(tianditu["sources"])
    custom = build_style(
        layers, "http://x", "osm", MapSettings(basemap_url="http://intranet/osm/{z}/{x}/{y}.png")
    )
    assert custom["sources"]["basemap"]["tiles"] == ["http://intranet/osm/{z}/{x}/{y}.png"]


def test_unknown_basemap_is_400(client):
    response = client.get("/tiles/style.json?basemap=baidu")
    assert response.status_code == 400 and "basemap" in response.json()["detail"]


def test_committed_style_matches_the_catalogue():
    """`tiles/style.json` is generated: `geo-service map style --out tiles/style.json`."""
    layers, _ = load_layers(REPO / "layers")
    public = [layer for layer in layers if layer.public]
    expected = build_style(public, "http://127.0.0.1:8000", "local", MapSettings())
    committed = json.loads((REPO / "tiles/style.json").read_text(encoding="utf-8"))
    assert committed == expected


def test_catalogue_lists_what_pages_need(client):
    doc = client.get("/tiles/catalogue.json").json()
    grids = next(entry for entry in doc["layers"] if entry["id"] == "grids")
    assert grids["available"] and grids["tilejson"] == "http://testserver/tiles/grids.json"
    assert grids["features"] == "http://testserver/ogc/collections/grids"
    assert grids["style_layers"] == ["grids-fill", "grids-line"]
    assert grids["title_zh"] == "网格" and grids["group"] == "overlay"
    assert doc["style"] == "http://testserver/tiles/style.json"
