"""Dependencies: the database pool, the caller, and role checks (attached per route, titiler-style)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from geo_service.api.consistency import database_for
from geo_service.auth import Principal, authenticate
from geo_service.db.pool import Database
from geo_service.errors import Forbidden, Unauthorized
from geo_service.i18n import message
from geo_service.incidents.context import IncidentContext
from geo_service.settings import MapSettings
from geo_service.tiles import build_tile_server
from geo_service.tiles.service import TileServer

_bearer = HTTPBearer(auto_error=False, description="`geo-service token create --role ROLE` prints one")


def get_db(request: Request) -> Database:
    """The primary for writes; for reads, a hot standby when one is configured and has the caller's writes."""
    return database_for(request)


_tile_server_lock = threading.Lock()


def get_map_settings(request: Request) -> MapSettings:
    return request.app.state.map_settings


def get_tile_server(request: Request) -> TileServer:
    """The app's tile server (catalogue, cache); built on first use if start-up could not build it."""
    state = request.app.state
    server = getattr(state, "tile_server", None)
    if server is None:
        with _tile_server_lock:
            server = getattr(state, "tile_server", None)
            if server is None:
                server = state.tile_server = build_tile_server(state.db, state.map_settings)
    return server


def current_principal(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    db: Database = Depends(get_db),
) -> Principal:
    """The caller behind the bearer token; 401 without a valid one."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("auth.missing_token")
    principal = authenticate(db, credentials.credentials)
    if principal is None:
        raise Unauthorized("auth.invalid_token")
    return principal


def require_role(*roles: str) -> Callable[..., Principal]:
    """A dependency admitting ``roles`` (admin always); 403 for any other role."""

    def check(principal: Principal = Depends(current_principal)) -> Principal:
        if not principal.has_role(*roles):
            raise Forbidden("auth.role_not_allowed", role=message(f"role.{principal.role}"),
                            allowed=[message(f"role.{r}") for r in ("admin", *roles)])  # fmt: skip
        return principal

    return check


def incident_context(request: Request) -> IncidentContext:
    """Database, settings, classification and clock of the incident services (built in ``create_app``)."""
    return request.app.state.incident_context
