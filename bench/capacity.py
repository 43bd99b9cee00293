"""Capacity: a synthetic province, batch jobs on Dask against dask-geopandas ``sjoin``, and the server at 1, 2
and 4 worker processes.

    .venv/bin/python bench/capacity.py [--homes 10000000] [--grids 30000] [--nodes 2000000] [--cities 6]
                                       [--dask-workers 2] [--server-workers 1,2,4] [--requests 4000]
                                       [--repeat 1] [--skip-batch] [--skip-server] [--skip-sjoin]
                                       [--skip-reach]

Province (database ``gs_bench_capacity``, rebuilt when the sizes change): ``--cities`` cities side by side, each a
square lattice of streets 80 m apart (``--nodes`` walking nodes in all, about twice as many edges, one dataset
per city with its UTM zone as metric CRS), tiled by ``--grids`` square grids grouped 4×4 into communities, 4×4
communities into streets, one district per city; a pharmacy per ~0.6 km² and a rest station per ~2 km².
Homes: ``--homes`` points uniform over the cities, written once as Parquet parts (``bench/.capacity/``).

Batch (a ``LocalCluster`` of ``--dask-workers`` processes, one thread each, 6 GiB limit each):
``geo-service batch locate`` (grid + hierarchy, GeoParquet out) against ``dask_geopandas.sjoin`` of the same
Parquet points with the grids (``predicate="within"``, grids broadcast, GeoParquet out) on the same cluster;
``geo-service batch reach --category pharmacy``. Each round of locate: new worker processes and no windows
(cold), ``sjoin``, new worker processes with the windows the cold job kept on disk, the same workers again
(warm). Peak memory per worker: the scheduler's view of each worker's process memory, sampled every 0.2 s;
CPU: the workers' own CPU seconds per job; load: the machine's 1-minute load average after each job.

Server: ``geo-service serve --workers N`` on the province; start-up (process start → ``/readyz`` 200 → first
answers of locate, nearest and a tile, i.e. caches built); memory (RSS of the server's processes after the
warm-up); memory per network node (PSS of all the server's processes after the warm-up minus before it, ÷ nodes); then
h2load (50 connections) on locate at random points, ``/api/stations/nearest`` and grid tiles.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import REPO, bench_database, markdown_table
from bench.load import h2load, tile_urls

DB_NAME = "gs_bench_capacity"
SPACING_M = 80.0
WORK = REPO / "bench" / ".capacity"
ORIGIN = (110.0, 23.0)  # south-west corner of the first city


def _utm(lon: float, lat: float) -> int:
    zone = int((lon + 180) // 6) + 1
    return (32600 if lat >= 0 else 32700) + zone


def _copy(cur, table: str, columns: list[str], frame: pd.DataFrame) -> None:
    buffer = io.StringIO()
    frame.to_csv(buffer, sep="\t", header=False, index=False, na_rep="\\N")
    buffer.seek(0)
    cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def city_boxes(cities: int, nodes: int) -> tuple[int, list[tuple[float, float, float, float]]]:
    side = max(2, math.ceil(math.sqrt(nodes / cities)))
    dlat = SPACING_M / 111_000.0
    dlon = SPACING_M / (111_000.0 * math.cos(math.radians(ORIGIN[1])))
    boxes = []
    for k in range(cities):
        west = ORIGIN[0] + k * (side * dlon + 0.05)
        boxes.append((west, ORIGIN[1], west + (side - 1) * dlon, ORIGIN[1] + (side - 1) * dlat))
    return side, boxes


def build_province(db, cities: int, grids: int, nodes: int, seed: int = 1) -> dict:
    """Write the synthetic province (idempotent for the same sizes)."""
    marker = {"cities": cities, "grids": grids, "nodes": nodes, "seed": seed}
    with db.cursor() as cur:
        cur.execute("SELECT stats FROM datasets WHERE name = 'capacity-0'")
        row = cur.fetchone()
    side, boxes = city_boxes(cities, nodes)
    if row is not None and row["stats"].get("marker") == marker:
        return {"side": side, "boxes": boxes}
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    with db.cursor() as cur:
        cur.execute("DELETE FROM areas WHERE code LIKE 'CAP%%'")
        cur.execute("DELETE FROM stations WHERE name LIKE 'capacity %%'")
        cur.execute("DELETE FROM datasets WHERE name LIKE 'capacity-%%'")
    per_city = max(1, grids // cities)
    q = max(1, math.ceil(math.sqrt(per_city)))
    for k, (west, south, east, north) in enumerate(boxes):
        name = f"capacity-{k}"
        srid = _utm((west + east) / 2, (south + north) / 2)
        stats = json.dumps({"marker": marker} if k == 0 else {})
        bbox = shapely.to_wkb(
            shapely.box(west, south, east, north), hex=True, include_srid=True, flavor="extended"
        )
        with db.cursor() as cur:
            cur.execute(
                "INSERT INTO datasets (name, kind, source, srid, bbox, stats) VALUES (%s, 'synthetic', 'bench', %s,"
                " ST_SetSRID(%s::geometry, 4326), %s)",
                (name, srid, bbox, stats),
            )
            lon = np.linspace(west, east, side)
            lat = np.linspace(south, north, side)
            gx, gy = np.meshgrid(lon, lat)
            ids = (k + 1) * 10**8 + np.arange(side * side, dtype=np.int64)
            pts = shapely.points(gx.ravel(), gy.ravel())
            _copy(
                cur,
                "walk_nodes",
                ["dataset", "id", "geom"],
                pd.DataFrame({"d": name, "id": ids, "g": shapely.to_wkb(pts, hex=True, include_srid=False)}),
            )
            grid_ids = ids.reshape(side, side)
            u = np.concatenate([grid_ids[:, :-1].ravel(), grid_ids[:-1, :].ravel()])
            v = np.concatenate([grid_ids[:, 1:].ravel(), grid_ids[1:, :].ravel()])
            ui, vi = u - (k + 1) * 10**8, v - (k + 1) * 10**8
            coords = np.stack(
                [
                    np.column_stack([gx.ravel()[ui], gy.ravel()[ui]]),
                    np.column_stack([gx.ravel()[vi], gy.ravel()[vi]]),
                ],
                axis=1,
            )
            lines = shapely.linestrings(coords)
            for start in range(0, len(u), 500_000):
                part = slice(start, start + 500_000)
                _copy(
                    cur,
                    "walk_edges",
                    ["dataset", "u", "v", "length_m", "highway", "steps", "geom"],
                    pd.DataFrame(
                        {
                            "d": name,
                            "u": u[part],
                            "v": v[part],
                            "l": SPACING_M,
                            "h": "footway",
                            "s": "f",
                            "g": shapely.to_wkb(lines[part], hex=True),
                        }
                    ),
                )
            # grids: q×q squares over the city, communities 4×4 grids, streets 4×4 communities
            ex, ey = np.linspace(west, east, q + 1), np.linspace(south, north, q + 1)
            rows = []
            district = f"CAP{k:02d}"
            rows.append((district, f"合成区{k}", "district", None, shapely.box(west, south, east, north)))
            for level, size, parent_size in (("street", 16, None), ("community", 4, 16), ("grid", 1, 4)):
                for a in range(0, q, size):
                    for b in range(0, q, size):
                        code = f"{district}{level[0].upper()}{a:03d}{b:03d}"
                        if parent_size is None:
                            parent = district
                        else:
                            pa, pb = a // parent_size * parent_size, b // parent_size * parent_size
                            parent = f"{district}{'S' if parent_size == 16 else 'C'}{pa:03d}{pb:03d}"
                        box = shapely.box(ex[a], ey[b], ex[min(a + size, q)], ey[min(b + size, q)])
                        rows.append((code, code, level, parent, box))
            geoms = shapely.multipolygons([[g] for g in (r[4] for r in rows)])
            _copy(
                cur,
                "areas",
                ["code", "name", "level", "parent_code", "source", "geom"],
                pd.DataFrame(
                    {
                        "c": [r[0] for r in rows],
                        "n": [r[1] for r in rows],
                        "l": [r[2] for r in rows],
                        "p": [r[3] for r in rows],
                        "s": "bench",
                        "g": shapely.to_wkb(geoms, hex=True, include_srid=True, flavor="extended"),
                    }
                ),
            )
            area_km2 = (east - west) * (north - south) * 111.0 * 111.0 * math.cos(math.radians(south))
            n_pharmacy, n_station = max(3, int(area_km2 / 0.6)), max(3, int(area_km2 / 2))
            f_lon, f_lat = rng.uniform(west, east, n_pharmacy), rng.uniform(south, north, n_pharmacy)
            _copy(
                cur,
                "facilities",
                ["dataset", "name", "category", "source", "geom"],
                pd.DataFrame(
                    {
                        "d": name,
                        "n": "药店",
                        "c": "pharmacy",
                        "s": "bench",
                        "g": shapely.to_wkb(
                            shapely.points(f_lon, f_lat), hex=True, include_srid=True, flavor="extended"
                        ),
                    }
                ),
            )
            s_lon, s_lat = rng.uniform(west, east, n_station), rng.uniform(south, north, n_station)
            _copy(
                cur,
                "stations",
                ["name", "kind", "geom"],
                pd.DataFrame(
                    {
                        "n": [f"capacity {k}-{i}" for i in range(n_station)],
                        "k": "care_station",
                        "g": shapely.to_wkb(
                            shapely.points(s_lon, s_lat), hex=True, include_srid=True, flavor="extended"
                        ),
                    }
                ),
            )
        print(f"  city {k}: {side * side:,} nodes, {len(u):,} edges, {len(rows):,} areas", flush=True)
    with db.cursor() as cur:
        cur.execute("ANALYZE walk_nodes; ANALYZE walk_edges; ANALYZE areas; ANALYZE facilities")
    print(f"  province written in {time.perf_counter() - started:.0f} s", flush=True)
    return {"side": side, "boxes": boxes}


def homes(boxes: list[tuple[float, float, float, float]], n: int, seed: int = 2) -> Path:
    """``n`` homes uniform over the cities, Parquet parts of ≤1 M rows (written once)."""
    folder = WORK / f"homes-{n}-{len(boxes)}"
    if folder.exists() and (folder / "_done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    written = 0
    for part in range(math.ceil(n / 1_000_000)):
        m = min(1_000_000, n - written)
        city = rng.integers(0, len(boxes), m)
        b = np.array(boxes)[city]
        frame = pd.DataFrame(
            {
                "home": np.arange(written, written + m),
                "lon": rng.uniform(b[:, 0], b[:, 2]),
                "lat": rng.uniform(b[:, 1], b[:, 3]),
            }
        )
        frame.to_parquet(folder / f"part-{part:04d}.parquet", index=False)
        written += m
    (folder / "_done").write_text(str(n))
    return folder


def _max_rss_mb() -> float:
    """The worker process's peak resident memory since it started, MB (the kernel's own high-water mark)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """CPU seconds (user + system) this process has used: run on every worker by ``client.run``. On a machine
    shared with other work a job's wall time depends on how much of the cores it got; its workers' CPU time
    does not."""
    times = psutil.Process().cpu_times()
    return times.user + times.system


