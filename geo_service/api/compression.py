"""Response compression negotiated by ``Accept-Encoding``: Brotli when the client takes it, else gzip.

Plain ASGI middleware. It compresses text-like bodies (JSON, GeoJSON, HTML, JS, CSS, SVG, CSV) sent in one
piece and above a minimum size; it leaves alone streamed bodies, already-encoded ones, images and archives,
and responses that carry an ``ETag`` (a compressed body is another representation, and the tile and feature
routes compare strong validators byte for byte).
"""

from __future__ import annotations

import gzip

import brotli
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_TEXT_TYPES = (
    "application/json",
    "application/geo+json",
    "application/problem+json",
    "application/schema+json",
    "application/javascript",
    "text/",
    "image/svg+xml",
    "application/xml",
)


def _accepted(accept_encoding: str) -> str | None:
    """'br' or 'gzip' when the header admits it (q > 0), Brotli first."""
    offered: dict[str, float] = {}
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        offered[name.strip()] = quality
    for coding in ("br", "gzip"):
        if offered.get(coding, offered.get("*", 0.0)) > 0:
            return coding
    return None


BROTLI_QUALITY = 1
GZIP_LEVEL = 1


class Compression:
    """Compress eligible responses with ``br`` (quality ``brotli_quality``) or ``gzip`` (level ``gzip_level``).

    The fastest levels by default: answers are compressed on every request, not once for a static file. On a
    51 kB isochrone answer Brotli quality 1 took 0.16 ms for 10.9 kB against quality 4's 0.59 ms for 10.4 kB,
    gzip level 1 0.28 ms for 14.6 kB against level 5's 0.81 ms for 11.7 kB (``docs/benchmarks.md``)."""

    def __init__(
        self,
        app: ASGIApp,
        minimum_bytes: int = 1024,
        brotli_quality: int = BROTLI_QUALITY,
        gzip_level: int = GZIP_LEVEL,
    ) -> None:
        self.app = app
        self.minimum_bytes = minimum_bytes
        self.brotli_quality = brotli_quality
        self.gzip_level = gzip_level

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        coding = _accepted(Headers(scope=scope).get("accept-encoding", ""))
        if coding is None:
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        eligible = False

        async def compressing_send(message: Message) -> None:
            nonlocal start, eligible
            if message["type"] == "http.response.start":
                headers = Headers(raw=message["headers"])
                eligible = (
                    "content-encoding" not in headers
                    and "etag" not in headers
                    and headers.get("content-type", "").startswith(_TEXT_TYPES)
                )
                if eligible:
                    start = message  # held until the body shows whether it is worth compressing
                    return
                await send(message)
                return
            if message["type"] == "http.response.body" and start is not None:
                held, start = start, None
                body = message.get("body", b"")
                if message.get("more_body", False) or len(body) < self.minimum_bytes:
                    await send(held)  # streamed or small: as it is
                    await send(message)
                    return
                if coding == "br":
                    packed = brotli.compress(body, quality=self.brotli_quality)
                else:
                    packed = gzip.compress(body, compresslevel=self.gzip_level, mtime=0)
                headers = MutableHeaders(raw=held["headers"])
                headers["content-encoding"] = coding
                headers["content-length"] = str(len(packed))
                headers.add_vary_header("Accept-Encoding")
                await send(held)
                await send({"type": "http.response.body", "body": packed})
                return
            await send(message)

        await self.app(scope, receive, compressing_send)
