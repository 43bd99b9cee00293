"""The FastAPI application factory.

``create_app()`` builds the app; its lifespan opens the database pool (starting the embedded cluster when
no URL is configured) and applies migrations. If the database is down the app still starts: ``/healthz``
answers and ``/readyz`` says 503 until the database is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import psycopg2
from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from geo_service import __version__, background
from geo_service.api import errors, openapi
from geo_service.api.activity import RequestActivity
from geo_service.api.compression import Compression
from geo_service.api.consistency import WritePosition
from geo_service.api.deps import Compute, rate_limit
from geo_service.api.limits import BodySizeLimit
from geo_service.api.ratelimit import RateLimiter, SlotRelease
from geo_service.api.routers import (
    auth,
    dashboard,
    facilities,
    geocode,
    grids,
    guide_map,
    health,
    incidents,
    life_circle,
    locate,
    loop,
    maps,
    networks,
    ogc,
    open311,
    pages,
    stations,
    tiles,
    walking,
)
from geo_service.api.routers import siting as siting_routes
from geo_service.api.security import SecurityHeaders, TrustedHosts, trusted_hosts
from geo_service.background import PeriodicJob, StartUp
from geo_service.clock import Clock
from geo_service.db import bootstrap
from geo_service.db.cluster import ClusterError
from geo_service.db.pool import Database, DatabaseUnavailable
from geo_service.guide_map.service import GuideMapContext
from geo_service.incidents.context import IncidentContext
from geo_service.incidents.escalation import EscalationJob
from geo_service.life_circle.service import LifeCircleContext
from geo_service.osm.rules import FacilityRules
from geo_service.settings import (
    APISettings,
    DashboardSettings,
    DatabaseSettings,
    GridSettings,
    ImportSettings,
    IncidentSettings,
    JobSettings,
    LifeCircleSettings,
    LocateSettings,
    MapSettings,
    MediaSettings,
    NetworkSettings,
    RateLimitSettings,
    SitingSettings,
    StationSettings,
    WalkingSettings,
)
from geo_service.stations.context import StationContext
from geo_service.tiles import build_tile_server

log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[2]


def open_database(settings: DatabaseSettings) -> Database:
    """The runtime role's pool, migrated by the owner role; a lazy pool (503 until the server is back) when
    the database is down or cannot be migrated (``/readyz`` says why)."""
    try:
        return bootstrap.open_database(settings)
    except (ClusterError, DatabaseUnavailable, OSError, psycopg2.Error) as exc:
        log.error("database not available at start-up: %s", str(exc).strip())
        return Database.from_settings(settings, start=False)


def background_jobs(
    db: Database,
    stations: StationContext,
    circles: LifeCircleContext,
    settings: JobSettings,
    locate_settings: LocateSettings | None = None,
    start_up: StartUp | None = None,
    prepare: Callable[[], object] | None = None,
) -> PeriodicJob:
    """Warm-up first (this process's caches, then the due jobs), then the due jobs every ``interval_s``: stale
    service circles redrawn, the ``coverage`` map layer refreshed, each once per trigger across processes."""
    return PeriodicJob(
        "background-jobs",
        settings.interval_s,
        lambda: background.run_due(db, stations, circles),
        first=lambda: background.warm_up(db, stations, circles, locate_settings, start_up, prepare),
    )


def prepare_routes(app: FastAPI) -> None:
    """Have FastAPI build every route's request handling now (parameters, dependencies, models): it builds an
    included router's on the first request that passes through it, ~0.15 CPU s for them all, which the first
    requests would otherwise pay between them. A path no route matches walks every router."""
    scope = {"type": "http", "method": "GET", "path": "/.warm-up/", "root_path": "", "headers": []}
    for route in app.router.routes:
        route.matches(dict(scope))


def web_assets_dir(settings: APISettings) -> Path | None:
    """Where npm put the JS/CSS packages (``web/node_modules``), or None before ``make`` ran npm."""
    for candidate in (Path(settings.web_assets), REPO_ROOT / settings.web_assets):
        if candidate.is_dir():
            return candidate.resolve()
    return None


def create_app(
    db: Database | None = None,
    db_settings: DatabaseSettings | None = None,
    api_settings: APISettings | None = None,
    map_settings: MapSettings | None = None,
    incident_settings: IncidentSettings | None = None,
    clock: Clock | None = None,
    job_settings: JobSettings | None = None,
    limit_settings: RateLimitSettings | None = None,
    grid_settings: GridSettings | None = None,
    media_settings: MediaSettings | None = None,
    walking_settings: WalkingSettings | None = None,
    dashboard_settings: DashboardSettings | None = None,
    locate_settings: LocateSettings | None = None,
    station_settings: StationSettings | None = None,
    life_circle_settings: LifeCircleSettings | None = None,
    siting_settings: SitingSettings | None = None,
    network_settings: NetworkSettings | None = None,
) -> FastAPI:
    """Build the service. Pass ``db`` to use an existing pool (tests); otherwise one is opened at start-up.
    ``clock`` is the one time source of incidents (deadlines, escalation) and stations (open now); tests
    inject a fixed one so they hold at any hour. Each ``*_settings`` omitted is read from the environment, once,
    here; routes and contexts get them from ``app.state`` (``api/deps.py``), never from a global."""
    db_settings = db_settings or DatabaseSettings()
    api_settings = api_settings or APISettings()
    job_settings = job_settings or JobSettings()
    map_settings = map_settings or MapSettings()
    incident_settings = incident_settings or IncidentSettings()
    # Settings are read from the environment once, here, and passed down through the contexts and app.state.
    walking_settings = walking_settings or WalkingSettings()
    locate_settings = locate_settings or LocateSettings()

    def incident_context(database: Database) -> IncidentContext:
        return IncidentContext.create(
            database, incident_settings, clock, api_settings.timezone, walking_settings
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owns_db = db is None
        app.state.db = db if db is not None else open_database(db_settings)
        app.state.incident_context = incident_context(app.state.db)
        # overdue incidents escalate inside the service: no external scheduler to install or forget
        app.state.escalation = EscalationJob(
            app.state.incident_context, incident_settings.escalation_interval_s
        )
        if incident_settings.escalation_enabled:
            app.state.escalation.start()
        try:
            # Report at start-up which catalogued layers can be served; built lazily if the DB is down.
            app.state.tile_server = build_tile_server(app.state.db, map_settings)
        except (ClusterError, DatabaseUnavailable) as exc:
            log.error("map layers not checked at start-up: %s", exc)
        warms = owns_db and job_settings.enabled
        # the kernels are loaded before the server listens; the rest of the warm-up waits for a quiet moment
        app.state.start_up = (
            StartUp(
                walking_settings.warm_up_ready_wait_s,
                job_settings.warm_up_idle_s,
                job_settings.warm_up_defer_max_s,
            )
            if warms
            else None
        )
        app.state.jobs = background_jobs(
            app.state.db,
            app.state.station_context,
            app.state.life_circle_context,
            job_settings,
            locate_settings,
            app.state.start_up,
            lambda: prepare_routes(app),
        )
        if warms:
            # load the walking kernels, redraw stale circles, fill the coverage layer: off the request path
            app.state.jobs.start()
            # listen once the kernels are loaded (or after the bound): a first isochrone need not wait for them
            if not await asyncio.to_thread(app.state.start_up.wait_for_kernels):
                log.warning("serving before the walking kernels are ready (numba compiling?)")
        try:
            yield
        finally:
            if app.state.start_up is not None:
                app.state.start_up.stop()
            await app.state.jobs.stop()
            await app.state.escalation.stop()
            if owns_db:
                app.state.db.close()

    app = FastAPI(
        title="geo-service",
        version=__version__,
        description="Grids, locate, walking isochrones, rest stations, life circles and incidents on PostGIS.",
        lifespan=lifespan,
        docs_url=None,  # /docs is served by pages.docs_router with Swagger UI from /vendor (works offline)
        redoc_url=None,
        dependencies=[Depends(rate_limit)],  # per-caller rate limits on every route (api/ratelimit.py)
    )
    app.state.rate_limiter = RateLimiter(limit_settings or RateLimitSettings())
    app.state.api_settings = api_settings
    app.state.compute = Compute(api_settings.compute_concurrency)  # isochrones and the like, a few at a time
    app.state.media_settings = media_settings or MediaSettings()
    app.state.walking_settings = walking_settings
    app.state.locate_settings = locate_settings
    app.state.siting_settings = siting_settings or SitingSettings()
    app.state.network_settings = network_settings or NetworkSettings()
    app.state.station_context = StationContext.create(
        api_settings.timezone, station_settings or StationSettings(), walking_settings, clock
    )
    app.state.facility_rules = FacilityRules.load(ImportSettings().facility_rules)
    app.state.life_circle_context = LifeCircleContext.create(
        life_circle_settings or LifeCircleSettings(), walking_settings, app.state.facility_rules
    )
    app.state.guide_map_context = GuideMapContext.create(
        walking_settings, app.state.facility_rules, api_settings.timezone, clock
    )
    app.state.dashboard_settings = dashboard_settings or DashboardSettings()
    app.state.db_settings = db_settings
    app.state.map_settings = map_settings
    # read once; the grid and network routes pass it on
    app.state.grid_settings = grid_settings or GridSettings()
    if db is not None:
        app.state.db = db
        app.state.incident_context = incident_context(db)
    errors.install(app)
    openapi.install(app)
    app.add_middleware(SlotRelease)  # innermost: sees the scope the rate_limit dependency marks
    app.add_middleware(RequestActivity)  # the start-up warm-up waits for a quiet moment
    app.add_middleware(BodySizeLimit, max_bytes=api_settings.max_body_bytes)
    app.add_middleware(WritePosition)  # read-your-own-writes when reads go to a standby
    app.add_middleware(Compression)
    app.add_middleware(TrustedHosts, allowed=trusted_hosts(api_settings))  # a forged Host gets 400
    app.add_middleware(SecurityHeaders)  # outermost: every answer carries them

    for module in (
        health,
        auth,
        maps,
        grids,
        locate,
        walking,
        stations,
        facilities,
        life_circle,
        incidents,
        geocode,
        open311,
        tiles,
        ogc,
        pages,
        guide_map,
        networks,
        loop,
        dashboard,
    ):
        app.include_router(module.router)
    app.include_router(siting_routes.router)
    app.include_router(pages.docs_router)

    assets = web_assets_dir(api_settings)
    if assets is not None:
        app.mount("/vendor", StaticFiles(directory=assets), name="vendor")
    return app
