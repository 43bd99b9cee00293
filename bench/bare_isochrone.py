"""The floor under ``GET /api/isochrones``: a bare ASGI app that answers the same request with the same
computation (``walking.isochrones``) and the same GeoJSON bytes (Brotli-compressed as the service compresses them
when the client asks ``br``), and nothing else — no framework, no parameter validation, no middleware, no thread
hand-off, no access log.

``bench/isochrone_http.py`` serves it with uvicorn (as ``geo-service serve`` is served) beside the real service:
what it takes over the in-process call is what Python, uvicorn and the socket cost on this machine, the part
of an answer over HTTP that no change inside the service can remove. Not part of the service; it trusts its
input. The database is ``BENCH_BARE_DSN``.

    BENCH_BARE_DSN=postgresql://... .venv/bin/python -m uvicorn bench.bare_isochrone:app --port 8001
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import brotli

from geo_service import walking
from geo_service.api.compression import BROTLI_QUALITY
from geo_service.db.pool import Database
from geo_service.settings import WalkingSettings

DB = Database(os.environ["BENCH_BARE_DSN"], max_size=2)
SETTINGS = WalkingSettings()

Message = dict[str, Any]


def _body(query: bytes) -> bytes:
    """What ``GET /api/isochrones`` answers for ``lon``, ``lat``, ``minutes``: the FeatureCollection, written as
    the route writes it."""
    fields = parse_qs(query.decode())
    lon, lat = float(fields["lon"][0]), float(fields["lat"][0])
    minutes = [float(m) for m in fields["minutes"][0].split(",")]
    contours = walking.isochrones(DB, [[lon, lat]], minutes, None, "wgs84", None, SETTINGS)
    return walking.contours_json(contours, {"origins": [[lon, lat]]})


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
