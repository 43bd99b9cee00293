"""Vector tiles over the Helsinki extract: content, zoom-dependent grid levels, ETag/304, cache invalidation
by a write through another connection, 204/400/404, composite tiles and TileJSON."""

from __future__ import annotations

import contextlib

import httpx
import psycopg2
import pytest
import shapely
import shapely.geometry

from geo_service.layers.sql import tile_box_deg
from geo_service.tiles.service import TileAddress
from tests.conftest import seen_within
from tests.tiles.conftest import HELSINKI_CENTRE, decode, insert_area, square, tile_bounds, tile_of

LON, LAT = HELSINKI_CENTRE


@pytest.fixture(scope="module")
def grids(db):
    """A district, a community and four grids in a 2×2 lattice around the centre."""
    insert_area(db, "T-D1", "district", square(LON - 0.01, LAT - 0.005, 0.02))
    insert_area(db, "T-C1", "community", square(LON - 0.004, LAT - 0.002, 0.008), parent_code="T-D1")
    for i, (dx, dy) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)]):
        lon, lat = LON - 0.004 + dx * 0.004, LAT - 0.002 + dy * 0.002
        insert_area(db, f"T-G{i}", "grid", square(lon, lat, 0.004), name=f"网格{i}", parent_code="T-C1")
    return ["T-G0", "T-G1", "T-G2", "T-G3"]


def fetch(client, layer: str, z: int, x: int, y: int, **params):
    return client.get(f"/tiles/{layer}/{z}/{x}/{y}.pbf", params=params)


def test_facilities_tile_holds_exactly_the_rows_in_its_buffered_envelope(client, db):
    z, x, y = tile_of(LON, LAT, 15)
    response = fetch(client, "facilities", z, x, y)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    features = decode(response.content)["facilities"]["features"]
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            """SELECT id, name, category FROM facilities
               WHERE geom && ST_Transform(ST_TileEnvelope(%s, %s, %s, margin => 64.0 / 4096), 4326)""",
            (z, x, y),
        )
        rows = {r[0]: (r[1], r[2]) for r in cur.fetchall()}
    assert len(rows) > 20
    assert {f["id"] for f in features} == set(rows)
    for feature in features:
        assert feature["geometry"]["type"] == "Point"
        assert feature["properties"]["category"] == rows[feature["id"]][1]
        assert feature["properties"].get("name") == rows[feature["id"]][0]
        assert set(feature["properties"]) <= {"name", "category", "source"}


def test_grid_levels_follow_the_zoom(client, grids):
    z, x, y = tile_of(LON, LAT, 14)
    at14 = decode(fetch(client, "grids", z, x, y).content)["grids"]["features"]
    levels = {f["properties"]["code"]: f["properties"]["level"] for f in at14}
    assert {code: levels.get(code) for code in grids} == dict.fromkeys(grids, "grid")
    assert levels["T-C1"] == "community" and levels["T-D1"] == "district"
    assert {f["properties"]["name"] for f in at14} >= {"网格0", "网格3"}
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in at14)

    z, x, y = tile_of(LON, LAT, 10)
    at10 = decode(fetch(client, "grids", z, x, y).content)["grids"]["features"]
    assert {f["properties"]["level"] for f in at10} == {"district"}


