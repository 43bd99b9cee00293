"""Background work once per trigger, whatever the number of service processes.

Every process runs the same background loops (escalation, service-circle redraw, the coverage layer, the
database part of the warm-up). Each loop names its **trigger**: what makes the work due (an escalation time
slot, the data revisions the result depends on). :func:`run_once` lets exactly one process do the work for a
trigger: it takes a session advisory lock named after the job (``pg_try_advisory_lock``: a process already
running the job makes the others skip at once), skips when ``job_runs`` says the trigger is done, and records
the run when it finishes. A process that dies mid-run loses its lock with its connection and leaves the run
unfinished, so the next process to try runs it again (``runs`` then counts 2).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from typing import TypeVar

from geo_service.db.pool import Database
from geo_service.db.rows import fetch_one

log = logging.getLogger(__name__)
T = TypeVar("T")
PROCESS = f"{socket.gethostname()}:{os.getpid()}"
KEEP_DAYS = 7


def run_once(db: Database, job: str, trigger: str, work: Callable[[], T]) -> tuple[bool, T | None]:
    """Run ``work()`` for ``(job, trigger)`` unless some process has done so or is doing it now.

    Returns ``(True, result)`` when this process ran it, ``(False, None)`` when it skipped. The lock is held on
    a pooled connection of its own while ``work`` runs on others.
    """
    with db.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(hashtextextended('job:' || %s, 0))", (job,))
        got = fetch_one(cur)[0]
        conn.commit()
        if not got:
            return False, None
        try:
            cur.execute(
                "SELECT finished_at IS NOT NULL FROM job_runs WHERE job = %s AND trigger = %s", (job, trigger)
            )
            row = cur.fetchone()
            if row is not None and row[0]:
                conn.commit()
                return False, None
            cur.execute(
                """INSERT INTO job_runs (job, trigger, process, started_at) VALUES (%s, %s, %s, clock_timestamp())
                   ON CONFLICT (job, trigger) DO UPDATE
                   SET runs = job_runs.runs + 1, process = excluded.process, started_at = excluded.started_at""",
                (job, trigger, PROCESS),
            )
            conn.commit()
            result = work()
            cur.execute(
                "UPDATE job_runs SET finished_at = clock_timestamp() WHERE job = %s AND trigger = %s",
                (job, trigger),
            )
            cur.execute(
                "DELETE FROM job_runs WHERE job = %s AND finished_at < now() - make_interval(days => %s)",
                (job, KEEP_DAYS),
            )
            conn.commit()
            return True, result
        finally:
            conn.rollback()
            if not conn.closed:
                cur.execute("SELECT pg_advisory_unlock(hashtextextended('job:' || %s, 0))", (job,))
                conn.commit()
