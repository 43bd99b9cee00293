"""Read-your-own-writes with a read replica (``GEO_SERVICE_DATABASE_READ_URL``).

Reads (GET, HEAD) go to the hot standby, writes to the primary. A standby replays the primary's WAL a little
later, so a client that has just written could read the world from before its write. After every successful
write this middleware tells the client the primary's WAL position (``X-Write-LSN`` header, and the
``gs_write_lsn`` cookie for browsers, kept a minute); a read that carries it back (header or cookie) is served by
the standby only once the standby has replayed that far, else by the primary
(:meth:`geo_service.db.pool.Database.for_reading`). Without a replica nothing here runs.
"""

from __future__ import annotations

import logging

import anyio
from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo_service.db.pool import Database, DatabaseUnavailable

log = logging.getLogger(__name__)
HEADER = "x-write-lsn"
COOKIE = "gs_write_lsn"
COOKIE_MAX_AGE_S = 60
READ_METHODS = frozenset({"GET", "HEAD"})


def database_for(request: Request) -> Database:
    """The pool a request uses: the primary for writes, the standby for reads that it can serve."""
    db: Database = request.app.state.db
    if db.replica is None or request.method not in READ_METHODS:
        return db
    return db.for_reading(request.headers.get(HEADER) or request.cookies.get(COOKIE))


class WritePosition:
    """Adds the primary's WAL position to every successful response to a write (pure ASGI middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in READ_METHODS:
            await self.app(scope, receive, send)
            return
        db: Database | None = getattr(scope["app"].state, "db", None)
        if db is None or db.replica is None:
            await self.app(scope, receive, send)
            return

        async def send_with_position(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                try:
                    lsn = await anyio.to_thread.run_sync(db.current_lsn)
                except DatabaseUnavailable as exc:  # the write is done; only the token is missing
                    log.warning("no WAL position for read-your-writes: %s", exc)
                else:
                    cookie = f"{COOKIE}={lsn}; Path=/; Max-Age={COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Lax"
                    headers = [
                        *message.get("headers", []),
                        (HEADER.encode(), lsn.encode()),
                        (b"set-cookie", cookie.encode()),
                    ]
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_position)
