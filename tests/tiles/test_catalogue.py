"""The layer catalogue: the repository's files load, a layer whose table does not exist yet answers 404 (not
500) and starts being served once the table appears, a broken file is reported without taking others down."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.layers import Layer, load_layers
from geo_service.settings import MapSettings
from tests.conftest import as_owner
from tests.tiles.conftest import HELSINKI_CENTRE, decode, tile_of

REPO_LAYERS = Path(__file__).resolve().parents[2] / "layers"
SPEC_IDS = {
    "grids",
    "stations",
    "service_circles",
    "facilities",
    "incidents",
    "roads",
    "buildings",
    "water",
    "green",
    "rail",
}

# A layer whose table a later migration would create (see layers/README.md).
PLANNED_YAML = """
id: planned_sites
title: Planned sites
title_zh: 规划点位
access: public
relations: [planned_sites]
revisions: [planned_sites]
sql: |
  SELECT id, minutes, geom FROM planned_sites
properties:
  minutes: Number — walking minutes
style:
  - {id: planned-sites-fill, type: fill, paint: {fill-color: "#43a047", fill-opacity: 0.2}}
features:
  id_column: id
"""


def test_repository_layers_all_load():
    layers, errors = load_layers(REPO_LAYERS)
    assert errors == {}
    assert {layer.id for layer in layers} >= SPEC_IDS
    for layer in layers:
        assert layer.style, f"{layer.id} has no default style"
        assert all(entry["id"].startswith(layer.id.replace("_", "-")) for entry in layer.style)


def test_zoom_stepped_params():
    layer = next(layer for layer in load_layers(REPO_LAYERS)[0] if layer.id == "grids")
    assert layer.params_at(0)["levels"] == ["district"]
    assert layer.params_at(10)["levels"] == ["district", "street"]
    assert "grid" in layer.params_at(12)["levels"] and "grid" in layer.params_at(22)["levels"]


@pytest.mark.parametrize(
    "change",
    [
        {"id": "style"},
        {"id": "Bad-Id"},
        {"properties": {"geom": "x"}},
        {"params": {"levels": {5: ["grid"]}}},
        {"style": [{"id": "a", "type": "fill", "source": "elsewhere"}]},
        {"minzoom": 10, "maxzoom": 5},
        {"unknown_field": 1},
        {"access": None},
        {"access": "everyone"},
        {"access": []},
        {"access": ["dispatcher", "emperor"]},
    ],
)
def test_layer_validation_rejects(change):
    base = {
        "id": "x",
        "title": "X",
        "access": "public",
        "relations": ["t"],
        "revisions": ["t"],
        "sql": "SELECT 1",
    }
    Layer.model_validate(base)
    with pytest.raises(ValueError):
        Layer.model_validate({k: v for k, v in {**base, **change}.items() if v is not None})


def test_every_layer_says_who_may_read_it():
    """`access` is required: a layer file without it is skipped (and this suite fails on file errors), so a
    new layer cannot publish personal data by forgetting it. Incidents are dispatcher data."""
    base = {"id": "x", "title": "X", "relations": ["t"], "revisions": ["t"], "sql": "SELECT 1"}
    with pytest.raises(ValueError, match="access"):
        Layer.model_validate(base)
    assert Layer.model_validate({**base, "access": "dispatcher"}).access == ("dispatcher",)
    layers = {layer.id: layer for layer in load_layers(REPO_LAYERS)[0]}
    assert layers["incidents"].access == ("dispatcher",) and not layers["incidents"].public
    assert layers["grids"].public and layers["incident_stats"].public


@pytest.fixture
def custom_layers(tmp_path: Path) -> Path:
    shutil.copy(REPO_LAYERS / "facilities.yaml", tmp_path)
    (tmp_path / "planned_sites.yaml").write_text(PLANNED_YAML, encoding="utf-8")
    (tmp_path / "broken.yaml").write_text("id: broken\ntitle: [unclosed\n", encoding="utf-8")
    return tmp_path


def test_layer_with_missing_table_is_404_until_the_table_exists(fresh_db, custom_layers, caplog):
    app = create_app(db=fresh_db, map_settings=MapSettings(layers_dir=custom_layers))
    with caplog.at_level("WARNING"), TestClient(app, raise_server_exceptions=False) as client:
        assert any(
            "planned_sites" in r.getMessage() and "does not exist" in r.getMessage() for r in caplog.records
        )
        catalogue = client.get("/tiles/catalogue.json").json()
        status = {entry["id"]: entry for entry in catalogue["layers"]}
        assert status["facilities"]["available"] is True
        assert status["planned_sites"]["available"] is False
        assert "planned_sites" in status["planned_sites"]["reason"]
        assert "broken.yaml" in catalogue["file_errors"]

        z, x, y = tile_of(*HELSINKI_CENTRE, 15)
        for path in (
            f"/tiles/planned_sites/{z}/{x}/{y}.pbf",
            "/tiles/planned_sites.json",
            "/ogc/collections/planned_sites",
            "/ogc/collections/planned_sites/items",
        ):
            response = client.get(path)
            assert response.status_code == 404, path
            assert "not available" in response.json()["detail"]
        assert client.get(f"/tiles/facilities/{z}/{x}/{y}.pbf").status_code == 200
        style = client.get("/tiles/style.json").json()
        assert "planned_sites" not in style["sources"]
        assert [c["id"] for c in client.get("/ogc/collections").json()["collections"]] == ["facilities"]

        # Another branch's migration (run by the schema owner) creates the table: served from the next
        # request, no restart.
        with as_owner(fresh_db) as cur:
            cur.execute(
                """CREATE TABLE planned_sites (id serial PRIMARY KEY, minutes int, geom geometry(Polygon, 4326));
                   INSERT INTO planned_sites (minutes, geom)
                   VALUES (15, ST_Buffer(ST_SetSRID(ST_MakePoint(%s, %s), 4326), 0.002))""",
                HELSINKI_CENTRE,
            )
        response = client.get(f"/tiles/planned_sites/{z}/{x}/{y}.pbf")
        assert response.status_code == 200
        assert decode(response.content)["planned_sites"]["features"][0]["properties"]["minutes"] == 15
        assert "planned_sites" in client.get("/tiles/style.json").json()["sources"]
        items = client.get("/ogc/collections/planned_sites/items").json()
        assert items["numberMatched"] == 1

        # ... and if it goes away again, 404 rather than 500.
        with as_owner(fresh_db) as cur:
            cur.execute("DROP TABLE planned_sites")
        z2, x2, y2 = tile_of(*HELSINKI_CENTRE, 16)
        assert client.get(f"/tiles/planned_sites/{z2}/{x2}/{y2}.pbf").status_code == 404
