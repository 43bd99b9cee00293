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