class PeakMemory:
    """Peak process memory of each Dask worker (the scheduler's view), sampled in the background."""

    def __init__(self, client) -> None:
        self.client, self.peak, self._stop = client, {}, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for address, worker in self.client.scheduler_info(n_workers=-1)["workers"].items():
                memory = worker.get("metrics", {}).get("memory", 0)
                self.peak[address] = max(self.peak.get(address, 0), memory)
            time.sleep(0.2)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def max_mb(self) -> float:
        return max(self.peak.values(), default=0) / 2**20


def run_batch(
    db, folder: Path, n: int, dask_workers: int, skip_sjoin: bool, skip_reach: bool, repeat: int = 1
) -> list[list[object]]:
    import contextlib

    import dask
    import dask.dataframe as dd
    import dask_geopandas
    import geopandas
    from distributed import Client, LocalCluster
    from distributed import progress as progress_bar

    from geo_service.batch.jobs import WORKER_PRELOAD, batch_locate, batch_reach, worker_config

    rows = []
    out = Path(tempfile.mkdtemp(prefix="capacity-", dir=WORK))
    windows = out / "windows"
    state: dict[str, object] = {}  # the running cluster's client; the grids sjoin read (its "warm" memory)

    @contextlib.contextmanager
    def fresh_workers(keep_windows: bool):
        """A new cluster: new worker processes, nothing in their memory, both sides' modules imported when
        each starts (Dask's worker preload: ``geo_service.batch.preload`` and ``bench/capacity_preload.py``),
        the rest of ``worker_config()`` as ``geo-service batch`` starts its local cluster (MALLOC_MMAP_THRESHOLD_,
        no statistical profiler), the windows kept on disk removed unless ``keep_windows``. A new cluster, not
        ``client.restart()``: fresh workers of a fresh cluster, for both sides alike."""
        if not keep_windows:
            shutil.rmtree(windows, ignore_errors=True)
        state.pop("grids", None)
        preload = {"distributed.worker.preload": [WORKER_PRELOAD, "bench.capacity_preload"]}
        with (
            dask.config.set({**worker_config(), **preload}),
            LocalCluster(
                n_workers=dask_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                memory_limit="6GiB",
                env={"GEO_SERVICE_DATABASE_URL": db.dsn},
            ) as cluster,
            Client(cluster) as client,
        ):
            client.wait_for_workers(dask_workers, timeout=600)
            state["client"] = client
            yield client

    def job(label: str, fn) -> None:
        client = state["client"]
        cpu_before = sum(client.run(_cpu_seconds).values())
        own_before = time.process_time()  # this process: the client and the scheduler of the local cluster
        with PeakMemory(client) as memory:
            started = time.perf_counter()
            fn(client)
            seconds = time.perf_counter() - started
        cpu = sum(client.run(_cpu_seconds).values()) - cpu_before
        total_cpu = cpu + time.process_time() - own_before
        rows.append(
            [
                label,
                f"{n:,}",
                f"{seconds:.1f}",
                f"{n / seconds:,.0f}",
                f"{cpu:.1f}",
                f"{n / cpu:,.0f}",
                f"{total_cpu:.1f}",
                f"{memory.max_mb:,.0f}",
                f"{max(client.run(_max_rss_mb).values()):,.0f}",
                f"{os.getloadavg()[0]:.1f}",  # the machine's share of other work (1-minute load)
            ]
        )
        print("  " + " | ".join(map(str, rows[-1])), flush=True)

    def read_grids() -> geopandas.GeoDataFrame:
        """The grids for sjoin, read from the database by the job (ours reads its windows in its job too);
        kept by the client for the next job on the same workers (ours keeps its windows)."""
        if "grids" not in state:
            with db.cursor() as cur:
                cur.execute(
                    "SELECT code, ST_AsBinary(geom) AS wkb FROM areas WHERE level = 'grid' AND valid_to IS NULL"
                )
                got = cur.fetchall()
            state["grids"] = geopandas.GeoDataFrame(
                {"grid_code": [r["code"] for r in got]},
                geometry=shapely.from_wkb([bytes(r["wkb"]) for r in got]),
                crs=4326,
            )
        return state["grids"]

    def sjoin(client) -> None:
        points = dd.read_parquet(str(folder))
        points = dask_geopandas.from_dask_dataframe(
            points, geometry=dask_geopandas.points_from_xy(points, "lon", "lat")
        ).set_crs(4326)
        joined = dask_geopandas.sjoin(points, read_grids(), how="inner", predicate="within")
        future = client.compute(
            joined.to_parquet(str(out / "sjoin"), write_index=False, compute=False, overwrite=True)
        )
        progress_bar(future)
        future.result()

    def locate(client) -> None:
        batch_locate(
            client, folder, out / "locate", dsn=db.dsn, windows_dir=windows, progress=True, overwrite=True
        )

    # Interleaved rounds, the tables take the medians. Each round treats both sides alike: a new cluster
    # (fresh workers, imports preloaded) and no windows anywhere for our cold job (every window built); a new
    # cluster for sjoin's cold job (the grids read from the database), then sjoin again on the same workers
    # (warm: the workers' first-use costs paid, the grids in the client's memory); a new cluster with the
    # windows kept on disk by our cold job (what every job after the first meets on a new cluster), then the
    # same workers again (warm: the windows in their memory). Cold is compared with cold, warm with warm.
    for _ in range(repeat):
        with fresh_workers(keep_windows=False):
            job("batch locate (grid + hierarchy, cold)", locate)
        if not skip_sjoin:
            with fresh_workers(keep_windows=True):
                job("dask-geopandas sjoin (grid only, cold)", sjoin)
                job("dask-geopandas sjoin (grid only, warm)", sjoin)
        with fresh_workers(keep_windows=True):
            job("batch locate (grid + hierarchy, new workers, windows on disk)", locate)
            job("batch locate (grid + hierarchy, warm)", locate)
    if not skip_reach:
        with fresh_workers(keep_windows=True):
            job(
                "batch reach (pharmacy)",
                lambda client: batch_reach(
                    client,
                    folder,
                    out / "reach",
                    "pharmacy",
                    dsn=db.dsn,
                    windows_dir=windows,
                    progress=True,
                    overwrite=True,
                ),
            )
    shutil.rmtree(out, ignore_errors=True)
    return rows


