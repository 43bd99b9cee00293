"""The demo's rest stations: generated once, labelled as demo data, each with its service circles."""

from __future__ import annotations

from geo_service.stations.demo import COUNT, load_demo_stations


def test_demo_stations_are_idempotent_and_labelled(fresh_db):
    load_demo_stations(fresh_db, progress=False)
    load_demo_stations(fresh_db, progress=False)
    with fresh_db.cursor() as cur:
        cur.execute(
            "SELECT count(*) AS n, bool_and(name LIKE 'DEMO %%' AND (properties->>'demo')::boolean) AS ok "
            "FROM stations"
        )
        row = cur.fetchone()
        assert row["n"] == COUNT and row["ok"]
        cur.execute("SELECT count(DISTINCT station_id) AS n FROM service_circles")
        assert cur.fetchone()["n"] == COUNT
