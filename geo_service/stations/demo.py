"""Demo rest stations (DEMO DATA) for the demo city: a dozen 暖心驿站 / 司机驿站 / 党群服务中心 spread over
the walking network, with varied amenities and opening hours (some overnight, some closed on public holidays).

Idempotent: when any station named ``DEMO …`` exists the step does nothing. Skipped without a network.
"""

from __future__ import annotations

import logging

import numpy as np

from geo_service.auth import Principal
from geo_service.db.pool import Database
from geo_service.db.rows import fetch_one
from geo_service.stations.context import StationContext
from geo_service.stations.service import create_station
from geo_service.walking import current_network

log = logging.getLogger(__name__)
DEMO_PREFIX = "DEMO "
_SYSTEM = Principal(token_id=0, role="admin", name="system:demo")
# (kind, name, amenities, opening hours)
_TEMPLATES = [
    (
        "care_station",
        "暖心驿站",
        ["hot_water", "microwave", "charging", "toilet", "seating", "heating", "cooling", "wifi"],
        "Mo-Su 07:00-21:00",
    ),
    ("driver_station", "司机驿站", ["hot_water", "toilet", "vehicle_parking", "charging", "seating"], "24/7"),
    (
        "party_service_center",
        "党群服务中心",
        ["hot_water", "drinking_water", "toilet", "wifi", "reading", "first_aid"],
        "Mo-Fr 09:00-17:30; PH off",
    ),
    (
        "rider_station",
        "骑手驿站",
        ["e_bike_charging", "charging", "hot_water", "microwave", "seating", "umbrella"],
        "Mo-Su 10:00-14:00,17:00-23:00",
    ),
    (
        "sanitation_station",
        "环卫工人休息点",
        ["hot_water", "microwave", "refrigerator", "toilet", "heating", "lockers"],
        "Mo-Sa 05:00-20:00",
    ),
    (
        "care_station",
        "夜间暖心驿站",
        ["hot_water", "charging", "seating", "heating", "first_aid"],
        "Mo-Su 20:00-08:00",
    ),
]
COUNT = 12


def load_demo_stations(db: Database, progress: bool = True, timezone: str = "Asia/Shanghai") -> None:
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(*) FROM stations WHERE name LIKE %s", (DEMO_PREFIX + "%",))
        if fetch_one(cur)[0]:
            log.info("demo stations already loaded")
            return
    network = current_network(db)
    graphs = [g for g in network.graphs if g.name == "helsinki"] or network.graphs
    if not graphs or not graphs[0].n_edges:
        log.info("no walking network: demo stations skipped")
        return
    graph = graphs[0]
    main = np.flatnonzero(graph.component == np.bincount(graph.component).argmax())
    # spread over the network: the main piece's nodes ordered along a space-filling sweep, every k-th taken
    order = main[np.lexsort((graph.node_x[main], np.floor(graph.node_y[main] / 300)))]
    picks = order[np.linspace(0, len(order) - 1, COUNT).astype(int)]
    ctx = StationContext.create(timezone)
    for i, node in enumerate(picks):
        kind, name, amenities, hours = _TEMPLATES[i % len(_TEMPLATES)]
        feature = {
            "type": "Feature",
            "geometry": {
                "type": "Point",
                "coordinates": [float(graph.node_lon[node]), float(graph.node_lat[node])],
            },
            "properties": {
                "name": f"{DEMO_PREFIX}{name} {i + 1:02d}",
                "kind": kind,
                "amenities": amenities,
                "opening_hours": hours,
                "manager": f"演示点长 {i + 1:02d}",
                "contact": "12345",
                "demo": True,
                "note": "DEMO DATA 演示数据",
            },
        }
        create_station(db, ctx, feature, _SYSTEM)
    if progress:
        print(f"demo stations: {COUNT} rest stations with their service circles (DEMO DATA)")
