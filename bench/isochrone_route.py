"""Where an isochrone's time over HTTP goes: the computation, the app around it, and the socket with its client.

``bench/isochrone_http.py`` shows HTTP adding ~3 ms to a ~4 ms isochrone. This splits that, on the same
origins (Helsinki, one 15-minute contour):

- **direct**: ``walking.service.isochrones`` called as the route calls it;
- **ASGI, identity / br**: ``GET /api/isochrones`` through the app as an ASGI callable in this process (no
  socket): the direct call plus parameters, dependencies, the hop to the compute thread, the GeoJSON writer,
  the middleware and (br) Brotli;
- **ASGI /healthz**: an empty route through the same middleware, right after each isochrone and alone (1,000
  in a row);
- **socket /healthz, httpx / http.client**: ``geo-service serve`` in its own process over loopback, one
  keep-alive connection: what the socket, uvicorn and each Python client add to an empty answer.

Medians over the origins (1,000 requests for the socket rows), repeated ``--repeat`` times: the table shows
the median of those medians and their spread.

    .venv/bin/python bench/isochrone_route.py [--origins 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import markdown_table
from bench.isochrone_http import helsinki_origins, serving
from geo_service.api.app import create_app
from geo_service.settings import WalkingSettings
from geo_service.walking import service

Message = dict[str, object]


async def _asgi_get(app: Callable[..., object], path: str, query: str, coding: str) -> int:
    """One GET through ``app``; its status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"accept-encoding", coding.encode()), (b"accept", b"*/*")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)  # type: ignore[operator]  # an ASGI app
    return int(sent[0]["status"])  # type: ignore[call-overload]  # http.response.start


def _socket_floor(base: str, requests: int) -> dict[str, float]:
    """Median ms of ``GET /healthz`` over one keep-alive connection, per client."""
    url = urlsplit(base)
    plain = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port)

    def by_http_client() -> None:
        plain.request("GET", "/healthz")
        plain.getresponse().read()

    with httpx.Client(base_url=base) as client:
        calls = {
            "socket /healthz, httpx": lambda: client.get("/healthz").read(),
            "socket /healthz, http.client": by_http_client,
        }
        times: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(requests // 10):
            for call in calls.values():
                call()
        for _ in range(requests):
            for name, call in calls.items():  # interleaved: drift hits both alike
                start = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - start)
    plain.close()
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


async def _in_process(
    app: Callable[..., object], db: object, origins: list[tuple[float, float]], repeat: int
) -> dict[str, list[float]]:
    settings = WalkingSettings()
    runs: dict[str, list[float]] = {"direct": [], "ASGI, identity": [], "ASGI, br": [], "ASGI /healthz": []}
    for lon, lat in origins[:3]:  # warm: JIT, caches
        await _asgi_get(app, "/api/isochrones", f"lon={lon}&lat={lat}&minutes=15", "br")
    for _ in range(repeat):
        times: dict[str, list[float]] = {name: [] for name in runs}
        for lon, lat in origins:
            start = time.perf_counter()
            service.isochrones(db, [[lon, lat]], [15.0], settings=settings)  # type: ignore[arg-type]
            times["direct"].append(time.perf_counter() - start)
            for coding in ("identity", "br"):
                start = time.perf_counter()
                status = await _asgi_get(app, "/api/isochrones", f"lon={lon}&lat={lat}&minutes=15", coding)
                times[f"ASGI, {coding}"].append(time.perf_counter() - start)
                assert status == 200, status
            start = time.perf_counter()
            assert await _asgi_get(app, "/healthz", "", "br") == 200
            times["ASGI /healthz"].append(time.perf_counter() - start)
        alone = []
        for _ in range(1000):
            start = time.perf_counter()
            await _asgi_get(app, "/healthz", "", "br")
            alone.append(time.perf_counter() - start)
        times["ASGI /healthz, alone"] = alone
        for name, values in times.items():
            runs.setdefault(name, []).append(statistics.median(values) * 1000)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--origins", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1000, help="requests per client for the socket rows")
    args = parser.parse_args()
    os.environ.setdefault("GEO_SERVICE_LIMITS_ENABLED", "false")
    os.environ.setdefault("GEO_SERVICE_INCIDENTS_ESCALATION_ENABLED", "false")

    db, picked = helsinki_origins(args.origins)
    origins = [(lon, lat) for lon, lat, _ in picked]

    app = create_app(db=db)

    async def measure() -> dict[str, list[float]]:
        async with app.router.lifespan_context(app):
            return await _in_process(app, db, origins, args.repeat)

    runs = asyncio.run(measure())
    with serving(db.dsn) as base:
        for _ in range(args.repeat):
            for name, ms in _socket_floor(base, args.requests).items():
                runs.setdefault(name, []).append(ms)

    direct = statistics.median(runs["direct"])
    rows = []
    for name, values in runs.items():
        p50 = statistics.median(values)
        extra = f"+{p50 - direct:.2f} ms" if name.startswith("ASGI, ") else ""
        rows.append([name, f"{p50:.2f} ms", f"{min(values):.2f}–{max(values):.2f}", extra])
    print(f"\nHelsinki, {args.origins} origins, one 15-minute contour, {args.repeat} runs")
    print(markdown_table(["", "p50", "spread of run medians", "over direct"], rows))


if __name__ == "__main__":
    main()
