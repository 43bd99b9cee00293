"""The OSM import writes the geocoder's index keyed: every gazetteer entry and facility name, with the forms
matching needs (simplified key, pinyin, road and number from addr:*, precision)."""

from __future__ import annotations

from geo_service.db.pool import Database
from tests.conftest import HELSINKI


def test_import_keys_every_name(db: Database) -> None:
    with db.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM gazetteer WHERE dataset = %s", (HELSINKI,))
        entries = cur.fetchone()["n"]
        cur.execute("SELECT count(*) AS n FROM geocode_names WHERE source = 'gazetteer'")
        assert cur.fetchone()["n"] == entries > 1000
        cur.execute(
            "SELECT count(*) AS n FROM facilities WHERE name IS NOT NULL AND name <> '' AND deleted_at IS NULL"
        )
        facilities = cur.fetchone()["n"]
        cur.execute("SELECT count(*) AS n FROM geocode_names WHERE source = 'facility'")
        assert cur.fetchone()["n"] == facilities > 100
        cur.execute("SELECT count(*) AS n FROM geocode_names WHERE name_key IS NULL OR precision IS NULL")
        assert cur.fetchone()["n"] == 0
        cur.execute("SELECT name_key, pinyin, precision FROM geocode_names WHERE name = '赫爾辛基中央車站'")
        station = cur.fetchone()
        cur.execute(
            """SELECT road, house_number, precision FROM geocode_names
               WHERE source = 'gazetteer' AND kind = 'address' AND name = 'Kaivokatu 1'"""
        )
        address = cur.fetchone()
        cur.execute("SELECT precision FROM geocode_names WHERE kind = 'place:city' AND name = '赫爾辛基'")
        city = cur.fetchone()
    assert station == {
        "name_key": "赫尔辛基中央车站",
        "pinyin": "heerxinjizhongyangchezhan",
        "precision": "poi",
    }
    assert address == {"road": "kaivokatu", "house_number": "1", "precision": "house_number"}
    assert city == {"precision": "city"}


def test_gazetteer_entries_take_every_chinese_name_and_the_address_tags() -> None:
    import json

    import geopandas as gpd
    import shapely

    from geo_service.osm.extract import gazetteer_entries

    tags = {
        "name:zh-Hant": "臺北車站",
        "name:zh-Hans": "台北车站",
        "alt_name": "北车;台北站",
        "addr:street": "忠孝西路",
        "addr:housenumber": "49",
        "addr:district": "中正區",
    }
    buildings = gpd.GeoDataFrame(
        {
            "id": [1],
            "name": ["Taipei Main Station"],
            "building": ["train_station"],
            "tags": [json.dumps(tags)],
        },
        geometry=[shapely.box(121.516, 25.046, 121.518, 25.048)],
        crs=4326,
    )
    edges = gpd.GeoDataFrame({"name": []}, geometry=[], crs=4326)
    entries = gazetteer_entries(buildings, None, None, edges, gpd.GeoDataFrame(geometry=[], crs=4326))
    by_name = {
        n: (k, p, keys)
        for n, k, p, keys in zip(
            entries["name"], entries["kind"], entries["properties"], entries["keys"], strict=True
        )
    }
    assert {"Taipei Main Station", "臺北車站", "台北车站", "北车", "台北站", "忠孝西路49号"} <= set(by_name)
    kind, properties, keys = by_name["忠孝西路49号"]
    assert kind == "address" and properties["addr:street"] == "忠孝西路"
    assert keys[0] == "house_number" and keys[4:7] == (
        "忠孝西路",
        "zhongxiaoxilu",
        "49",
    )  # road, pinyin, number
    assert by_name["臺北車站"][2][:2] == ("poi", "台北车站")  # precision and the simplified key
    assert (
        by_name["臺北車站"][0] == "building" and by_name["臺北車站"][2][-2] == "中正区"
    )  # admin, simplified
