"""Dependencies: the database pool, the caller, and role checks (attached per route, titiler-style)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from geo_service.api.consistency import READ_METHODS, database_for
from geo_service.api.ratelimit import EXEMPT_PATHS, RateLimiter, route_class
from geo_service.auth import Principal, authenticate, known_principal
from geo_service.db.pool import Database
from geo_service.errors import Forbidden, Unauthorized
from geo_service.i18n import message
from geo_service.incidents.context import IncidentContext
from geo_service.settings import (
    GridSettings,
    LocateSettings,
    MapSettings,
    NetworkSettings,
    SitingSettings,
    WalkingSettings,
)
from geo_service.tiles import build_tile_server
from geo_service.tiles.service import TileServer

T = TypeVar("T")
_bearer = HTTPBearer(auto_error=False, description="`geo-service token create --role ROLE` prints one")


async def get_db(request: Request) -> Database:
    """The primary for writes; for reads, a hot standby when one is configured and has the caller's writes.

    Async: without a standby this is an attribute lookup, and a sync dependency would cost every request a trip
    through the thread pool; only the standby's replay check (a query) runs off the event loop."""
    db: Database = request.app.state.db
    if db.replica is None:
        return db
    return await run_in_threadpool(database_for, request)


_tile_server_lock = threading.Lock()


async def get_map_settings(request: Request) -> MapSettings:
    return request.app.state.map_settings


# The settings create_app read once. Async: a sync dependency would cost each request a thread-pool hop.
async def get_grid_settings(request: Request) -> GridSettings:
    return request.app.state.grid_settings


async def get_walking_settings(request: Request) -> WalkingSettings:
    return request.app.state.walking_settings


async def get_locate_settings(request: Request) -> LocateSettings:
    return request.app.state.locate_settings


async def get_siting_settings(request: Request) -> SitingSettings:
    return request.app.state.siting_settings


async def get_network_settings(request: Request) -> NetworkSettings:
    return request.app.state.network_settings


async def get_tile_server(request: Request) -> TileServer:
    """The app's tile server (catalogue, cache); built on first use (off the event loop) if start-up could not
    build it."""
    server = getattr(request.app.state, "tile_server", None)
    return server if server is not None else await run_in_threadpool(_build_tile_server, request)


def _build_tile_server(request: Request) -> TileServer:
    state = request.app.state
    server = getattr(state, "tile_server", None)
    if server is None:
        with _tile_server_lock:
            server = getattr(state, "tile_server", None)
            if server is None:
                server = state.tile_server = build_tile_server(state.db, state.map_settings)
    return server


def client_address(request: Request) -> str:
    """The caller's IP address (the proxy's unless uvicorn runs with ``--proxy-headers``)."""
    return request.client.host if request.client is not None else "unknown"


def rate_limiter(request: Request) -> RateLimiter:
    return request.app.state.rate_limiter


async def optional_principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal | None:
    """The caller behind the bearer token, or None for an anonymous request. A token that is presented but
    unknown, revoked or expired is 401 (429 once its address has sent too many: see :mod:`.ratelimit`).

    Async, so that an anonymous request (most map and locate traffic) and one with a token this process knows
    cost no trip through the thread pool; another token is looked up off the event loop, on the primary (a
    standby may not have replayed its revocation yet)."""
    if credentials is None or request.url.path in EXEMPT_PATHS:
        return None  # health probes never wait on the database, whatever headers they carry
    db: Database = request.app.state.db
    principal = known_principal(db, credentials.credentials)
    if principal is None:
        principal = await run_in_threadpool(authenticate, db, credentials.credentials)
    if principal is None:
        rate_limiter(request).invalid_token(client_address(request))
        raise Unauthorized("auth.invalid_token")
    return principal


async def current_principal(caller: Principal | None = Depends(optional_principal)) -> Principal:
    """The caller behind the bearer token; 401 without a valid one."""
    if caller is None:
        raise Unauthorized("auth.missing_token")
    return caller


async def rate_limit(request: Request, caller: Principal | None = Depends(optional_principal)) -> None:
    """Charge the request to its caller (token, else address) by route class; an expensive route also takes a
    slot, which :class:`.ratelimit.SlotRelease` gives back once its answer is sent. Attached to every API route
    by ``create_app``. A plain coroutine rather than a generator: most routes hold no slot, and a generator
    dependency would cost each of them an async context manager on the request's exit stack."""
    limiter = rate_limiter(request)
    route = request.scope.get("route")
    kind = route_class(request.method, getattr(route, "path", request.url.path))
    limiter.charge(kind, f"token:{caller.token_id}" if caller else f"address:{client_address(request)}")
    if kind == "expensive":
        limiter.hold_slot(request.scope)


class Compute:
    """Runs the CPU-bound part of a route (an isochrone, a walking route, a nearest-station search) in the
    thread pool, at most ``limit`` at once in this process; the others wait on the event loop, holding no thread.

    Why: such work holds the GIL for much of its time (shapely, contouring and numpy glue between the numba
    kernels), so a process computes one core's worth whatever the number of threads. Without a bound, each
    connection's request gets a thread, up to 40, and they take turns on the GIL and evict each other's search
    arrays from the CPU caches: the CPU per answer grows with the connections while the rate does not. With
    the bound, the excess waits cheaply in an :class:`anyio.CapacityLimiter` queue (first come, first served).
    ``limit`` 0 leaves the thread pool's own bound (40)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        # anyio makes a limiter outside an event loop lazily, on first use, in whichever loop that is
        self.limiter = anyio.CapacityLimiter(limit) if limit else None

    async def __call__(self, func: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(func, limiter=self.limiter)


async def get_compute(request: Request) -> Compute:
    """The process's :class:`Compute` (``GEO_SERVICE_API_COMPUTE_CONCURRENCY``)."""
    return request.app.state.compute


def require_role(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting ``roles`` (admin always); 403 for any other role."""

    async def check(principal: Principal = Depends(current_principal)) -> Principal:
        if not principal.has_role(*roles):
            raise Forbidden(
                "auth.role_not_allowed",
                role=message(f"role.{principal.role}"),
                allowed=[message(f"role.{r}") for r in ("admin", *roles)],
            )
        return principal

    return check


async def incident_context(request: Request) -> IncidentContext:
    """Database, settings, classification and clock of the incident services (built in ``create_app``).

    Incidents are read on the primary (a dispatcher's queue must show the case just filed or assigned); while
    the primary is known to be out of reach, a read (GET, HEAD) gets the same context on the hot standby rather
    than a 503: the queue as last replicated. Writes still need the primary."""
    ctx: IncidentContext = request.app.state.incident_context
    if request.method in READ_METHODS and ctx.db.down and (standby := ctx.db.standby) is not None:
        return dataclasses.replace(ctx, db=standby)
    return ctx
