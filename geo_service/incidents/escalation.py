"""Escalation: an incident its owner did not resolve in time moves one level up.

小事不出网格、大事不出街、难事不出区: grid → community → street → district, following the areas in the
incident's snapshot (levels it lacks are skipped). Each level gets its own deadline from the category, counted
from when it received the incident. An incident overdue at the top level stays there and its miss is recorded
once. Every step is in the incident's history, by actor ``system:escalation``. Duplicates merged into a case
(并案) do not escalate on their own: they follow their case.

The sweep runs inside the service (:class:`EscalationJob`, started in the app lifespan; no external scheduler).
With several service processes, each sweeps once per time slot of ``interval_s`` whichever process gets there
first (:func:`geo_service.db.jobs.run_once`); a transaction-scoped advisory lock lets one sweep at a time and row
locks (``FOR UPDATE SKIP LOCKED``) keep a sweep and a dispatcher's transition from crossing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from geo_service.db.jobs import run_once
from geo_service.db.pool import DatabaseUnavailable
from geo_service.db.rows import DictCursor as Cursor
from geo_service.i18n import Message, message
from geo_service.incidents import notes
from geo_service.incidents.assignment import level_name, next_owner
from geo_service.incidents.context import IncidentContext
from geo_service.incidents.follow import follow
from geo_service.store import incidents as store
from geo_service.store.incidents import IncidentRow

ACTOR = "system:escalation"
SWEEP_LOCK_KEY = 7_302_114_600  # pg advisory lock key for the escalation sweep
BATCH = 500
# for a category no longer in the classification file: still a finite deadline, so the sweep moves on
FALLBACK_DEADLINE = timedelta(hours=24)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Escalation:
    incident_id: int
    from_level: str
    to_level: str | None  # None: already at the top level, the miss was recorded
    to_code: str | None


def _system_note(note: str | None, system: Message) -> dict[str, Any]:
    """A person's note is kept as written; without one, the system's (code and values, rendered on read)."""
    return {} if note else {"note": notes.stored(system)}


def escalate_row(
    ctx: IncidentContext,
    cur: Cursor,
    row: IncidentRow,
    *,
    now: datetime,
    actor: str,
    reason: str,
    note: str | None,
) -> Escalation:
    """Move one (locked) incident to the next level up, with a fresh deadline; or, at the top, record the miss.

    ``reason`` is ``overdue`` (the job) or ``manual`` (a dispatcher's transition to ``escalated``).
    """
    target = next_owner(row["area_snapshot"], row["owner_level"])
    if target is None:
        store.mark_top_overdue(cur, row["id"], now)
        store.add_history(
            cur,
            row["id"],
            at=now,
            actor=actor,
            action="overdue",
            from_status=row["status"],
            to_status=row["status"],
            note=note,
            detail={
                "owner_level": row["owner_level"],
                "owner_code": row["owner_code"],
                "due_at": row["due_at"].isoformat() if row["due_at"] else None,
                **_system_note(
                    note, message("incident.note.overdue_top", level=level_name(row["owner_level"]))
                ),
            },
        )
        return Escalation(row["id"], row["owner_level"], None, None)
    category = ctx.classification.get(row["category"])
    due_at = now + (category.deadline(target["level"]) if category else FALLBACK_DEADLINE)
    missed = row["due_at"] is not None and now > row["due_at"]
    store.set_owner(
        cur,
        row["id"],
        level=target["level"],
        code=target["code"],
        due_at=due_at,
        at=now,
        status="escalated",
        missed=missed,
    )
    store.add_history(
        cur,
        row["id"],
        at=now,
        actor=actor,
        action="escalated",
        from_status=row["status"],
        to_status="escalated",
        note=note,
        detail={
            **_system_note(
                note,
                message(
                    "incident.note.escalated_overdue",
                    from_level=level_name(row["owner_level"]),
                    to_level=level_name(target["level"]),
                    to_name=target["name"],
                ),
            ),
            "reason": reason,
            "from_level": row["owner_level"],
            "from_code": row["owner_code"],
            "to_level": target["level"],
            "to_code": target["code"],
            "to_name": target["name"],
            "missed_due_at": row["due_at"].isoformat() if row["due_at"] else None,
            "due_at": due_at.isoformat(),
        },
    )
    follow(cur, row["id"], "escalated", at=now, actor=actor)
    return Escalation(row["id"], row["owner_level"], target["level"], target["code"])


def sweep(ctx: IncidentContext, now: datetime | None = None) -> list[Escalation]:
    """Escalate every incident that is past its deadline at ``now`` (default: the context's clock).

    Returns what was done; an empty list when another process holds the sweep.
    """
    now = now or ctx.now()
    done: list[Escalation] = []
    while True:
        with ctx.db.cursor() as cur:
            if not store.try_sweep_lock(cur, SWEEP_LOCK_KEY):
                return done
            rows = store.overdue_for_update(cur, now, BATCH)
            batch = [
                escalate_row(ctx, cur, row, now=now, actor=ACTOR, reason="overdue", note=None) for row in rows
            ]
        done.extend(batch)
        if len(rows) < BATCH:
            return done


class EscalationJob:
    """Runs :func:`sweep` every ``interval_s`` seconds on a worker thread until stopped: once per time slot
    of ``interval_s`` across every process (``job_runs``; ``sweeps`` counts this process's attempts, ``ran``
    the sweeps it did)."""

    def __init__(self, ctx: IncidentContext, interval_s: float) -> None:
        self.ctx = ctx
        self.interval_s = interval_s
        self.sweeps = 0
        self.ran = 0
        self._task: asyncio.Task[None] | None = None

    def sweep_once(self) -> list[Escalation] | None:
        """Sweep unless another process swept this time slot; None when it was skipped. The slot follows
        real time, not the service clock: it schedules work, it does not decide what is overdue."""
        slot = int(time.time() // self.interval_s)
        ran, done = run_once(
            self.ctx.db, "escalation", f"{self.interval_s:g}s slot {slot}", lambda: sweep(self.ctx)
        )
        if ran:
            self.ran += 1
        return done

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="incident-escalation")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                escalated = await asyncio.to_thread(self.sweep_once)
                if escalated:
                    log.info("escalation sweep: %d incident(s) escalated or marked overdue", len(escalated))
            except DatabaseUnavailable as exc:  # the next sweep retries
                log.warning("escalation sweep skipped: %s", exc)
            except Exception:  # nothing may end the job; the next sweep retries
                log.exception("escalation sweep failed")
            self.sweeps += 1
            await asyncio.sleep(self.interval_s)
