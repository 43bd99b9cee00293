"""Host header checks and security headers, as plain ASGI middleware (no buffering).

``TrustedHosts`` answers 400 to a request whose ``Host`` is not one of the service's names, so a forged Host can
never reach the links the service writes (TileJSON, style, OGC): those use ``GEO_SERVICE_API_PUBLIC_BASE_URL``
when set, else the request's own address, which this check vouches for. Health probes are exempt (they write
no links and orchestrators probe by IP).

``SecurityHeaders`` adds to every response ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``
and ``Referrer-Policy: same-origin``, and to HTML (and SVG) a Content-Security-Policy: the strict
:data:`PAGE_POLICY` everywhere except FastAPI's own API docs pages when the app uses them (they load Swagger UI /
ReDoc from a CDN with an inline script: :data:`DOCS_POLICY`) and folium's quick maps under ``/maps/``
(:data:`FOLIUM_POLICY`, inline scripts). A route that sets its own policy keeps it. A page shown over an
external basemap (``?basemap=osm|tianditu|amap`` or ``GEO_SERVICE_MAP_BASEMAP``) may also fetch that basemap's
tile servers, and nothing else.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo_service.i18n import DEFAULT_LANGUAGE, negotiate, translate
from geo_service.settings import APISettings, MapSettings
from geo_service.tiles.style import BASEMAPS, external_basemap

log = logging.getLogger(__name__)
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "worker-src 'self' blob:; connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)
# FastAPI's built-in Swagger UI and ReDoc pages start themselves with an inline script and load from jsDelivr.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "img-src 'self' data: blob: https://fastapi.tiangolo.com https://cdn.redoc.ly; worker-src 'self' blob:; "
    "connect-src 'self'; font-src 'self' data: https://fonts.gstatic.com; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)
# folium writes its map as inline script and style; everything it loads still comes from /vendor.
FOLIUM_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)
EXEMPT_FROM_HOST_CHECK = frozenset({"/healthz", "/readyz"})
ALWAYS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


def basemap_origins(kind: str, settings: MapSettings) -> list[str]:
    """The origins (``https://host``) the tiles of basemap ``kind`` come from; none for our own (``local``)."""
    if kind not in BASEMAPS or kind == "local":
        return []
    parts = (urlsplit(template) for template in external_basemap(kind, settings).tiles)
    return sorted({f"{u.scheme}://{u.netloc}" for u in parts if u.scheme in ("http", "https") and u.netloc})


def policy_for(
    path: str, query: str = "", settings: MapSettings | None = None, docs_paths: tuple[str, ...] = ()
) -> str:
    """The Content-Security-Policy of an HTML answer at ``path`` (``query``: its query string; ``docs_paths``:
    where FastAPI serves its own CDN-based docs pages, if it does)."""
    if docs_paths and path.startswith(docs_paths):
        return DOCS_POLICY
    if path.startswith("/maps/"):
        return FOLIUM_POLICY
    if path.startswith("/app") and settings is not None:
        kind = (parse_qs(query).get("basemap") or [settings.basemap])[0]
        origins = " ".join(basemap_origins(kind, settings))
        if origins:
            return PAGE_POLICY.replace(
                "img-src 'self' data: blob:", f"img-src 'self' data: blob: {origins}"
            ).replace("connect-src 'self'", f"connect-src 'self' {origins}")
    return PAGE_POLICY


def host_name(header: str) -> str:
    """The name of a ``Host`` header without its port, lower case (``[::1]:8000`` → ``::1``)."""
    host = header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def trusted_hosts(settings: APISettings) -> list[str]:
    """``GEO_SERVICE_API_TRUSTED_HOSTS`` when set; else the loopback names, the configured bind address (unless
    it is a wildcard) and the host of ``GEO_SERVICE_API_PUBLIC_BASE_URL``."""
    if settings.trusted_hosts is not None:
        return [h.strip().lower() for h in settings.trusted_hosts if h.strip()]
    hosts = ["localhost", "127.0.0.1", "::1"]
    if settings.host not in ("0.0.0.0", "::", ""):
        hosts.append(host_name(settings.host))
    elif not settings.public_base_url:
        log.warning(
            "listening on all addresses but answering only Host %s: set GEO_SERVICE_API_PUBLIC_BASE_URL or "
            "GEO_SERVICE_API_TRUSTED_HOSTS to the names clients use",
            ", ".join(hosts),
        )
    if settings.public_base_url:
        public = urlsplit(settings.public_base_url).hostname
        if public:
            hosts.append(public.lower())
    return hosts


def is_trusted(host: str, allowed: list[str]) -> bool:
    """Whether ``host`` (no port) is allowed: an exact name, ``*.domain`` for its subdomains, or ``*``."""
    for pattern in allowed:
        if pattern == "*" or host == pattern:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False


class TrustedHosts:
    """400 for a request whose Host header names none of ``allowed`` (a request without one is served: its
    links then carry the address the server is bound to)."""

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path") in EXEMPT_FROM_HOST_CHECK:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        raw = headers.get(b"host")
        if raw is None or is_trusted(host_name(raw.decode("latin-1")), self.allowed):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        settings = getattr(getattr(scope.get("app"), "state", None), "api_settings", None)
        accept = headers.get(b"accept-language", b"").decode("latin-1") or None
        language = negotiate(accept, getattr(settings, "language", DEFAULT_LANGUAGE))
        params = {"host": raw.decode("latin-1")[:200]}
        code = "request.untrusted_host"
        body = json.dumps(
            {
                "code": code,
                "message": translate(code, language, params),
                "detail": translate(code, "en", params),
            },
            ensure_ascii=False,
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *ALWAYS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """The security headers of every response (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS:
                    headers.setdefault(name.decode(), value.decode())
                media_type = headers.get("content-type", "").split(";")[0].strip().lower()
                if media_type in ("text/html", "image/svg+xml"):
                    app = scope.get("app")
                    query = scope.get("query_string", b"").decode("latin-1")
                    settings = getattr(getattr(app, "state", None), "map_settings", None)
                    docs = tuple(
                        p for p in (getattr(app, "docs_url", None), getattr(app, "redoc_url", None)) if p
                    )
                    headers.setdefault("content-security-policy", policy_for(path, query, settings, docs))
            await send(message)

        await self.app(scope, receive, send_with_headers)
