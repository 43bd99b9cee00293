"""The service's background work, done once per trigger across every process (:func:`geo_service.db.jobs.run_once`).

- **service circles**: redraw the stations' circles that are stale, once per (network, stations) revision, so a
  network import through any process or the CLI redraws them once;
- **coverage layer**: recompute ``area_coverage`` (the ``coverage`` map layer) once per revision of the
  network, facilities, residences and areas; ``GET /api/coverage`` computes but never writes, so reads can go
  to a read-only standby;
- **warm-up** at start, in every process: first the walking engine's compiled kernels (the server listens
  once they are loaded, :class:`StartUp`), then — once no request has been in flight for a moment (:meth:`StartUp.wait_quiet`),
  so that the first requests after ready do not share the GIL with it — the geocoder's keys and dictionaries,
  the locate index and pandas, and the two jobs above if due. The network itself is mapped on a process's
  first search, so a process that never routes never holds one.

Escalation has its own loop (:class:`geo_service.incidents.escalation.EscalationJob`), once per time slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
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


class StartUp:
    """Where a serving process's start-up warm-up is, and whether requests are in flight.

    The server starts listening once the walking kernels are loaded (:meth:`wait_for_kernels`: numba's cached
    code loads in ~0.5 CPU s), or ``ready_wait_s`` after start at most (without the build step numba compiles
    for tens of seconds, which the start does not wait out). The rest of the warm-up then waits in
    :meth:`wait_quiet` until no request has been in flight for ``idle_s`` (the HTTP layer calls
    :meth:`request_started` / :meth:`request_ended`), or ``defer_max_s`` after the kernels at most: imports and
    loads hold the GIL, and the first requests after ready would share it with them.
    """

    def __init__(self, ready_wait_s: float, idle_s: float, defer_max_s: float) -> None:
        self.started = time.monotonic()
        self.ready_wait_s = ready_wait_s
        self.idle_s = idle_s
        self.defer_max_s = defer_max_s
        self.in_flight = 0  # changed on the event loop only; read by the warm-up thread
        self.last_ended = self.started
        self._kernels = threading.Event()
        self._kernels_at = self.started
        self._stopped = threading.Event()
        self.finished = False  # the whole warm-up is over: requests need not be counted any more

    def request_started(self) -> None:
        self.in_flight += 1

    def request_ended(self) -> None:
        self.in_flight -= 1
        self.last_ended = time.monotonic()

    def kernels_done(self) -> None:
        self._kernels_at = time.monotonic()
        self._kernels.set()

    def wait_for_kernels(self) -> bool:
        """Block until the kernels are loaded or ``ready_wait_s`` has passed since start; whether they are."""
        return self._kernels.wait(max(0.0, self.started + self.ready_wait_s - time.monotonic()))

    def stop(self) -> None:
        """The server is shutting down: :meth:`wait_quiet` returns False at once."""
        self._stopped.set()

    def wait_quiet(self) -> bool:
        """Block until no request has been in flight for ``idle_s`` (or ``defer_max_s`` after the kernels);
        False when the server is stopping instead."""
        deadline = self._kernels_at + self.defer_max_s
        while not self._stopped.is_set():
            now = time.monotonic()
            if now >= deadline:
                return True
            if self.in_flight == 0:
                quiet = now - max(self.last_ended, self._kernels_at)
                if quiet >= self.idle_s:
                    return True
                wait = self.idle_s - quiet
            else:
                wait = self.idle_s
            self._stopped.wait(min(wait, deadline - now))
        return False


def warm_up(
    db: Database,
    stations: StationContext,
    circles: LifeCircleContext,
    locate_settings: LocateSettings | None = None,
    start_up: StartUp | None = None,
    prepare: Callable[[], object] | None = None,
) -> dict[str, bool]:
    """Before the server listens (``start_up``): make the walking kernels ready (numba imported and its cached
    machine code loaded). Then, each step once the process is quiet: run ``prepare`` (the HTTP layer builds
    every route's request handling), key names a migration or a bulk writer left for the geocoder (idempotent,
    cheap when none are left), load the geocoder's dictionaries, this process's locate index and pandas, and
    run the jobs that are due. Each of those is also done by the first request that needs it, so a deferral
    (or a stop) never leaves a route without it."""
    started = time.perf_counter()
    try:
        if stations.walking.warm_up:  # an isochrone right after ready needs these
            log.info("walking kernels ready in %.2f s", warm_walking_kernels())
    finally:
        if start_up is not None:
            start_up.kernels_done()
    steps: list[Callable[[], object]] = [
        prepare or (lambda: None),
        lambda: _key_names(db),
        load_dictionaries,  # the geocoder's Chinese dictionaries, imported lazily
        lambda: current_index(db, locate_settings),
        load_locate_parser,  # pandas: imported here rather than before ready or by the first batch request
    ]
    try:
        for step in steps:
            if start_up is not None and not start_up.wait_quiet():
                return {}
            step()
        if start_up is not None and not start_up.wait_quiet():
            return {}
        log.info("start-up warm-up done %.2f s after it began", time.perf_counter() - started)
        return run_due(db, stations, circles)
    finally:
        if start_up is not None:
            start_up.finished = True


def _key_names(db: Database) -> None:
    keyed = ensure_keyed(db, max_rows=None)
    if keyed:
        log.info("geocoder: %d name(s) keyed", keyed)


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
