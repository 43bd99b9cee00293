"""The database's data revisions (``data_revisions``) held in memory, so that a request does not pay a round trip
to learn that nothing changed.

Every bump of a revision is announced at commit on the channel ``data_revisions`` (migration
``0995_revision_notify.sql``). A :class:`RevisionWatch` keeps one snapshot of every entity's revision and reads it
again (one round trip, all entities) only when

- a connection of this process's pool committed a change: the pool's connections listen too, and PostgreSQL hands
  a session its own notifications together with the answer to its ``COMMIT``, so a write through this process is
  seen by this process's very next call, deterministically (:meth:`Database.connection` calls
  :meth:`RevisionWatch.changed`);
- another process or connection committed a change: a listener thread holds one connection that listens, and a
  call that finds an announcement waiting on its socket (not yet read by the thread) counts it too, so the change
  is seen as soon as PostgreSQL has delivered it — in practice on the other process's next request;
- ``interval_s`` went by since the last read: the bound on staleness if an announcement was lost (the listener's
  connection broke, the server restarted). ``interval_s = 0`` reads on every call (the behaviour before).
"""

from __future__ import annotations

import contextlib
import logging
import math
import select
import threading
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Literal, Protocol

import psycopg2
import psycopg2.extensions

log = logging.getLogger(__name__)
CHANNEL = "data_revisions"


class RevisionSource(Protocol):
    """What a watch reads through: :class:`geo_service.db.pool.Database` (a protocol, so that this module does
    not import the pool that owns the watch)."""

    @property
    def probe_dsn(self) -> str: ...

    def cursor(self, dict_rows: Literal[False]) -> AbstractContextManager[psycopg2.extensions.cursor]: ...

    def revisions_instead(self, error: Exception) -> RevisionSource | None:
        """Where to read the revisions when reading them here failed with ``error`` (a primary out of reach: its
        hot standby), or None to let the error stand."""
        ...


class Watched(Protocol):
    """A pool whose caches follow a watch: its own, or for a hot standby its primary's (``cache_owner``)."""

    @property
    def cache_owner(self) -> Watched: ...

    @property
    def revision_watch(self) -> RevisionWatch: ...


class RevisionWatch:
    """The current ``data_revisions`` of one database, read at most once per ``interval_s`` unless told of a change.

    Parameters
    ----------
    db
        The pool the snapshot is read through (the primary: a hot standby cannot listen).
    interval_s
        Longest time, seconds, a snapshot is trusted without an announcement; 0 reads on every call.
    listen
        Whether to hold a listening connection for changes made by other processes.
    """

    def __init__(self, db: RevisionSource, interval_s: float, listen: bool = True) -> None:
        self._db = db
        self._interval_s = interval_s
        self._listen = listen and interval_s > 0
        self._lock = threading.Lock()
        self._generation = (
            0  # moved by every announcement; a snapshot is valid for the generation it was read in
        )
        self._values: dict[str, int] | None = None
        self._values_generation = -1
        self._read_at = -math.inf
        self._listener: threading.Thread | None = None
        self._listen_conn: psycopg2.extensions.connection | None = None
        self._closed = False
        #: round trips spent reading the snapshot (what a test or a benchmark counts)
        self.reads = 0

    def changed(self) -> None:
        """Something changed (an announcement arrived): the next call reads the snapshot again."""
        with self._lock:
            self._generation += 1

    def cached(self) -> Mapping[str, int] | None:
        """The snapshot when it can be trusted without asking the database, else None (no I/O: what a caller
        on the event loop may use)."""
        if self._listen and not self._closed:
            self._ensure_listener()
            self._count_waiting()
        with self._lock:
            values = self._values
            fresh = (
                values is not None
                and self._values_generation == self._generation
                and time.monotonic() - self._read_at < self._interval_s
                and self._listening()
            )
        return values if fresh else None

    def current(self) -> Mapping[str, int]:
        """Every entity's revision (an entity never written is absent: read it as 0)."""
        with self._lock:
            generation = self._generation
        values = self.cached()
        if values is not None:
            return values
        started = time.monotonic()
        try:
            read = _read(self._db)
        except Exception as error:
            # while the primary is out of reach its standby serves the reads: their caches follow the standby's
            # revisions (replicated with the data they describe); nothing is kept, the next call asks again
            instead = self._db.revisions_instead(error)
            if instead is None:
                raise
            return _read(instead)
        with self._lock:
            self.reads += 1
            # Announcements that arrived during the read move the generation: the next call reads again.
            if self._values_generation <= generation:
                self._values, self._values_generation, self._read_at = read, generation, started
        return read

    def revision(self, entity: str) -> int:
        """One entity's revision (0 before its first write)."""
        return int(self.current().get(entity, 0))

    def revisions(self, entities: tuple[str, ...]) -> dict[str, int]:
        """Several entities' revisions (0 for those never written)."""
        values = self.current()
        return {entity: int(values.get(entity, 0)) for entity in entities}

    def close(self) -> None:
        self._closed = True
        conn = self._listen_conn
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    # -- the listener -------------------------------------------------------------------------------------------

    def _listening(self) -> bool:
        """Whether announcements from other processes reach us (else only the interval bounds staleness)."""
        return not self._listen or self._listen_conn is not None

    def _ensure_listener(self) -> None:
        if self._listener is not None and self._listener.is_alive():
            return
        with self._lock:
            if self._listener is not None and self._listener.is_alive():
                return
            self._listener = threading.Thread(target=self._run, name="revision-listener", daemon=True)
            self._listener.start()

    def _count_waiting(self) -> None:
        """An announcement already on the listener's socket but not yet read by its thread counts as a change
        (a readiness check without reading: no race with the thread, no round trip)."""
        conn = self._listen_conn
        if conn is None:
            return
        with contextlib.suppress(Exception):
            readable, _, _ = select.select([conn.fileno()], [], [], 0)
            if readable:
                self.changed()

    def _run(self) -> None:
        retry_s = max(self._interval_s, 0.5)
        while not self._closed:
            try:
                conn = psycopg2.connect(self._db.probe_dsn)
                conn.set_session(autocommit=True)
                conn.cursor().execute(f"LISTEN {CHANNEL}")
            except psycopg2.Error as exc:
                log.debug("revision listener cannot connect: %s", exc)
                time.sleep(retry_s)
                continue
            self._listen_conn = conn
            self.changed()  # whatever happened while nobody listened
            try:
                while not self._closed:
                    readable, _, _ = select.select([conn], [], [], 30.0)
                    if not readable:
                        continue
                    conn.poll()
                    if conn.notifies:
                        conn.notifies.clear()
                        self.changed()
            except (psycopg2.Error, OSError, ValueError) as exc:
                if not self._closed:
                    log.info("revision listener lost its connection: %s", exc)
            finally:
                self._listen_conn = None
                self.changed()
                with contextlib.suppress(Exception):
                    conn.close()
            if not self._closed:
                time.sleep(retry_s)


def _read(source: RevisionSource) -> dict[str, int]:
    with source.cursor(dict_rows=False) as cur:
        cur.execute("SELECT entity, revision FROM data_revisions")
        return {str(entity): int(revision) for entity, revision in cur.fetchall()}


def watch_of(db: Watched) -> RevisionWatch:
    """The revisions ``db``'s caches follow: a hot standby's pool follows its primary's (it cannot listen)."""
    return db.cache_owner.revision_watch
