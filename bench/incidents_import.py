"""CSV import of 12345 tickets: ``POST /api/incidents/import`` with 100,000 rows, against plain PostGIS SQL.

    .venv/bin/python bench/incidents_import.py [--rows 100000]

Set-up (a fresh database ``gs_bench_incidents`` on the configured server): a synthetic hierarchy over central
Shanghai — 1 district, 4 streets, 16 communities, 400 grids of about 250 m × 280 m — and a CSV of random points
in the district (a quarter of them in GCJ-02, as AMap-based hotline systems export them), Chinese categories and
descriptions, and ticket numbers.

Measured in one run:

- **ours, HTTP**: the whole request through the app (TestClient): decode, parse, check every row, convert
  GCJ-02, assign each point with the locate index (grid, version, ancestors, distance to the boundary), write
  incidents and their history in one transaction, answer with per-row results.
- **re-import**: the same file again (every row already exists: idempotency by ``external_id``).
- **GBK**: the same rows as a GBK file (new ticket numbers).
- **peer (PostGIS SQL)**: what a DBA would do by hand — ``COPY`` the CSV into a staging table, then one
  ``INSERT … SELECT`` joining ``ST_Covers`` on the current grids with a GiST index (lowest code on ties) — no
  validation, no GCJ-02 conversion, no ancestors snapshot, no history, no boundary distance.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import sys
import time

import psycopg2
from common import admin_dsn, bench_database, markdown_table, owner_dsn, timed
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.auth import Principal, create_token
from geo_service.coords import from_wgs84
from geo_service.db.pool import Database
from geo_service.grids.service import import_features
from geo_service.settings import IncidentSettings

DB_NAME = "gs_bench_incidents"
WEST, SOUTH = 121.44, 31.20  # central Shanghai
CELL_LON, CELL_LAT = 0.0026, 0.0025  # ≈ 250 m × 280 m grids
GRIDS_PER_SIDE = 20  # 400 grids; communities 5 × 5 grids, streets 10 × 10
CATEGORIES = ["暴露垃圾", "E0501", "道路不洁", "E0304", "占道堆物", "C0105", "上水井盖", "噪声扰民"]
DESCRIPTIONS = ["小区门口垃圾无人清运", "流动摊贩占道经营", "路面有油污", "夜间施工扰民", "井盖松动有异响"]


def _box(west: float, south: float, east: float, north: float) -> dict:
    return {
        "type": "Polygon",
        "coordinates": [[[west, south], [east, south], [east, north], [west, north], [west, south]]],
    }


def _feature(code: str, level: str, parent: str | None, i0: int, j0: int, size: int) -> dict:
    west, south = WEST + i0 * CELL_LON, SOUTH + j0 * CELL_LAT
    props = {"code": code, "name": f"{level} {code}", "level": level, "parent_code": parent}
    return {
        "type": "Feature",
        "properties": props,
        "geometry": _box(west, south, west + size * CELL_LON, south + size * CELL_LAT),
    }


def hierarchy() -> list[dict]:
    """District 310101 → 4 streets → 16 communities → 400 grids (GB/T-style codes)."""
    n = GRIDS_PER_SIDE
    features = [_feature("310101", "district", None, 0, 0, n)]
    for s, (si, sj) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)], start=1):
        street = f"310101{s:03d}"
        features.append(_feature(street, "street", "310101", si * n // 2, sj * n // 2, n // 2))
        for c, (ci, cj) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)], start=1):
            community = f"{street}{c:03d}"
            ci0, cj0 = si * n // 2 + ci * n // 4, sj * n // 2 + cj * n // 4
            features.append(_feature(community, "community", street, ci0, cj0, n // 4))
            for g in range((n // 4) ** 2):
                features.append(
                    _feature(
                        f"{community}{g + 1:03d}",
                        "grid",
                        community,
                        ci0 + g % (n // 4),
                        cj0 + g // (n // 4),
                        1,
                    )
                )
    return features


def csv_text(rows: int, prefix: str, seed: int = 7) -> str:
    rng = random.Random(seed)
    out = io.StringIO()
    out.write("external_id,lon,lat,crs,address,category,description\n")
    span_lon, span_lat = GRIDS_PER_SIDE * CELL_LON, GRIDS_PER_SIDE * CELL_LAT
    for i in range(rows):
        lon, lat = WEST + rng.random() * span_lon, SOUTH + rng.random() * span_lat
        crs = "wgs84"
        if i % 4 == 0:
            lon, lat = from_wgs84(lon, lat, "gcj02")
            crs = "gcj02"
        out.write(
            f"{prefix}{i:07d},{lon:.7f},{lat:.7f},{crs},,{rng.choice(CATEGORIES)},{rng.choice(DESCRIPTIONS)}\n"
        )
    return out.getvalue()


def fresh_database() -> Database:
    admin = psycopg2.connect(admin_dsn())
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    admin.close()
    return bench_database(DB_NAME)


def peer(db: Database, text: str) -> None:
    """COPY + one ST_Covers INSERT … SELECT into a bare table (the plain-SQL baseline; a DBA's work, so as the
    schema owner: the service's role creates no tables)."""
    owner = Database(owner_dsn(DB_NAME), max_size=1)
    with owner.connection() as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS peer_incidents; DROP TABLE IF EXISTS peer_staging")
        cur.execute(
            "CREATE TABLE peer_staging (external_id text, lon float8, lat float8, crs text, address text, "
            "category text, description text)"
        )
        cur.copy_expert("COPY peer_staging FROM STDIN WITH (FORMAT csv, HEADER true)", io.StringIO(text))
        cur.execute(
            """CREATE TABLE peer_incidents AS
               SELECT s.external_id, s.category, s.description, g.code AS grid_code, g.version AS grid_version,
                      ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) AS geom
               FROM peer_staging s
               LEFT JOIN LATERAL (
                   SELECT a.code, a.version FROM areas a
                   WHERE a.level = 'grid' AND a.valid_to IS NULL
                     AND ST_Covers(a.geom, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326))
                   ORDER BY a.code COLLATE "C" LIMIT 1) g ON true"""
        )
        cur.execute("CREATE UNIQUE INDEX ON peer_incidents (external_id)")
    owner.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    db = fresh_database()
    features = hierarchy()
    import_features(db, features, Principal(0, "admin", "bench"))
    token = create_token(db, "dispatcher", "bench")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
    text = csv_text(args.rows, "B")
    gbk = csv_text(args.rows, "K").encode("gbk")
    app = create_app(
        db=db, incident_settings=IncidentSettings(escalation_enabled=False, import_max_rows=10**6)
    )
    results = {}
    with TestClient(app, base_url="http://localhost") as client:  # a trusted host name

        def post(body: bytes) -> dict:
            response = client.post("/api/incidents/import", content=body, headers=headers)
            assert response.status_code == 200, response.text[:2000]
            return response.json()

        seconds, first = timed(lambda: post(text.encode("utf-8")))
        assert first["created"] == args.rows, first["created"]
        results["ours, HTTP (UTF-8, new rows)"] = seconds
        seconds, again = timed(lambda: post(text.encode("utf-8")))
        assert again["existing"] == args.rows
        results["ours, re-import (all existing)"] = seconds
        seconds, _ = timed(lambda: post(gbk))
        results["ours, HTTP (GBK, new rows)"] = seconds
    seconds, _ = timed(lambda: peer(db, text), repeat=3)
    results["peer: COPY + ST_Covers INSERT … SELECT"] = seconds
    with db.cursor() as cur:
        cur.execute("SELECT count(*) AS n, count(*) FILTER (WHERE near_boundary) AS near FROM incidents")
        counts = cur.fetchone()
    db.close()
    peer_seconds = results["peer: COPY + ST_Covers INSERT … SELECT"]
    rows = [
        [label, f"{args.rows:,}", f"{s:.2f} s", f"{args.rows / s:,.0f}", f"{s / peer_seconds:.1f}×"]
        for label, s in results.items()
    ]
    print(
        f"\n{len(features)} areas (400 grids); {counts['n']:,} incidents written, "
        f"{counts['near']:,} flagged near a boundary (< 20 m)\n"
    )
    print(markdown_table(["run", "rows", "time", "rows/s", "÷ peer"], rows))
    target = results["ours, HTTP (UTF-8, new rows)"]
    print(
        f"\ntarget: {args.rows:,} rows in under 30 s — {'met' if target < 30 else 'NOT met'} ({target:.1f} s)"
    )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        start = time.perf_counter()
        main()
        print(f"(bench took {time.perf_counter() - start:.0f} s)", file=sys.stderr)
