"""Connection pool and transactions.

One :class:`Database` per process, created in the app lifespan (or by a CLI command) and handed to
routers through a dependency. Connections that a dead server broke are discarded, never reused, so the
service recovers on its own when the database comes back.
"""

from __future__ import annotations

import contextlib
import select
import threading
from collections.abc import Iterator

import psycopg2
import psycopg2.extras
import psycopg2.pool
from psycopg2.extensions import connection as Connection

from geo_service.settings import DatabaseSettings


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached right now (maps to 503)."""


def resolve_dsn(settings: DatabaseSettings, dbname: str | None = None, start: bool = True) -> str:
    """DSN of the configured server, starting the embedded cluster when no URL is set and ``start``."""
    if settings.database_url:
        if dbname is None:
            return settings.database_url
        params = psycopg2.extensions.parse_dsn(settings.database_url)
        params["dbname"] = dbname
        return psycopg2.extensions.make_dsn(**params)
    from geo_service.db.cluster import Cluster, ensure_running

    if start:
        return ensure_running(settings).ensure_database(dbname) if dbname else ensure_running(settings).dsn()
    return Cluster(settings).dsn(dbname)


def _server_hung_up(conn: Connection) -> bool:
    """Whether an idle connection's socket has something to read. An idle connection gets nothing unless
    the server is closing it (shutdown notice or EOF), so this detects a dead connection without a round trip."""
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg2.InterfaceError):
        return True
    return bool(readable)


class Database:
    """A thread-safe pool of psycopg2 connections to one database."""

    def __init__(
        self, dsn: str, min_size: int = 0, max_size: int = 8, statement_timeout_ms: int = 120_000
    ) -> None:
        self.dsn = dsn
        self.statement_timeout_ms = statement_timeout_ms
        self._pool = psycopg2.pool.ThreadedConnectionPool(
            min_size, max_size, dsn, options=f"-c statement_timeout={int(statement_timeout_ms)}"
        )
        # psycopg2 keeps only `minconn` idle connections and closes any other one handed back, so a busy
        # server would reconnect (~5 ms each) on most requests. Open `min_size` now, keep up to `max_size`.
        self._pool.minconn = max_size
        self._slots = threading.BoundedSemaphore(max_size)
        self._max_size = max_size

    @classmethod
    def from_settings(
        cls, settings: DatabaseSettings, dbname: str | None = None, start: bool = True
    ) -> Database:
        return cls(
            resolve_dsn(settings, dbname, start=start),
            min_size=settings.pool_min if start else 0,
            max_size=settings.pool_max,
            statement_timeout_ms=settings.statement_timeout_ms,
        )

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection in a transaction: committed when the block ends, rolled back when it raises."""
        with self._slots:  # wait for a free connection rather than fail when the pool is busy
            conn = self._checkout()
            broken = False
            try:
                yield conn
                conn.commit()
            except psycopg2.errors.QueryCanceled:
                with contextlib.suppress(Exception):
                    conn.rollback()
                raise
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                broken = True
                with contextlib.suppress(Exception):
                    conn.rollback()
                raise DatabaseUnavailable(str(exc).strip()) from exc
            except BaseException:
                with contextlib.suppress(Exception):
                    conn.rollback()
                broken = bool(conn.closed)
                raise
            finally:
                self._pool.putconn(conn, close=broken or bool(conn.closed))

    def _checkout(self) -> Connection:
        """A live pooled connection. Idle connections whose server went away (a restart, a crash) are
        dropped here, so the first request after the database comes back already succeeds."""
        for _ in range(self._max_size + 1):
            try:
                conn = self._pool.getconn()
            except psycopg2.OperationalError as exc:
                raise DatabaseUnavailable(str(exc).strip()) from exc
            if not conn.closed and not _server_hung_up(conn):
                return conn
            self._pool.putconn(conn, close=True)
        raise DatabaseUnavailable("no live connection to the database")

    @contextlib.contextmanager
    def cursor(self, dict_rows: bool = True) -> Iterator[psycopg2.extensions.cursor]:
        """A cursor in its own transaction; rows as dicts unless ``dict_rows`` is False."""
        factory = psycopg2.extras.RealDictCursor if dict_rows else None
        with self.connection() as conn, conn.cursor(cursor_factory=factory) as cur:
            yield cur

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._pool.closeall()
