"""The data revisions held in memory (geo_service.db.revisions): no round trip while nothing changes, a change
through this process's pool seen by its very next call, a change by anyone else announced by the database
(LISTEN/NOTIFY) and, if an announcement is lost, seen after at most ``revision_interval_s``."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import psycopg2

from geo_service.db.pool import Database
from geo_service.db.revisions import watch_of

# A statement-level trigger bumps the revision even when no row matches: a change that touches no data.
BUMP = "DELETE FROM residences WHERE false"


@contextlib.contextmanager
def pool_of(db: Database, interval_s: float) -> Iterator[Database]:
    """A second pool on ``db``'s database: another server process, as far as revisions go."""
    other = Database(db.dsn, max_size=2, revision_interval_s=interval_s)
    try:
        yield other
    finally:
        other.close()


def bump_outside(db: Database) -> None:
    """A change committed by a connection of no pool (another process, the CLI, psql)."""
    with contextlib.closing(psycopg2.connect(db.dsn)) as conn:
        with conn.cursor() as cur:
            cur.execute(BUMP)
        conn.commit()


def wait_for(predicate: Callable[[], bool], within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_unchanged_revisions_cost_no_round_trip(empty_db: Database) -> None:
    with pool_of(empty_db, interval_s=3600) as pool:
        watch = watch_of(pool)
        assert wait_for(lambda: watch.current() is not None and watch._listening(), 10)
        watch.current()  # the one read after the listener came up (changes while nobody listened)
        reads = watch.reads
        for _ in range(200):
            watch.revision("residences")
        assert watch.reads == reads  # nothing changed: no query at all


def test_a_write_through_the_pool_is_seen_by_the_next_call(empty_db: Database) -> None:
    with pool_of(empty_db, interval_s=3600) as pool:
        watch = watch_of(pool)
        for _ in range(20):  # deterministic: the announcement comes back with the writer's COMMIT
            before = watch.revision("residences")
            with pool.cursor() as cur:
                cur.execute(BUMP)
            assert watch.revision("residences") == before + 1


def test_a_write_elsewhere_is_announced(empty_db: Database) -> None:
    with pool_of(empty_db, interval_s=3600) as pool:  # an interval that never runs out during the test
        watch = watch_of(pool)
        assert wait_for(lambda: watch.current() is not None and watch._listening(), 10)
        before = watch.revision("residences")
        bump_outside(pool)
        assert wait_for(lambda: watch.revision("residences") == before + 1, 10)


def test_without_announcements_the_interval_bounds_staleness(empty_db: Database) -> None:
    interval_s = 0.5
    with pool_of(empty_db, interval_s=interval_s) as pool:
        watch = watch_of(pool)
        watch._listen = False  # as if every announcement were lost
        before = watch.revision("residences")
        bump_outside(pool)
        assert wait_for(lambda: watch.revision("residences") == before + 1, interval_s + 5)


def test_interval_zero_reads_on_every_call(empty_db: Database) -> None:
    with pool_of(empty_db, interval_s=0) as pool:
        watch = watch_of(pool)
        before = watch.revision("residences")
        bump_outside(pool)
        assert watch.revision("residences") == before + 1