def test_etag_and_304_and_cache_control(client):
    z, x, y = tile_of(LON, LAT, 15)
    first = fetch(client, "roads", z, x, y)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('"') and first.headers["cache-control"] == "no-cache"
    again = client.get(f"/tiles/roads/{z}/{x}/{y}.pbf", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    other = client.get(f"/tiles/roads/{z}/{x}/{y}.pbf", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == first.content

    tilejson = client.get("/tiles/roads.json").json()
    url = tilejson["tiles"][0]
    assert "?v=" in url
    revision = url.split("?v=")[1]
    versioned = fetch(client, "roads", z, x, y, v=revision)
    assert versioned.headers["cache-control"].startswith("public, max-age=")
    stale = fetch(client, "roads", z, x, y, v="-1")
    assert stale.headers["cache-control"] == "no-cache"


def test_a_grid_edit_through_another_connection_shows_on_the_next_request(client, db, grids):
    z, x, y = tile_of(LON - 0.003, LAT - 0.001, 16)  # inside T-G0
    before = fetch(client, "grids", z, x, y)
    names = {
        f["properties"]["code"]: f["properties"]["name"] for f in decode(before.content)["grids"]["features"]
    }
    assert names["T-G0"] == "网格0"
    assert fetch(client, "grids", z, x, y).content == before.content  # served from the cache
    v_before = client.get("/tiles/grids.json").json()["tiles"][0].split("?v=")[1]

    with contextlib.closing(psycopg2.connect(db.dsn)) as conn, conn, conn.cursor() as cur:
        cur.execute("UPDATE areas SET name = '改名网格' WHERE code = 'T-G0' AND valid_to IS NULL")

    def refetch() -> httpx.Response:
        return client.get(f"/tiles/grids/{z}/{x}/{y}.pbf", headers={"If-None-Match": before.headers["etag"]})

    # announced by the database at once; at the latest after the revision interval (REVISION_INTERVAL_S)
    assert seen_within(lambda: refetch().status_code == 200)
    after = refetch()
    names = {
        f["properties"]["code"]: f["properties"]["name"] for f in decode(after.content)["grids"]["features"]
    }
    assert names["T-G0"] == "改名网格"
    assert after.headers["etag"] != before.headers["etag"]
    assert client.get("/tiles/grids.json").json()["tiles"][0].split("?v=")[1] != v_before


def test_an_empty_tile_is_204(client):
    z, x, y = tile_of(-30.0, 0.0, 14)  # mid-Atlantic
    response = fetch(client, "facilities", z, x, y)
    assert response.status_code == 204 and response.content == b""
    assert "etag" in response.headers


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/tiles/facilities/15/40000/0.pbf", 400),  # x beyond 2^15 - 1
        ("/tiles/facilities/15/0/32768.pbf", 400),
        ("/tiles/facilities/15/-1/0.pbf", 400),
        ("/tiles/facilities/25/0/0.pbf", 400),
        ("/tiles/facilities/a/b/c.pbf", 400),
        ("/tiles/facilities/1.5/0/0.pbf", 400),
        ("/tiles/nosuchlayer/15/0/0.pbf", 404),
        ("/tiles/buildings/3/4/2.pbf", 404),  # below the layer's minzoom
        ("/tiles/nosuchlayer.json", 404),
        ("/tiles/roads,roads/15/0/0.pbf", 400),
        ("/tiles/facilities/15/0/0.pbf?crs=bd09", 400),
    ],
)
def test_bad_tile_requests_are_4xx(client, path, status):
    response = client.get(path)
    assert response.status_code == status, response.text
    assert "detail" in response.json()


def test_composite_tile_concatenates_layers(client):
    z, x, y = tile_of(LON, LAT, 15)
    both = decode(fetch(client, "roads,buildings", z, x, y).content)
    assert set(both) == {"roads", "buildings"}
    roads_alone = decode(fetch(client, "roads", z, x, y).content)["roads"]["features"]
    assert len(both["roads"]["features"]) == len(roads_alone)


def test_roads_thin_out_at_low_zoom(client):
    classes_at = {}
    for zoom in (11, 16):
        z, x, y = tile_of(LON, LAT, zoom)
        layer = decode(fetch(client, "roads", z, x, y).content)["roads"]
        classes_at[zoom] = {f["properties"]["class"] for f in layer["features"]}
    assert "footway" in classes_at[16] and "footway" not in classes_at[11]
    assert classes_at[11] <= {"motorway", "trunk", "primary", "secondary", "tertiary"} | {
        c for c in classes_at[11] if c.endswith("_link")
    }


def test_tilejson_3(client):
    doc = client.get("/tiles/facilities.json").json()
    assert doc["tilejson"] == "3.0.0"
    assert doc["tiles"][0].startswith("http://testserver/tiles/facilities/{z}/{x}/{y}.pbf?v=")
    assert doc["vector_layers"][0]["id"] == "facilities"
    assert set(doc["vector_layers"][0]["fields"]) == {"name", "category", "source"}
    west, south, east, north = doc["bounds"]
    assert west < LON < east and south < LAT < north
    assert doc["minzoom"] == 10 and doc["maxzoom"] == 22
    gcj = client.get("/tiles/facilities.json?crs=gcj02").json()
    assert "crs=gcj02" in gcj["tiles"][0]


def test_tile_bounds_helper_matches_postgis(db):
    z, x, y = tile_of(LON, LAT, 13)
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
            "FROM ST_Transform(ST_TileEnvelope(%s, %s, %s), 4326) AS e",
            (z, x, y),
        )
        expected = cur.fetchone()
    assert tile_bounds(z, x, y) == pytest.approx(expected, abs=1e-9)


