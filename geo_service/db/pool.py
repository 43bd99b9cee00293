"""Connection pool and transactions, with every wait on the database bounded.

One :class:`Database` per process, created in the app lifespan (or by a CLI command) and handed to
routers through a dependency. Connections that a dead server broke are discarded, never reused, so the
service recovers on its own when the database comes back.

Every wait has a bound (the values are :class:`~geo_service.settings.DatabaseSettings` fields):

- a free pooled connection: ``pool_timeout_s`` (then :class:`DatabaseBusy`, 503 ``db.busy``);
- opening a connection: libpq's ``connect_timeout``, which covers the whole start-up exchange on a Unix socket
  as on TCP (a frozen postmaster accepts the socket but never answers);
- one statement: the server's ``statement_timeout`` (then 503 ``db.timeout``);
- a peer gone from the network: TCP keepalives and ``tcp_user_timeout`` (libpq ignores both on Unix sockets);
- a server that stops answering without closing anything (a frozen process, a partition that drops packets):
  the watchdog.

Why a watchdog. psycopg2 waits inside libpq, in ``poll()`` without a deadline, so socket timeouts
(``SO_RCVTIMEO``) do not apply; ``statement_timeout`` is enforced by the very server that is frozen; TCP
keepalives are answered by the kernel even while the postgres process is stopped, and do not exist on the
embedded cluster's Unix socket. psycopg2's wait callback (``set_wait_callback``: a ``select`` loop with a
deadline) would end the wait, but it turns every connection of the process asynchronous, where
``copy_expert`` is refused (the bulk loaders use COPY), and a deadline alone cannot tell a frozen server from
a long legitimate statement. So each pool runs a watchdog thread while connections are busy: when one has been
busy for ``stall_probe_s``, the watchdog asks the server ``SELECT 1`` on its own asynchronous connection with a
``probe_timeout_s`` deadline (``select`` on the socket). A server that answers is busy, not gone: nothing
happens. One that does not is declared down: the watchdog shuts down the socket of every busy connection
(``shutdown(2)`` on a duplicate of libpq's descriptor: libpq reads end-of-file and psycopg2 raises, so the
request answers 503 ``db.unavailable``), new work fails at once instead of queueing, and the first probe that
is answered again (one every ``stall_probe_s``) brings the pool back without a restart.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras
from psycopg2.extensions import connection as Connection

from geo_service.db.revisions import CHANNEL as REVISION_CHANNEL
from geo_service.db.revisions import RevisionWatch
from geo_service.db.rows import DictCursor, fetch_one
from geo_service.settings import DatabaseSettings

log = logging.getLogger(__name__)


class DatabaseUnavailable(RuntimeError):
    """The database cannot be used right now. ``code`` and ``status`` say how the HTTP layer answers; the text
    never carries libpq's message (socket paths, file names): that goes to the log and stays in ``__cause__``.
    """

    code = "db.unavailable"
    status = 503


class DatabaseBusy(DatabaseUnavailable):
    """Every pooled connection stayed busy for ``pool_timeout_s``."""

    code = "db.busy"


class DatabaseDiskFull(DatabaseUnavailable):
    """The server could not write for lack of disk space (SQLSTATE 53100, ``disk_full``)."""

    code = "db.disk_full"
    status = 507


class DatabaseReadOnly(DatabaseUnavailable):
    """A write reached a server in recovery (a standby, or a primary being demoted): SQLSTATE 25006."""

    code = "db.read_only"


@dataclass(frozen=True)
class Timeouts:
    """The bounds of every wait on the database (see the module docstring)."""

    pool_s: float = 5.0
    connect_s: int = 3
    statement_ms: int = 120_000
    stall_probe_s: float = 1.0
    probe_s: float = 1.0
    keepalives_idle_s: int = 10
    keepalives_interval_s: int = 5
    keepalives_count: int = 3
    tcp_user_timeout_ms: int = 15_000

    @classmethod
    def from_settings(cls, settings: DatabaseSettings) -> Timeouts:
        return cls(
            pool_s=settings.pool_timeout_s,
            connect_s=settings.connect_timeout_s,
            statement_ms=settings.statement_timeout_ms,
            stall_probe_s=settings.stall_probe_s,
            probe_s=settings.probe_timeout_s,
            keepalives_idle_s=settings.keepalives_idle_s,
            keepalives_interval_s=settings.keepalives_interval_s,
            keepalives_count=settings.keepalives_count,
            tcp_user_timeout_ms=settings.tcp_user_timeout_ms,
        )


def session_dsn(dsn: str, timeouts: Timeouts, application_name: str = "geo-service") -> str:
    """``dsn`` with the connection bounds added (values the DSN sets itself are kept) and the server-side
    ``statement_timeout`` in ``options``."""
    params = psycopg2.extensions.parse_dsn(dsn)
    defaults = {
        "connect_timeout": timeouts.connect_s,
        "keepalives": 1,
        "keepalives_idle": timeouts.keepalives_idle_s,
        "keepalives_interval": timeouts.keepalives_interval_s,
        "keepalives_count": timeouts.keepalives_count,
        "tcp_user_timeout": timeouts.tcp_user_timeout_ms,
        "application_name": application_name,
    }
    for key, value in defaults.items():
        params.setdefault(key, str(value))
    options = params.get("options", "")
    params["options"] = f"{options} -c statement_timeout={int(timeouts.statement_ms)}".strip()
    return psycopg2.extensions.make_dsn(**params)


def _read_secret(path: Path | None) -> str | None:
    return path.read_text(encoding="utf-8").strip() if path is not None else None


def with_password(dsn: str, password_file: Path | None) -> str:
    """``dsn`` with the password read from ``password_file`` (a secret mounted as a file), unless it has one."""
    password = _read_secret(password_file)
    if not password:
        return dsn
    params = psycopg2.extensions.parse_dsn(dsn)
    params.setdefault("password", password)
    return psycopg2.extensions.make_dsn(**params)


def _with_dbname(dsn: str, dbname: str | None) -> str:
    if dbname is None:
        return dsn
    params = psycopg2.extensions.parse_dsn(dsn)
    params["dbname"] = dbname
    return psycopg2.extensions.make_dsn(**params)


def resolve_dsn(settings: DatabaseSettings, dbname: str | None = None, start: bool = True) -> str:
    """DSN of the runtime role, starting the embedded cluster (and preparing its roles and database) when no
    URL is set and ``start``."""
    if settings.database_url:
        return _with_dbname(with_password(settings.database_url, settings.database_password_file), dbname)
    from geo_service.db.cluster import Cluster, ensure_running

    if start:
        cluster = ensure_running(settings)
        return cluster.ensure_database(dbname) if dbname else cluster.dsn()
    return Cluster(settings).dsn(dbname)


def resolve_migrate_dsn(settings: DatabaseSettings, dbname: str | None = None) -> str:
    """DSN of the role that owns the schema and runs migrations: the embedded cluster's owner role, else
    ``database_migrate_url`` (or, when unset, ``database_url`` itself: one role that owns its schema)."""
    if settings.database_url:
        if settings.database_migrate_url:
            dsn = with_password(settings.database_migrate_url, settings.database_migrate_password_file)
        else:
            dsn = with_password(settings.database_url, settings.database_password_file)
        return _with_dbname(dsn, dbname)
    from geo_service.db.cluster import Cluster

    return Cluster(settings).dsn(dbname, user=settings.db_owner)


def runtime_role(settings: DatabaseSettings) -> str | None:
    """The role the service runs as, when migrations run as another one (who then grants it row access)."""
    if settings.embedded:
        return settings.db_user
    if not settings.database_migrate_url:
        return None
    runtime = psycopg2.extensions.parse_dsn(settings.database_url or "").get("user")
    owner = psycopg2.extensions.parse_dsn(settings.database_migrate_url).get("user")
    return runtime if runtime and runtime != owner else None


def _server_hung_up(conn: Connection) -> bool:
    """Whether an idle connection's socket has something to read. An idle connection gets nothing unless
    the server is closing it (shutdown notice or EOF), so this detects a dead connection without a round trip."""
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg2.InterfaceError):
        return True
    return bool(readable)


class NoAnswer(Exception):
    """An asynchronous exchange with the server passed its deadline."""


def wait_async(conn: Connection, deadline: float) -> None:
    """Drive an asynchronous connection (``async_=True``) until its pending work is done, or raise
    :class:`NoAnswer` at ``deadline`` (``time.monotonic()`` seconds)."""
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise NoAnswer
        if state == psycopg2.extensions.POLL_READ:
            select.select([conn.fileno()], [], [], remaining)
        elif state == psycopg2.extensions.POLL_WRITE:
            select.select([], [conn.fileno()], [], remaining)
        else:  # pragma: no cover - psycopg2 raises rather than returning POLL_ERROR
            raise psycopg2.OperationalError("bad poll state")


def connect_async(dsn: str, deadline: float) -> Connection:
    """An asynchronous connection, established before ``deadline`` or :class:`NoAnswer`."""
    conn = psycopg2.connect(dsn, async_=True)
    try:
        wait_async(conn, deadline)
    except BaseException:
        conn.close()
        raise
    return conn


def query_async(conn: Connection, statement: str, deadline: float, params: tuple = ()) -> list[tuple]:
    """Rows of one statement on an asynchronous connection, or :class:`NoAnswer` at ``deadline``."""
    with conn.cursor() as cur:
        cur.execute(statement, params)
        wait_async(conn, deadline)
        return cur.fetchall() if cur.description is not None else []


def _shut_down_socket(fd: int) -> None:
    """End a connection's socket for every user of it (libpq then reads end-of-file) without closing
    libpq's descriptor, which its owner closes."""
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@dataclass
class _Busy:
    """A connection lent out: since when, its socket (once open), whether the watchdog ended it."""

    started: float
    fd: int | None = None
    ended_by_watchdog: bool = False


