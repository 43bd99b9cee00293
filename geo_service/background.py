"""The service's background work, done once per trigger across every process (:func:`geo_service.db.jobs.run_once`).

- **service circles**: redraw the stations' circles that are stale, once per (network, stations) revision, so a
  network import through any process or the CLI redraws them once;
- **coverage layer**: recompute ``area_coverage`` (the ``coverage`` map layer) once per revision of the
  network, facilities, residences and areas; ``GET /api/coverage`` computes but never writes, so reads can go
  to a read-only standby;
- **warm-up** at start: the locate index is loaded and the walking engine's compiled kernels made ready in
  every process (the network itself is mapped on a process's first search, so a process that never routes
  never holds one), then the two jobs above run if due.

Escalation has its own loop (:class:`geo_service.incidents.escalation.EscalationJob`), once per time slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from geo_service.db.cluster import ClusterError
from geo_service.db.jobs import run_once
from geo_service.db.pool import Database, DatabaseUnavailable
from geo_service.geocode.index import ensure_keyed
from geo_service.geocode.parse import load_dictionaries
from geo_service.life_circle import service as life_circles
from geo_service.life_circle.service import LifeCircleContext
from geo_service.locate.codec import load_parser as load_locate_parser
from geo_service.locate.service import current_index
from geo_service.settings import LocateSettings
from geo_service.stations.service import StationContext, refresh_service_circles
from geo_service.store import network as revision_store
from geo_service.walking import warm_up as warm_walking_kernels

log = logging.getLogger(__name__)
COVERAGE_LEVEL = "community"


def redraw_service_circles(db: Database, stations: StationContext) -> bool:
    """Redraw stale service circles unless another process did for the current network and stations."""
    with db.cursor(dict_rows=False) as cur:
        revisions = revision_store.revisions(cur, ("network", "stations"))
    trigger = f"network {revisions['network']} stations {revisions['stations']}"
    ran, redrawn = run_once(db, "service_circles", trigger, lambda: refresh_service_circles(db, stations))
    if redrawn:
        log.info("service circles redrawn for %d station(s)", redrawn)
    return ran


def refresh_coverage_layer(db: Database, circles: LifeCircleContext) -> bool:
    """Recompute the coverage layer unless another process did for the current data."""
    profile = circles.profile(None).id
    key = ",".join(str(r) for r in life_circles.coverage_revisions(db))
    trigger = f"{profile} {COVERAGE_LEVEL} {key}"
    ran, _ = run_once(
        db,
        "coverage_layer",
        trigger,
        lambda: life_circles.refresh_coverage_layer(db, circles, COVERAGE_LEVEL),
    )
    return ran


def run_due(db: Database, stations: StationContext, circles: LifeCircleContext) -> dict[str, bool]:
    """Every job that is due; which ones this process ran."""
    return {
        "service_circles": redraw_service_circles(db, stations),
        "coverage_layer": refresh_coverage_layer(db, circles),
    }


def warm_up(
    db: Database,
    stations: StationContext,
    circles: LifeCircleContext,
    locate_settings: LocateSettings | None = None,
) -> dict[str, bool]:
    """Make the walking kernels ready (numba imported and its cached machine code loaded), key names a
    migration or a bulk writer left for the geocoder (idempotent, cheap when none are left), load this
    process's locate index, then run the jobs that are due."""
    if stations.walking.warm_up:  # first: an isochrone right after ready waits for these, not the rest
        log.info("walking kernels ready in %.2f s", warm_walking_kernels())
    keyed = ensure_keyed(db, max_rows=None)
    if keyed:
        log.info("geocoder: %d name(s) keyed", keyed)
    load_dictionaries()  # the geocoder's Chinese dictionaries, imported lazily
    current_index(db, locate_settings)
    load_locate_parser()  # pandas: imported here rather than before ready or by the first batch request
    return run_due(db, stations, circles)


class PeriodicJob:
    """Runs ``work`` on a worker thread now and then every ``interval_s`` until stopped; one run at a time, so
    a stalled database makes runs late, never piled up. Failures are logged and retried at the next run."""

    def __init__(
        self,
        name: str,
        interval_s: float,
        work: Callable[[], object],
        first: Callable[[], object] | None = None,
    ) -> None:
        self.name = name
        self.interval_s = interval_s
        self.work = work
        self.first = first or work
        self.runs = 0
        self._task: asyncio.Task[None] | None = None
        # its own thread, not the event loop's default executor: asyncio.run() joins that one at shutdown, so
        # a run stuck on a frozen database (or compiling kernels on a busy machine) would hold the server up
        self._executor: ThreadPoolExecutor | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix=self.name)
        executor = self._executor
        while True:
            try:
                await loop.run_in_executor(executor, self.first if self.runs == 0 else self.work)
            except (ClusterError, DatabaseUnavailable, OSError) as exc:
                log.warning("%s skipped: %s", self.name, exc)
            except Exception:  # nothing may end the job; the next run retries
                log.exception("%s failed", self.name)
            self.runs += 1
            await asyncio.sleep(self.interval_s)