def test_composite_tile_leaves_out_layers_outside_their_zoom_range(client):
    z, x, y = tile_of(LON, LAT, 13)  # buildings start at z14, roads and water earlier
    response = fetch(client, "water,roads,buildings", z, x, y)
    assert response.status_code == 200
    assert "roads" in decode(response.content) and "buildings" not in decode(response.content)
    assert fetch(client, "buildings", z, x, y).status_code == 404
    z, x, y = tile_of(LON, LAT, 3)
    assert fetch(client, "roads,buildings", z, x, y).status_code == 404


def test_tile_search_box_matches_postgis(db):
    """The padded tile box computed in Python (no PROJ at planning) is PostGIS's own, to 1e-9 degrees, also
    where the margin is clamped to the world (top and bottom rows). At the antimeridian PostGIS's box wraps
    round to the other side (``179.3 … -134.3``, hence a search over almost every longitude); ours stops at
    ±180."""
    assert tile_box_deg(3, 0, 7, 64 / 4096)[0] == -180.0 and tile_box_deg(3, 7, 3, 64 / 4096)[2] == 180.0
    for z, x, y in [tile_of(LON, LAT, 15), (0, 0, 0), (3, 2, 0), (3, 5, 7)]:
        with db.cursor(dict_rows=False) as cur:
            cur.execute(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                "FROM ST_Transform(ST_TileEnvelope(%s, %s, %s, margin => 64.0 / 4096), 4326) AS e",
                (z, x, y),
            )
            expected = cur.fetchone()
        assert tile_box_deg(z, x, y, 64 / 4096) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(("layer", "zoom"), [("roads", 16), ("grids", 16), ("grids", 13)])
def test_cutting_before_transforming_draws_the_same_shapes(client, db, grids, layer, zoom):
    """Rows are cut to the padded tile before they are transformed and simplified: inside the tile every
    shape lies within a tile unit or two (the simplification's tolerance) of ``ST_AsMVTGeom`` over the whole,
    uncut row."""
    z, x, y = tile_of(LON + 0.0007, LAT + 0.0003, zoom)
    ours = decode(fetch(client, layer, z, x, y).content)[layer]["features"]
    source = {"roads": "SELECT id, geom FROM basemap_features WHERE kind = 'road'", "grids": ""}[layer] or (
        "SELECT id, geom FROM areas WHERE valid_to IS NULL"
    )
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            f"""SELECT id, ST_AsBinary(ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope(%s, %s, %s),
                                               4096, 64, true))
                FROM ({source}) AS src
                WHERE geom && ST_Transform(ST_TileEnvelope(%s, %s, %s), 4326)""",
            (z, x, y, z, x, y),
        )
        whole = {row[0]: shapely.from_wkb(bytes(row[1])) for row in cur.fetchall() if row[1] is not None}
    tile = shapely.box(0, 0, 4096, 4096)
    compared = 0
    for feature in ours:
        mine = shapely.geometry.shape(feature["geometry"]).intersection(tile)
        reference = whole.get(feature["id"], shapely.Point()).intersection(tile)
        if mine.is_empty and reference.is_empty:
            continue
        assert shapely.hausdorff_distance(mine, reference) <= 2.5, feature["id"]
        compared += 1
    assert compared >= (5 if layer == "roads" else 2)
    seen = {f["id"] for f in ours}
    inside = [k for k, g in whole.items() if g.intersection(tile).length > 2 or g.intersection(tile).area > 4]
    assert not [k for k in inside if k not in seen]  # nothing that reaches into the tile is lost


def test_tiles_hand_back_connections_in_transaction_mode(client, db):
    """A tile is one autocommitted SELECT (no BEGIN/COMMIT round trips); the connection it used goes back to
    the pool as every other one is, so the next caller's writes are still one transaction."""
    server = client.app.state.tile_server
    layer = server.catalogue.layers["facilities"]
    z, x, y = tile_of(LON, LAT, 15)
    cache, server.cache = server.cache, type(server.cache)(0)  # no cache: the tile is drawn
    try:
        assert server.tile(db, [layer], TileAddress(z, x, y), "wgs84").body
    finally:
        server.cache = cache
    with db.connection() as conn:  # the pool hands back its most recent idle connection first
        assert conn.autocommit is False