def _is_connection_error(exc: BaseException) -> bool:
    """Errors that leave the connection unusable: libpq's own (no SQLSTATE), class 08 and shutdowns."""
    if isinstance(exc, psycopg2.InterfaceError):
        return True
    if not isinstance(exc, psycopg2.OperationalError):
        return False
    code = getattr(exc, "pgcode", None)
    return code is None or code.startswith("08") or code.startswith("57P")


class Database:
    """A thread-safe pool of psycopg2 connections to one database, with bounded waits (module docstring)."""

    def __init__(
        self,
        dsn: str,
        min_size: int = 0,
        max_size: int = 8,
        statement_timeout_ms: int | None = None,
        *,
        timeouts: Timeouts | None = None,
        data_dir: Path | None = None,
        replica: Database | None = None,
        revision_interval_s: float = 1.0,
        listen: bool = True,
    ) -> None:
        timeouts = timeouts or Timeouts()
        if statement_timeout_ms is not None:
            timeouts = dataclasses.replace(timeouts, statement_ms=statement_timeout_ms)
        self.dsn = dsn
        self.timeouts = timeouts
        self.statement_timeout_ms = timeouts.statement_ms
        #: the data directory when the server runs on this machine (the embedded cluster): /readyz checks its disk
        self.data_dir = data_dir
        #: a pool on a hot standby of this database, for read-only work (:meth:`for_reading`)
        self.replica = replica
        #: whose in-process caches this pool shares: a standby's pool shares its primary's (same data, later)
        self.cache_owner: Database = self
        if replica is not None:
            replica.cache_owner = self
        self._session_dsn = session_dsn(dsn, timeouts)
        self._probe_dsn = session_dsn(
            dsn, dataclasses.replace(timeouts, statement_ms=int(timeouts.probe_s * 1000) + 1)
        )
        self._max_size = max_size
        self._slots = threading.BoundedSemaphore(max_size)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._idle: list[Connection] = []
        self._busy: dict[int, _Busy] = {}
        self._next_id = 0
        self._closed = False
        self._down_since: float | None = None
        self._silent = False  # down because it answered nothing (frozen, cut off), not because it refused
        self._last_probe = 0.0
        self._disk_full_at: float | None = None
        self._watchdog: threading.Thread | None = None
        self._probe_conn: Connection | None = None
        # a hot standby cannot LISTEN: its pool follows its primary's revisions (cache_owner)
        self._listen = listen
        #: the data revisions in memory (geo_service.db.revisions), read again only when something changed
        self.revision_watch = RevisionWatch(self, revision_interval_s, listen=listen)
        for _ in range(min_size):
            self._idle.append(self._connect())

    @classmethod
    def from_settings(
        cls, settings: DatabaseSettings, dbname: str | None = None, start: bool = True
    ) -> Database:
        data_dir = None
        if settings.embedded:
            from geo_service.db.cluster import Cluster

            data_dir = Cluster(settings).data_dir
        replica = None
        if settings.database_read_url:
            read_dsn = _with_dbname(
                with_password(settings.database_read_url, settings.database_read_password_file), dbname
            )
            replica = cls(
                read_dsn,
                max_size=settings.pool_max,
                timeouts=Timeouts.from_settings(settings),
                revision_interval_s=settings.revision_interval_s,
                listen=False,
            )
        return cls(
            resolve_dsn(settings, dbname, start=start),
            min_size=settings.pool_min if start else 0,
            max_size=settings.pool_max,
            timeouts=Timeouts.from_settings(settings),
            data_dir=data_dir,
            replica=replica,
            revision_interval_s=settings.revision_interval_s,
        )

    # -- reads on a standby ----------------------------------------------------------------------------------

    @property
    def primary(self) -> Database:
        """The pool writes go to: this one, or for a standby's pool its primary's."""
        return self.cache_owner

    @property
    def standby(self) -> Database | None:
        """The hot standby's pool when there is one and it answers (not known to be down), else None."""
        replica = self.replica
        return None if replica is None or replica.down else replica

    def revisions_instead(self, error: Exception) -> Database | None:
        """The standby, when this primary is out of reach (``error``) and the standby answers: its revisions
        describe the data the reads then get (:class:`geo_service.db.revisions.RevisionWatch`)."""
        return self.standby if isinstance(error, DatabaseUnavailable) else None

    def for_reading(self, min_lsn: str | None = None) -> Database:
        """The pool for read-only work: the standby when there is one, it answers, and it has replayed
        ``min_lsn`` (the primary's WAL position after the caller's last write, so a writer reads its own
        writes); else this primary."""
        replica = self.standby
        if replica is None:
            return self
        if min_lsn is None:
            return replica
        try:
            with replica.cursor(dict_rows=False) as cur:
                cur.execute("SELECT coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, false)", (min_lsn,))
                caught_up = bool(fetch_one(cur)[0])
        except (
            DatabaseUnavailable,
            psycopg2.DataError,
        ):  # standby gone, or a malformed position: the primary
            return self
        return replica if caught_up else self

    def current_lsn(self) -> str:
        """The primary's current WAL position (what a standby must have replayed to show every commit so far)."""
        with self.cursor(dict_rows=False) as cur:
            cur.execute("SELECT pg_current_wal_lsn()::text")
            return str(fetch_one(cur)[0])

    # -- state the HTTP layer and /readyz read ---------------------------------------------------------------

    @property
    def down(self) -> bool:
        """Whether the server refused a connection or did not answer the watchdog, and no probe has been
        answered since (the watchdog probes every ``stall_probe_s`` meanwhile)."""
        return self._down_since is not None

    @property
    def silent(self) -> bool:
        """Whether the server is down because it answered nothing (frozen, cut off), as opposed to refusing."""
        return self._silent

    @property
    def disk_full_at(self) -> float | None:
        """``time.monotonic()`` of the last write refused for lack of disk space, until a check clears it."""
        return self._disk_full_at

    def note_disk_full(self) -> None:
        self._disk_full_at = time.monotonic()

    def clear_disk_full(self) -> None:
        self._disk_full_at = None

    @property
    def probe_dsn(self) -> str:
        """The DSN of short checks (the watchdog, /readyz): a statement timeout of ``probe_s``."""
        return self._probe_dsn

    @property
    def busy_count(self) -> int:
        """Connections lent out right now."""
        with self._lock:
            return len(self._busy)

    # -- lending connections ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection in a transaction: committed when the block ends, rolled back when it raises."""
        if self._closed:
            raise DatabaseUnavailable("the connection pool is closed")
        # A silent server would make this caller wait seconds for nothing: fail at once. A refusing one fails
        # fast anyway, and trying lets the first request after a restart succeed.
        if self._silent:
            raise DatabaseUnavailable("the database is not answering")
        if not self._slots.acquire(timeout=self.timeouts.pool_s):
            raise DatabaseBusy(f"no free connection within {self.timeouts.pool_s:g} s")
        try:
            if self._silent:  # found silent while this caller waited for a connection
                raise DatabaseUnavailable("the database is not answering")
            token, busy = self._lend()
            conn: Connection | None = None
            broken = False
            try:
                conn = self._checkout(busy)
                yield conn
                conn.commit()
                if conn.notifies:  # a revision moved (this transaction's own change comes with its COMMIT)
                    conn.notifies.clear()
                    self.cache_owner.revision_watch.changed()
            except BaseException as exc:
                if conn is not None:
                    broken = _is_connection_error(exc) or not self._rollback(conn)
                translated = self._translate(exc, busy)
                if translated is exc:
                    raise
                raise translated from exc
            finally:
                self._give_back(token, conn, broken)
        finally:
            self._slots.release()

    @overload
    def cursor(self, dict_rows: Literal[True] = ...) -> AbstractContextManager[DictCursor]: ...
    @overload
    def cursor(self, dict_rows: Literal[False]) -> AbstractContextManager[psycopg2.extensions.cursor]: ...
    def cursor(self, dict_rows: bool = True) -> AbstractContextManager[Any]:
        """A cursor in its own transaction; rows as dicts (:class:`~psycopg2.extras.RealDictRow`) unless
        ``dict_rows`` is False (tuples)."""
        return self._cursor(dict_rows)

    @contextlib.contextmanager
    def _cursor(self, dict_rows: bool) -> Iterator[Any]:
        factory = psycopg2.extras.RealDictCursor if dict_rows else None
        with self.connection() as conn, conn.cursor(cursor_factory=factory) as cur:
            yield cur

    def _translate(self, exc: BaseException, busy: _Busy) -> BaseException:
        """The exception the caller sees: a full disk, a lost server, or ``exc`` itself."""
        if isinstance(exc, psycopg2.errors.DiskFull):
            self.note_disk_full()
            log.error("the database server is out of disk space: %s", str(exc).strip())
            return DatabaseDiskFull("the database server is out of disk space")
        if isinstance(exc, psycopg2.errors.ReadOnlySqlTransaction):
            log.error("a write reached a read-only server: %s", str(exc).strip())
            return DatabaseReadOnly("the database is read-only")
        if _is_connection_error(exc):
            log.warning("database connection lost: %s", str(exc).strip())
            if busy.ended_by_watchdog:
                return DatabaseUnavailable("the database did not answer")
            return DatabaseUnavailable("the connection to the database was lost")
        return exc

    @staticmethod
    def _rollback(conn: Connection) -> bool:
        if conn.closed:
            return False
        try:
            conn.rollback()
        except Exception:
            return False
        return True

    def _lend(self) -> tuple[int, _Busy]:
        with self._lock:
            self._next_id += 1
            token = self._next_id
            busy = self._busy[token] = _Busy(time.monotonic())
            if self._watchdog is None or not self._watchdog.is_alive():
                self._watchdog = threading.Thread(target=self._watch, name="db-watchdog", daemon=True)
                self._watchdog.start()
            return token, busy

    def _give_back(self, token: int, conn: Connection | None, broken: bool) -> None:
        # Unregister before the connection is pooled or closed: the watchdog only touches registered sockets.
        with self._lock:
            busy = self._busy.pop(token)
            keep = conn is not None and not (broken or busy.ended_by_watchdog or conn.closed or self._closed)
            if conn is not None and keep:
                self._idle.append(conn)
        if conn is not None and not keep:
            with contextlib.suppress(Exception):
                conn.close()

    def _connect(self) -> Connection:
        try:
            conn = psycopg2.connect(self._session_dsn)
            if self._listen:
                self._listen_on(conn)
            return conn
        except psycopg2.OperationalError as exc:
            log.warning("cannot connect to the database: %s", str(exc).strip())
            with self._lock:  # the watchdog (running while anything is lent) probes until it is back
                if self._down_since is None:
                    self._down_since = time.monotonic()
            raise DatabaseUnavailable("cannot connect to the database") from exc

    def _listen_on(self, conn: Connection) -> None:
        """Subscribe a new connection to revision announcements, so a commit through it brings back its own
        (a server that cannot listen, e.g. a standby, just does not)."""
        try:
            with conn.cursor() as cur:
                cur.execute(f"LISTEN {REVISION_CHANNEL}")
            conn.commit()
        except (psycopg2.errors.FeatureNotSupported, psycopg2.errors.ReadOnlySqlTransaction):
            conn.rollback()
            self._listen = False

    def _checkout(self, busy: _Busy) -> Connection:
        """A live connection: idle ones whose server went away (a restart, a crash) are dropped here, so the
        first request after the database comes back already succeeds."""
        for _ in range(self._max_size + 1):
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                if self._silent:
                    raise DatabaseUnavailable("the database is not answering")
                conn = self._connect()
            if conn.closed or _server_hung_up(conn):
                with contextlib.suppress(Exception):
                    conn.close()
                continue
            with self._lock:
                busy.fd = conn.fileno()
                if self._silent:  # declared silent while we connected: end it like the other busy ones
                    busy.ended_by_watchdog = True
                    _shut_down_socket(busy.fd)
            return conn
        raise DatabaseUnavailable("no live connection to the database")

    # -- the watchdog ----------------------------------------------------------------------------------------

    def _watch(self) -> None:
        """Probe the server while connections are busy for long or it is down; end busy connections when it
        does not answer. Exits when nothing is busy and the server is up (the next loan restarts it)."""
        tick = min(0.25, self.timeouts.stall_probe_s / 4)
        while True:
            with self._lock:
                if self._closed or (not self._busy and self._down_since is None):
                    self._watchdog = None
                    return
                oldest = min((b.started for b in self._busy.values()), default=None)
                down = self._down_since is not None
            now = time.monotonic()
            stalled = oldest is not None and now - oldest >= self.timeouts.stall_probe_s
            if (down or stalled) and now - self._last_probe >= self.timeouts.stall_probe_s:
                self._last_probe = now
                answered, silent = self._probe()
                self._after_probe(answered, silent)
            with self._lock:
                if not self._closed:
                    self._wake.wait(tick)

    def _after_probe(self, answered: bool, silent: bool) -> None:
        with self._lock:
            if answered:
                self._silent = False
                if self._down_since is not None:
                    log.warning(
                        "the database answers again after %.1f s", time.monotonic() - self._down_since
                    )
                    self._down_since = None
                return
            if self._down_since is None:
                self._down_since = time.monotonic()
                log.error("the database does not answer: failing requests until it does")
            self._silent = silent
            if silent:  # frozen or cut off: nothing busy will ever get an answer
                for busy in self._busy.values():
                    if busy.fd is not None and not busy.ended_by_watchdog:
                        busy.ended_by_watchdog = True
                        _shut_down_socket(busy.fd)

    def _probe(self) -> tuple[bool, bool]:
        """Ask the server ``SELECT 1`` within ``probe_s``: (answered, silent). ``silent`` means no answer at
        all before the deadline (frozen or cut off), as opposed to a refusal (stopped, restarting)."""
        deadline = time.monotonic() + self.timeouts.probe_s
        try:
            if self._probe_conn is None or self._probe_conn.closed:
                self._probe_conn = connect_async(self._probe_dsn, deadline)
            query_async(self._probe_conn, "SELECT 1", deadline)
            return True, False
        except NoAnswer:
            self._drop_probe()
            return False, True
        except psycopg2.Error as exc:
            log.debug("database probe failed: %s", exc)
            self._drop_probe()
            return False, False

    def _drop_probe(self) -> None:
        if self._probe_conn is not None:
            with contextlib.suppress(Exception):
                self._probe_conn.close()
            self._probe_conn = None

    def close(self) -> None:
        """Close the pool. Busy connections are ended too (their sockets shut down) so that a thread waiting
        on a frozen server cannot hold up a shutdown."""
        with self._lock:
            self._closed = True
            self.revision_watch.close()
            idle, self._idle = self._idle, []
            for busy in self._busy.values():
                if busy.fd is not None and not busy.ended_by_watchdog:
                    busy.ended_by_watchdog = True
                    _shut_down_socket(busy.fd)
            self._wake.notify_all()
            watchdog = self._watchdog
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.close()
        if watchdog is not None and watchdog is not threading.current_thread():
            watchdog.join(timeout=self.timeouts.probe_s + 1)
        self._drop_probe()
        if self.replica is not None:
            self.replica.close()
