"""The floor under ``GET /api/isochrones``: a bare ASGI app that answers the same request with the same
computation (``walking.isochrones``) and the same GeoJSON bytes (Brotli-compressed as the service compresses them
when the client asks ``br``), and nothing else — no framework, no parameter validation, no middleware, no thread
hand-off, no access log.

``bench/isochrone_http.py`` serves it with uvicorn (as ``geo-service serve`` is served) beside the real service:
what it takes over the in-process call is what Python, uvicorn and the socket cost on this machine, the part
of an answer over HTTP that no change inside the service can remove. Not part of the service; it trusts its
input. The database is ``BENCH_BARE_DSN``.

    BENCH_BARE_DSN=postgresql://... .venv/bin/python -m uvicorn bench.bare_isochrone:app --port 8001

``framework_app`` answers the same with FastAPI around it and nothing of the service's own but its Brotli
middleware: between the two, what the framework costs and what the service's layers (rate limits, tokens,
security headers, the other middleware, the access log) add.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import anyio.to_thread
import brotli
from fastapi import FastAPI, Response

from geo_service import walking
from geo_service.api.compression import BROTLI_QUALITY, Compression
from geo_service.db.pool import Database
from geo_service.settings import WalkingSettings

DB = Database(os.environ["BENCH_BARE_DSN"], max_size=2)
SETTINGS = WalkingSettings()

Message = dict[str, Any]


def _isochrone(lon: float, lat: float, minutes: str) -> bytes:
    """What ``GET /api/isochrones`` answers: the FeatureCollection, written as the route writes it."""
    levels = [float(m) for m in minutes.split(",")]
    contours = walking.isochrones(DB, [[lon, lat]], levels, None, "wgs84", None, SETTINGS)
    return walking.contours_json(contours, {"origins": [[lon, lat]]})


def _body(query: bytes) -> bytes:
    fields = parse_qs(query.decode())
    return _isochrone(float(fields["lon"][0]), float(fields["lat"][0]), fields["minutes"][0])


async def app(
    scope: Message, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
) -> None:
    """``/healthz`` answers ``{"status":"ok"}``; any other path an isochrone."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            done = (
                "lifespan.startup.complete"
                if message["type"] == "lifespan.startup"
                else "lifespan.shutdown.complete"
            )
            await send({"type": done})
            if done == "lifespan.shutdown.complete":
                return
    body = b'{"status":"ok"}' if scope["path"] == "/healthz" else _body(scope["query_string"])
    headers = [(b"content-type", b"application/json")]
    if len(body) >= 1024 and any(
        name == b"accept-encoding" and b"br" in value for name, value in scope["headers"]
    ):
        body = brotli.compress(body, quality=BROTLI_QUALITY)
        headers.append((b"content-encoding", b"br"))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


framework_app = FastAPI(openapi_url=None)
"""The same answers from the plainest FastAPI app doing it as a FastAPI app should: the three parameters declared
and validated, the computation in the thread pool (not on the event loop), the service's Brotli middleware; no
other middleware, dependency or access log. Its distance from ``app`` is what the framework itself costs."""
framework_app.add_middleware(Compression)


@framework_app.get("/healthz")
async def _healthz() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


@framework_app.get("/api/isochrones")
async def _isochrones(lon: float, lat: float, minutes: str) -> Response:
    body = await anyio.to_thread.run_sync(_isochrone, lon, lat, minutes)
    return Response(body, media_type="application/json")
