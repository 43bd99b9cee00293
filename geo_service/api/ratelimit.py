"""Rate limits and the cap on expensive work, in process (no Redis: one deployment, a few processes).

Every request of an API route is classed ``expensive`` (siting, grid validation and proposals, imports, guide
maps, batch locate, photo uploads), ``write`` (any other method than GET/HEAD/OPTIONS) or ``read``, and charged to its caller: the
token when one is presented and valid, else the client address. Each class has a token bucket per caller
(``GEO_SERVICE_LIMITS_*``); an empty bucket answers 429 with ``Retry-After``. Expensive requests also take one of
a fixed number of slots while they run; when none is free the answer is 503 with ``Retry-After`` at once, never
a queue.

Invalid bearer tokens cost their client address from a separate small bucket: once it is empty, further
invalid tokens from that address get 429 instead of 401 until it refills. A valid token is always
accepted, so someone guessing tokens from a shared address (a NAT, a proxy) never locks out its owner.

Each process keeps its own buckets and slots: ``serve --workers N`` admits up to N times the rates.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

from starlette.types import ASGIApp, Receive, Scope, Send

from geo_service.errors import ServerBusy, TooManyRequests
from geo_service.settings import RateLimitSettings

RouteClass = Literal["expensive", "write", "read", "exempt"]

# (method, route path template) of the expensive routes; any POST .../import is expensive too.
EXPENSIVE: frozenset[tuple[str, str]] = frozenset(
    {
        ("POST", "/api/siting"),
        ("POST", "/api/grids/validate"),
        ("POST", "/api/grids/propose"),
        ("GET", "/api/areas/{code}/guide-map.png"),
        ("GET", "/api/areas/{code}/guide-map.pdf"),
        ("POST", "/api/locate/batch"),
        # decoding and re-encoding an untrusted photo is CPU work: a few at a time
        ("POST", "/api/incidents/{incident_id}/media"),
        ("POST", "/api/stations/{station_id}/inspections"),
    }
)
_IMPORT = re.compile(r"/import$")
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/favicon.ico"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def route_class(method: str, path_template: str) -> RouteClass:
    """The class of a route by its method and path template (``/api/grids/{code}``)."""
    if path_template in EXEMPT_PATHS:
        return "exempt"
    if (method, path_template) in EXPENSIVE or (method == "POST" and _IMPORT.search(path_template)):
        return "expensive"
    return "read" if method in READ_METHODS else "write"


@dataclass
class _Bucket:
    tokens: float
    updated_s: float


class TokenBuckets:
    """Token buckets by key: each holds up to ``burst`` tokens and refills ``rate_per_s`` a second.

    Thread-safe. Keys unused for long are forgotten, oldest first, beyond ``max_keys`` (a full bucket and a
    forgotten one behave the same).
    """

    def __init__(
        self, rate_per_s: float, burst: int, monotonic: Callable[[], float], max_keys: int = 100_000
    ) -> None:
        self.rate_per_s = rate_per_s
        self.burst = float(burst)
        self.max_keys = max_keys
        self._monotonic = monotonic
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take one token for ``key``: 0 when there was one, else the seconds until there will be (nothing
        taken)."""
        now = self._monotonic()
        with self._lock:
            bucket = self._buckets.pop(key, None)
            if bucket is None:
                bucket = _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated_s) * self.rate_per_s)
            bucket.updated_s = now
            self._buckets[key] = bucket  # most recently used last
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate_per_s


class RateLimiter:
    """The buckets of one process, and its slots for expensive work."""

    def __init__(self, settings: RateLimitSettings, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.buckets = {
            "read": TokenBuckets(settings.read_per_s, settings.read_burst, monotonic),
            "write": TokenBuckets(settings.write_per_s, settings.write_burst, monotonic),
            "expensive": TokenBuckets(settings.expensive_per_s, settings.expensive_burst, monotonic),
        }
        self.bad_tokens = TokenBuckets(settings.bad_token_per_s, settings.bad_token_burst, monotonic)
        self._running = 0
        self._lock = threading.Lock()

    def charge(self, kind: RouteClass, caller_key: str) -> None:
        """Take one request of class ``kind`` from ``caller_key``'s bucket; 429 when it is empty."""
        if kind == "exempt" or not self.settings.enabled:
            return
        wait_s = self.buckets[kind].take(caller_key)
        if wait_s > 0:
            raise TooManyRequests("request.rate_limited", retry_after_s=wait_s)

    def invalid_token(self, address: str) -> None:
        """Count an invalid bearer token from ``address``; 429 (instead of the caller's 401) once the address
        has sent more than its allowance."""
        if not self.settings.enabled:
            return
        wait_s = self.bad_tokens.take(address)
        if wait_s > 0:
            raise TooManyRequests("auth.too_many_invalid_tokens", retry_after_s=wait_s)

    @property
    def running(self) -> int:
        """Expensive requests running now in this process."""
        return self._running

    def hold_slot(self, scope: MutableMapping[str, Any]) -> None:
        """Take one of the expensive-work slots for the request of ``scope`` (503 at once when all are taken);
        :class:`SlotRelease` gives it back when the request is over, whatever its outcome."""
        with self._lock:
            if self._running >= self.settings.expensive_concurrency:
                raise ServerBusy("request.busy", retry_after_s=1.0, limit=self.settings.expensive_concurrency)
            self._running += 1
        scope[HELD_SLOT] = self

    def release_slot(self) -> None:
        with self._lock:
            self._running -= 1


HELD_SLOT = "geo_service.expensive_slot"  # the scope key of the limiter whose slot a request holds


class SlotRelease:
    """Gives back the expensive-work slot a request took in the ``rate_limit`` dependency (which runs after
    routing, where the route's class is known) once the request is over. Plain ASGI and innermost, so the scope
    it sees is the one the dependency marks; a request that took no slot pays one dictionary lookup."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            limiter = scope.pop(HELD_SLOT, None)
            if limiter is not None:
                limiter.release_slot()
