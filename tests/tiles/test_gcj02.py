"""WGS-84 → GCJ-02 in SQL (migration 0300) against published value pairs, per-vertex shifting of whole
geometries, and tiles served with ``crs=gcj02`` for AMap basemaps."""

from __future__ import annotations

import math

import pytest

from tests.tiles.conftest import decode, tile_bounds, tile_of

# Published WGS-84 → GCJ-02 pairs (lon, lat) with the tolerance their source tests at: wandergis/
# coordtransform's README example (full doubles) and the pair in geoToolbox's test-suite (1e-7°, ~1 cm).
PUBLISHED = [
    ((116.404, 39.915), (116.41024449916938, 39.91640428150164), 1e-9),
    ((116.0, 40.0), (116.006141221789, 40.001213650174), 1e-7),
]
SHANGHAI = (121.4737, 31.2304)


@pytest.mark.parametrize(("wgs", "gcj", "tolerance"), PUBLISHED)
def test_forward_transform_matches_published_values(db, wgs, gcj, tolerance):
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT ST_X(p), ST_Y(p) FROM gcj02_point(%s, %s) AS p", wgs)
        lon, lat = cur.fetchone()
    assert lon == pytest.approx(gcj[0], abs=tolerance)
    assert lat == pytest.approx(gcj[1], abs=tolerance)


def test_identity_outside_china(db):
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            "SELECT ST_AsText(gcj02_shift(ST_GeomFromText('LINESTRING(24.94 60.17, 24.95 60.18)', 4326)))"
        )
        assert cur.fetchone()[0] == "LINESTRING(24.94 60.17,24.95 60.18)"


def test_every_vertex_of_a_polygon_with_a_hole_is_shifted(db):
    lon, lat = SHANGHAI
    wkt = (
        f"MULTIPOLYGON((({lon} {lat},{lon + 0.01} {lat},{lon + 0.01} {lat + 0.01},{lon} {lat + 0.01},{lon} {lat}),"
        f"({lon + 0.003} {lat + 0.003},{lon + 0.006} {lat + 0.003},{lon + 0.006} {lat + 0.006},{lon + 0.003} {lat + 0.003})),"
        f"(({lon + 0.02} {lat},{lon + 0.03} {lat},{lon + 0.03} {lat + 0.01},{lon + 0.02} {lat})))"
    )
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            """WITH g AS (SELECT ST_GeomFromText(%s, 4326) AS geom),
                    s AS (SELECT gcj02_shift(geom) AS geom FROM g)
               SELECT GeometryType(s.geom), ST_SRID(s.geom), ST_NumGeometries(s.geom),
                      ST_NumInteriorRings(ST_GeometryN(s.geom, 1)), ST_IsValid(s.geom),
                      (SELECT array_agg(ST_X(d.geom) ORDER BY d.path) FROM ST_DumpPoints(s.geom) d),
                      (SELECT array_agg(ST_X(gcj02_point(ST_X(d.geom), ST_Y(d.geom))) ORDER BY d.path)
                       FROM ST_DumpPoints(g.geom) d)
               FROM g, s""",
            (wkt,),
        )
        kind, srid, parts, holes, valid, shifted_x, expected_x = cur.fetchone()
    assert (kind, srid, parts, holes, valid) == ("MULTIPOLYGON", 4326, 2, 1, True)
    assert shifted_x == pytest.approx(expected_x, abs=1e-12)
    assert shifted_x[0] - lon > 0.003  # Shanghai moves ~450 m east


def _tile_xy(lon: float, lat: float, z: int, x: int, y: int, extent: int = 4096) -> tuple[float, float]:
    """Position of lon/lat inside tile z/x/y in tile units (y down)."""
    n = 1 << z
    gx = (lon + 180) / 360 * n
    gy = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return (gx - x) * extent, (gy - y) * extent


def test_tiles_with_crs_gcj02_are_shifted_server_side(client, db):
    lon, lat = SHANGHAI
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            "INSERT INTO stations (name, kind, geom) VALUES ('上海测试驿站', 'care_station', "
            "ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
            SHANGHAI,
        )
        cur.execute("SELECT ST_X(p), ST_Y(p) FROM gcj02_point(%s, %s) AS p", SHANGHAI)
        glon, glat = cur.fetchone()
    z, x, y = tile_of(glon, glat, 14)
    assert tile_of(lon, lat, 14) == (z, x, y)  # both fall in one tile at z14 (the shift is ~500 m)
    west, south, east, north = tile_bounds(z, x, y)
    assert west < glon < east and south < glat < north

    def station_position(crs: str) -> tuple[float, float]:
        response = client.get(f"/tiles/stations/{z}/{x}/{y}.pbf", params={"crs": crs})
        assert response.status_code == 200
        features = [
            f
            for f in decode(response.content)["stations"]["features"]
            if f["properties"]["name"] == "上海测试驿站"
        ]
        assert len(features) == 1
        return tuple(features[0]["geometry"]["coordinates"])

    assert station_position("wgs84") == pytest.approx(_tile_xy(lon, lat, z, x, y), abs=1.0)
    assert station_position("gcj02") == pytest.approx(_tile_xy(glon, glat, z, x, y), abs=1.0)


def test_ogc_features_with_crs_gcj02_are_shifted(client, db):
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            "INSERT INTO stations (name, kind, geom) VALUES ('上海OGC驿站', 'driver_station', "
            "ST_SetSRID(ST_MakePoint(%s, %s), 4326)) RETURNING id",
            SHANGHAI,
        )
        station_id = cur.fetchone()[0]
        cur.execute("SELECT ST_X(p), ST_Y(p) FROM gcj02_point(%s, %s) AS p", SHANGHAI)
        shifted = cur.fetchone()
    path = f"/ogc/collections/stations/items/{station_id}"
    assert client.get(path).json()["geometry"]["coordinates"] == pytest.approx(list(SHANGHAI), abs=1e-9)
    assert client.get(path, params={"crs": "gcj02"}).json()["geometry"]["coordinates"] == pytest.approx(
        list(shifted), abs=1e-9
    )
    page = client.get(
        "/ogc/collections/stations/items", params={"crs": "gcj02", "kind": "driver_station"}
    ).json()
    coords = {f["id"]: f["geometry"]["coordinates"] for f in page["features"]}
    assert coords[station_id] == pytest.approx(list(shifted), abs=1e-9)
    assert client.get("/ogc/collections/stations/items", params={"crs": "bd09"}).status_code == 400