def _tree_rss_mb(pid: int) -> tuple[float, list[float]]:
    """Memory of a server and its worker processes, MB: their PSS summed (pages shared between them — the
    walking network is memory-mapped from one cache file by every worker — counted once), and each one's
    RSS."""
    proc = psutil.Process(pid)
    procs = [p for p in (proc, *proc.children(recursive=True)) if p.is_running()]
    pss = sum(p.memory_full_info().pss for p in procs) / 2**20
    return pss, [p.memory_info().rss / 2**20 for p in procs]


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by a server and its worker processes."""
    proc = psutil.Process(pid)
    total = 0.0
    for p in (proc, *proc.children(recursive=True)):
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _measured(pid: int, *h2load_args: object) -> tuple[dict, float]:
    """``h2load(*h2load_args)`` and the server's CPU seconds during it: on a machine shared with other work
    the rate depends on the share of the cores the server got, requests per CPU second much less."""
    before = _tree_cpu_s(pid)
    result = h2load(*h2load_args)
    return result, _tree_cpu_s(pid) - before


def run_server(db, boxes, nodes: int, workers: list[int], requests: int) -> list[list[object]]:
    import httpx

    from tests.conftest import free_port

    rows = []
    rng = np.random.default_rng(3)
    west, south = boxes[0][0], boxes[0][1]
    east, north = boxes[-1][2], boxes[-1][3]
    pts = [
        (rng.uniform(b[0], b[2]), rng.uniform(b[1], b[3]))
        for b in (boxes[i % len(boxes)] for i in range(2000))
    ]
    env = {
        **os.environ,
        "GEO_SERVICE_DATABASE_URL": db.dsn,
        "GEO_SERVICE_LIMITS_ENABLED": "false",
        "GEO_SERVICE_INCIDENTS_ESCALATION_ENABLED": "false",
    }
    for n in workers:
        if rows:  # a process more than the last run held: refuse to crowd out the machine's other users
            per_process_mb = float(rows[-1][4].replace(",", ""))
            free_mb = psutil.virtual_memory().available / 2**20
            if free_mb < 2048 + per_process_mb * (n - rows[-1][0]):
                print(f"  {n} workers: skipped, {free_mb:,.0f} MB free", flush=True)
                continue
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "geo_service.cli", "serve", "--port", str(port), "--workers", str(n)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=(WORK / f"serve-{n}.log").open("w"),  # the server's own account, should a worker die
        )
        try:
            while True:
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            ready_s = time.perf_counter() - started
            total_before, _ = _tree_rss_mb(proc.pid)
            lon, lat = pts[0]
            with httpx.Client(base_url=base, timeout=600) as client:
                # every worker process warms its own caches: ask each URL a few times per process
                for _ in range(3 * n):
                    client.get("/api/locate", params={"lon": lon, "lat": lat}).raise_for_status()
                    client.get("/api/stations/nearest", params={"lon": lon, "lat": lat}).raise_for_status()
            warm_s = time.perf_counter() - started
            total, each = _tree_rss_mb(proc.pid)
            per_node_b = (total - total_before) * 2**20 / max(1, nodes)
            workdir = Path(tempfile.mkdtemp(prefix="capacity-h2-", dir=WORK))
            locate, locate_cpu = _measured(
                proc.pid,
                [f"{base}/api/locate?lon={x:.6f}&lat={y:.6f}" for x, y in pts],
                50,
                requests,
                workdir,
                "locate",
            )
            nearest, nearest_cpu = _measured(
                proc.pid,
                [f"{base}/api/stations/nearest?lon={x:.6f}&lat={y:.6f}" for x, y in pts],
                50,
                max(200, requests // 4),
                workdir,
                "nearest",
            )
            tiles, tiles_cpu = _measured(
                proc.pid,
                tile_urls(base, (west, south, min(east, west + 0.3), min(north, south + 0.3))),
                50,
                requests,
                workdir,
                "tiles",
            )
            shutil.rmtree(workdir, ignore_errors=True)
            rows.append(
                [
                    n,
                    f"{ready_s:.1f}",
                    f"{warm_s:.1f}",
                    f"{total:,.0f}",
                    f"{max(each):,.0f}",
                    f"{per_node_b:,.0f}",
                    f"{locate['rate']:,.0f}",
                    f"{nearest['rate']:,.0f}",
                    f"{tiles['rate']:,.0f}",
                    f"{locate['requests'] / max(locate_cpu, 1e-9):,.0f}",
                    f"{nearest['requests'] / max(nearest_cpu, 1e-9):,.0f}",
                    f"{tiles['requests'] / max(tiles_cpu, 1e-9):,.0f}",
                    f"{locate['errors'] + nearest['errors'] + tiles['errors']}",
                    f"{os.getloadavg()[0]:.1f}",
                ]
            )
            print("  " + " | ".join(map(str, rows[-1])), flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--homes", type=int, default=10_000_000)
    parser.add_argument("--grids", type=int, default=30_000)
    parser.add_argument("--nodes", type=int, default=2_000_000)
    parser.add_argument("--cities", type=int, default=6)
    parser.add_argument("--dask-workers", type=int, default=2)
    parser.add_argument("--server-workers", default="1,2,4")
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds of batch locate and sjoin, interleaved (medians)"
    )
    parser.add_argument("--skip-batch", action="store_true")
    parser.add_argument("--skip-server", action="store_true")
    parser.add_argument("--skip-sjoin", action="store_true")
    parser.add_argument("--skip-reach", action="store_true")
    parser.add_argument(
        "--database",
        default=DB_NAME,
        help="bench database (a small province for trying things out: another name)",
    )
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    db = bench_database(args.database)
    print(f"province: {args.cities} cities, {args.grids:,} grids, {args.nodes:,} nodes", flush=True)
    province = build_province(db, args.cities, args.grids, args.nodes)
    print(f"homes: {args.homes:,}", flush=True)
    folder = homes(province["boxes"], args.homes)
    if not args.skip_batch:
        print("batch:", flush=True)
        rows = run_batch(
            db, folder, args.homes, args.dask_workers, args.skip_sjoin, args.skip_reach, args.repeat
        )
        number = lambda cell: float(str(cell).replace(",", ""))  # noqa: E731
        medians = []
        for label in dict.fromkeys(row[0] for row in rows):
            runs = [row for row in rows if row[0] == label]
            seconds = float(np.median([number(r[2]) for r in runs]))
            cpu = float(np.median([number(r[4]) for r in runs]))
            total_cpu = float(np.median([number(r[6]) for r in runs]))
            medians.append(
                [
                    label,
                    runs[0][1],
                    len(runs),
                    f"{seconds:.1f}",
                    f"{args.homes / seconds:,.0f}",
                    f"{cpu:.1f}",
                    f"{args.homes / cpu:,.0f}",
                    f"{total_cpu:.1f}",
                    f"{args.homes / total_cpu:,.0f}",
                    f"{max(number(r[7]) for r in runs):,.0f}",
                    f"{max(number(r[8]) for r in runs):,.0f}",
                    f"{min(number(r[9]) for r in runs):.1f}–{max(number(r[9]) for r in runs):.1f}",
                ]
            )
        print(
            markdown_table(
                [
                    "job",
                    "points",
                    "runs",
                    "seconds (median)",
                    "points/s",
                    "worker CPU s (median)",
                    "points per worker CPU s",
                    "CPU s with client and scheduler (median)",
                    "points per CPU s (all)",
                    "peak MB per worker (sampled)",
                    "peak RSS MB per worker (max)",
                    "load average",
                ],
                medians,
            )
        )
        peers = {row[0]: row for row in medians if row[0].startswith("dask-geopandas sjoin")}
        for ours in (row for row in medians if row[0].startswith("batch locate")) if peers else ():
            # jobs on fresh workers against sjoin on fresh workers, warm against sjoin on workers that ran before
            side = "warm" if ours[0].endswith("warm)") else "cold"
            peer = peers.get(f"dask-geopandas sjoin (grid only, {side})")
            if peer is None:
                continue
            print(
                f"{ours[0]} / sjoin {side}: {number(ours[4]) / number(peer[4]):.2f}x points/s (wall), "
                f"{number(ours[6]) / number(peer[6]):.2f}x points per worker CPU second, "
                f"{number(ours[8]) / number(peer[8]):.2f}x points per CPU second with client and scheduler"
            )
    if not args.skip_server:
        print("server:", flush=True)
        rows = run_server(
            db,
            province["boxes"],
            province["side"] ** 2 * args.cities,
            [int(w) for w in args.server_workers.split(",")],
            args.requests,
        )
        print(
            markdown_table(
                [
                    "workers",
                    "ready s",
                    "warm s",
                    "PSS MB (all)",
                    "RSS MB (largest)",
                    "warm-up bytes/node (all)",
                    "locate req/s",
                    "nearest req/s",
                    "tiles req/s",
                    "locate req per server CPU s",
                    "nearest req per server CPU s",
                    "tiles req per server CPU s",
                    "errors",
                    "load average",
                ],
                rows,
            )
        )


if __name__ == "__main__":
    main()
