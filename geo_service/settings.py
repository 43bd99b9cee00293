"""Settings, one pydantic-settings class per concern.

Every variable starts with ``GEO_SERVICE_``. The database concern keeps the bare prefix because the spec
names ``GEO_SERVICE_DATABASE_URL`` and ``GEO_SERVICE_HOME``; the others add their own
(``GEO_SERVICE_API_``, ``GEO_SERVICE_IMPORT_`` ...).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class DatabaseSettings(BaseSettings):
    """Where the PostGIS database lives, which roles the service uses, and how long it waits for it.

    With ``database_url`` unset the service runs its own cluster under ``home``, with three roles: the
    superuser ``db_superuser`` (set-up only: roles, databases, extensions), the owner ``db_owner`` (migrations;
    owns every table and function of the schema) and the runtime role ``db_user`` (the service: reads and
    writes rows, owns nothing, not a superuser). With a URL, ``database_url`` is the runtime role and
    ``database_migrate_url`` the owner (the same URL when unset: a single role that owns its schema).
    """

    model_config = SettingsConfigDict(env_prefix="GEO_SERVICE_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="libpq URL of the PostGIS server, as the runtime role; embedded cluster when unset",
    )
    database_migrate_url: str | None = Field(
        default=None,
        description="libpq URL as the schema owner, used for migrations only; database_url when unset",
    )
    database_password_file: Path | None = Field(
        default=None, description="file holding database_url's password (a Docker/Kubernetes secret)"
    )
    database_migrate_password_file: Path | None = Field(
        default=None, description="file holding database_migrate_url's password"
    )
    database_read_url: str | None = Field(
        default=None,
        description="libpq URL of a hot standby (streaming replica) for read-only work; reads go to the primary when unset",
    )
    database_read_password_file: Path | None = Field(
        default=None, description="file holding database_read_url's password"
    )
    database_admin_url: str | None = Field(
        default=None,
        description="libpq URL as a superuser, for `geo-service db setup` only (roles, extensions); never the service",
    )
    database_admin_password_file: Path | None = Field(
        default=None, description="file holding database_admin_url's password"
    )
    home: Path = Field(default=Path(".geo-service"), description="folder of the embedded cluster")
    db_name: str = Field(default="geo_service", description="database name (embedded cluster)")
    db_user: str = Field(
        default="geo_service_app", description="runtime role of the embedded cluster: rows only, no DDL"
    )
    db_owner: str = Field(
        default="geo_service_owner",
        description="role of the embedded cluster that owns the schema (migrations)",
    )
    db_superuser: str = Field(
        default="postgres", description="superuser of a new embedded cluster (set-up only, never the service)"
    )
    pg_bin: Path | None = Field(
        default=None, description="folder with initdb/pg_ctl/postgres; found when unset"
    )
    pg_major: int = Field(default=15, description="PostgreSQL major version of the embedded cluster")
    pool_min: int = Field(default=1, ge=0, le=64, description="connections opened at start-up")
    pool_max: int = Field(default=8, ge=1, le=256, description="connections per process, at most")
    revision_interval_s: float = Field(
        default=1.0,
        ge=0,
        le=3600,
        description="longest time, seconds, a process trusts its in-memory data revisions without an announcement "
        "of a change (LISTEN/NOTIFY delivers changes at once; this bounds staleness if one is lost); 0 asks the "
        "database on every call",
    )
    pool_timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=600,
        description="longest wait for a free pooled connection, s (then 503 db.busy)",
    )
    connect_timeout_s: int = Field(
        default=3, ge=2, le=120, description="libpq connect_timeout: longest wait to open a connection, s"
    )
    statement_timeout_ms: int = Field(
        default=120_000, ge=0, description="server-side limit on one statement, ms (then 503 db.timeout)"
    )
    keepalives_idle_s: int = Field(
        default=10,
        ge=1,
        description="TCP keepalive: idle seconds before the first probe (ignored on Unix sockets)",
    )
    keepalives_interval_s: int = Field(default=5, ge=1, description="TCP keepalive: seconds between probes")
    keepalives_count: int = Field(
        default=3, ge=1, description="TCP keepalive: unanswered probes before giving up"
    )
    tcp_user_timeout_ms: int = Field(
        default=15_000,
        ge=0,
        description="TCP_USER_TIMEOUT: longest time sent data may stay unacknowledged, ms",
    )
    stall_probe_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="a connection busy this long makes the watchdog check that the server still answers, s",
    )
    probe_timeout_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="the watchdog's check: no answer within this declares the server down, s",
    )
    readiness_timeout_s: float = Field(
        default=1.5, gt=0, le=60, description="GET /readyz gives up on the database after this, s"
    )
    disk_full_recheck_s: float = Field(
        default=10.0,
        ge=0,
        description="after a write failed on a full disk, /readyz re-tests at most this often, s",
    )
    min_free_disk_mb: int = Field(
        default=64,
        ge=0,
        description="embedded cluster: /readyz says the disk is full below this much free space, MB",
    )

    @field_validator("database_url", "database_migrate_url", "database_admin_url", "database_read_url")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @property
    def embedded(self) -> bool:
        return self.database_url is None


class APISettings(BaseSettings):
    """The HTTP service."""

    model_config = SettingsConfigDict(env_prefix="GEO_SERVICE_API_", extra="ignore")

    host: str = Field(default="127.0.0.1", description="address `serve` listens on")
    port: int = Field(default=8000, ge=1, le=65535, description="port `serve` listens on")
    workers: int = Field(
        default=0,
        ge=0,
        le=64,
        description="server processes `serve` starts (0: one per CPU core, so CPU-bound work such as isochrones "
        "uses every core; `--workers` overrides)",
    )
    compute_concurrency: int = Field(
        default=2,
        ge=0,
        le=64,
        description="isochrones, walking routes and nearest-station searches one server process computes at once; "
        "further requests wait their turn on the event loop, holding no thread, instead of sharing the GIL and "
        "the caches with them (0: up to the thread pool's 40)",
    )
    access_log: bool = Field(
        default=True,
        description="uvicorn's access log, one line per request (~0.1 ms of CPU each under the GIL); turn it off "
        "behind a proxy that logs requests itself",
    )
    max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, description="request body limit, bytes")
    timezone: str = Field(default="Asia/Shanghai", description="IANA zone for opening hours and deadlines")
    language: Literal["zh-CN", "en"] = Field(
        default="zh-CN",
        description="language of messages when the caller's Accept-Language names none we have",
    )
    public_base_url: str | None = Field(
        default=None,
        description="where clients reach the service (https://map.example.gov.cn); links in TileJSON, the style "
        "and OGC documents use it instead of the request's Host",
    )
    trusted_hosts: Annotated[list[str] | None, NoDecode] = Field(
        default=None,
        description="Host header names the service answers (comma-separated; *.domain for subdomains, * for "
        "any); others get 400. Default: localhost, 127.0.0.1, ::1, the bind host and the public URL's host",
    )
    web_assets: Path = Field(
        default=Path("web/node_modules"), description="npm packages served under /vendor"
    )

    @field_validator("trusted_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class ImportSettings(BaseSettings):
    """OpenStreetMap import rules that vary by country."""

    model_config = SettingsConfigDict(env_prefix="GEO_SERVICE_IMPORT_", extra="ignore")

    dwelling_m2: float = Field(
        default=90.0,
        gt=10,
        description="gross floor area per household, m²; households = footprint × levels ÷ this",
    )
    default_levels: float = Field(
        default=3.0, gt=0, description="floors assumed when building:levels is missing"
    )
    min_residence_m2: float = Field(
        default=30.0, ge=0, description="footprints smaller than this are not homes"
    )
    admin_levels: dict[str, str] = Field(
        default={"6": "district", "7": "district", "8": "street", "9": "community", "10": "community"},
        description="OSM admin_level → area level",
    )
    facility_rules: Path | None = Field(default=None, description="YAML of OSM tag → facility category rules")


class MapSettings(BaseSettings):
    """Vector tiles, the MapLibre style, the basemap and OGC API – Features."""

    model_config = SettingsConfigDict(env_prefix="GEO_SERVICE_MAP_", extra="ignore")

    layers_dir: Path = Field(default=Path("layers"), description="the layer catalogue, one YAML file a layer")
    tile_cache_bytes: int = Field(
        default=64 * 1024 * 1024, ge=0, description="in-process tile cache size, bytes (0 turns it off)"
    )
    versioned_max_age_s: int = Field(
        default=7 * 24 * 3600,
        ge=0,
        description="Cache-Control max-age of tiles requested with the current revision (?v=), seconds",
    )
    basemap: Literal["local", "osm", "tianditu", "amap"] = Field(
        default="local", description="background of the style: our own OSM tiles (offline) or an external one"
    )
    basemap_url: str | None = Field(
        default=None, description="raster tile URL template ({z}/{x}/{y}) replacing the provider default"
    )
    basemap_key: str | None = Field(default=None, description="API key of the external basemap (Tianditu tk)")
    ogc_limit_default: int = Field(default=100, ge=1, description="OGC API items per page when none is asked")
    ogc_limit_max: int = Field(default=10_000, ge=1, description="largest OGC API page; larger limits clamp")


class IncidentSettings(BaseSettings):
    """Incident intake, escalation, geocoding and Open311."""

    model_config = SettingsConfigDict(env_prefix="GEO_SERVICE_INCIDENTS_", extra="ignore")

    categories: Path | None = Field(
        default=None, description="YAML event/component classification; bundled when unset"
    )
    near_boundary_m: float = Field(
        default=20.0,
        ge=0,
        le=1000,
        description="incidents closer than this to a grid boundary are flagged, m",
    )
    escalation_enabled: bool = Field(default=True, description="run the escalation job inside the service")
    escalation_interval_s: float = Field(
        default=60.0, gt=0, le=86_400, description="seconds between two escalation sweeps"
    )
    geocode_min_score: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description="address-only intake: the best candidate needs at least this score",
    )
    geocode_margin: float = Field(
        default=0.08,
        ge=0,
        le=1,
        description="address-only intake: a runner-up within this score of the best, elsewhere, makes it ambiguous",
    )
    geocode_same_place_m: float = Field(
        default=150.0, ge=0, description="candidates closer than this to the best count as the same place, m"
    )
    import_max_rows: int = Field(default=500_000, ge=1, description="rows per CSV import")
    open311_jurisdiction_id: str | None = Field(
        default=None, description="accepted jurisdiction_id; any when unset"
    )
    open311_default_days: int = Field(default=90, ge=1, description="GET requests: default date window, days")
    open311_max_requests: int = Field(default=1000, ge=1, description="GET requests: most requests returned")
    public_h3_resolution: int = Field(
        default=9,
        ge=0,
        le=12,
        description="anonymous Open311 GET requests see an incident at the centre of its H3 cell of this resolution",
    )
    duplicate_walk_m: float = Field(
        default=150.0,
        ge=0,
        le=2000,
        description="并案: open cases of the same major class within this walk of a new report are suggested, m",
    )
    duplicate_window_h: float = Field(
        default=72.0,
        gt=0,
        le=24 * 90,
        description="并案: suggested cases were filed at most this long before, h",
    )
    duplicate_limit: int = Field(default=5, ge=1, le=50, description="并案: most candidates suggested")
    callback_max_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        description="回访: after this many unreached calls the case closes as a failed callback",
    )


class JobSettings(BaseSettings):
    """Background jobs of the service (service-circle redraw, coverage layer), once per trigger across processes."""

    model_config = SettingsConfigDict(env_prefix="GEO_SERVICE_JOBS_", extra="ignore")

    enabled: bool = Field(default=True, description="run the background jobs inside the service")
    interval_s: float = Field(
        default=30.0, gt=0, le=86_400, description="seconds between two checks for due background jobs"
    )
    warm_up_idle_s: float = Field(
        default=0.5,
        ge=0,
        le=60,
        description="after the walking kernels, the rest of the start-up warm-up (geocoder keys and dictionaries, "
        "locate index, pandas, due jobs) waits until no request has been in flight for this long, s",
    )
    warm_up_defer_max_s: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="the rest of the start-up warm-up waits for a quiet moment at most this long after the "
        "kernels, s",
    )


class GridSettings(BaseSettings):
    """Checks on grid and area boundaries, proposals and planning numbers."""

    model_config = SettingsConfigDict(env_prefix="GEO_SERVICE_GRID_", extra="ignore")

    snap_tolerance_m: float = Field(
        default=1.0,
        ge=0,
        le=50,
        description="vertices this close to a neighbour's edge are snapped onto it; an import counts a boundary "
        "this close to the stored one as unchanged, m",
    )
    overlap_tolerance_m2: float = Field(
        default=1.0, ge=0, description="overlap with a sibling up to this area is accepted, m²"
    )
    outside_parent_tolerance_m2: float = Field(
        default=1.0, ge=0, description="area outside the parent accepted, m²"
    )
    gap_tolerance_m2: float = Field(
        default=1.0, ge=0, description="gaps smaller than this are not reported, m²"
    )
    sliver_width_m: float = Field(
        default=2.0,
        ge=0,
        description="a part whose mean width (2·area/perimeter) is below this is a sliver, m",
    )
    sliver_min_area_m2: float = Field(
        default=20.0, ge=0, description="a part smaller than this is a sliver, m²"
    )
    same_land_iou: float = Field(
        default=0.9,
        gt=0,
        le=1,
        description="a deleted code may come back only for the same land: intersection/union at least this",
    )
    households_min: int = Field(default=300, ge=1, description="proposal: fewest households per grid")
    households_max: int = Field(default=500, ge=1, description="proposal: most households per grid")
    workers_per_10k_residents: float = Field(
        default=18.0, gt=0, description="staffing norm: community workers per 10,000 residents"
    )
    persons_per_household: float = Field(
        default=2.62, gt=0, description="residents per household when an area has no population on record"
    )
    max_import_features: int = Field(default=20_000, ge=1, description="features per import or validation")
    max_vertices_per_geometry: int = Field(
        default=100_000, ge=4, description="positions in one area's boundary (all rings and parts), at most"
    )
    max_vertices_per_request: int = Field(
        default=500_000,
        ge=4,
        description="positions in all boundaries of one create, import or validation request, at most; "
        "counted before any shape is built",
    )
    max_upload_unpacked_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=1024,
        description="a zipped Shapefile may unpack to this many bytes, at most",
    )


class LocateSettings(BaseSettings):
    """The in-process point → grid index."""

    model_config = SettingsConfigDict(env_prefix="GEO_SERVICE_LOCATE_", extra="ignore")

    cells_per_polygon: float = Field(
        default=1000.0, gt=0, description="lattice cells per indexed polygon (finer = fewer exact tests)"
    )
    max_cells: int = Field(
        default=8_000_000, ge=1024, description="upper bound on lattice cells per level (4 bytes each)"
    )
    max_batch_points: int = Field(default=5_000_000, ge=1, description="points per POST /api/locate/batch")


class WalkingSettings(BaseSettings):
    """The pedestrian graph, snapping, isochrones, routes and rest-station search."""

    model_config = SettingsConfigDict(env_prefix="GEO_SERVICE_WALK_", extra="ignore")

    speed_kmh: float = Field(default=4.5, gt=0, le=30, description="default walking speed, km/h")
    min_speed_kmh: float = Field(default=0.5, gt=0, description="slowest speed a request may ask, km/h")
    max_speed_kmh: float = Field(default=30.0, gt=0, description="fastest speed a request may ask, km/h")
    steps_factor: float = Field(
        default=2.0, ge=1, le=10, description="a metre of steps costs this many metres of level walking"
    )
    max_snap_m: float = Field(
        default=300.0, gt=0, description="points farther than this from every walkable edge are refused, m"
    )
    corridor_m: float = Field(
        default=40.0,
        gt=0,
        le=500,
        description="isochrones reach this far either side of the reachable streets, m",
    )
    cell_m: float = Field(
        default=10.0, gt=0, le=100, description="isochrone raster cell, m (coarser for large ones)"
    )
    max_cells_side: int = Field(
        default=600, ge=50, le=5000, description="isochrone raster cells per side, at most"
    )
    simplify_cells: float = Field(
        default=0.0,
        ge=0,
        le=0.5,
        description="isochrone outlines are simplified by this fraction of a raster cell (requests may ask simplify_m)",
    )
    coordinate_decimals: int = Field(
        default=7, ge=3, le=15, description="decimals of isochrone coordinates, degrees (7 ≈ 1 cm)"
    )
    max_minutes: float = Field(default=120.0, gt=0, description="longest isochrone contour, minutes")
    max_contours: int = Field(default=10, ge=1, description="contours per isochrone request")
    max_origins: int = Field(default=200, ge=1, description="origins per isochrone request")
    max_route_km: float = Field(default=100.0, gt=0, description="longest route searched, km of walking")
    nearest_max_minutes: float = Field(
        default=60.0, gt=0, description="rest-station search horizon when max_minutes is not given, minutes"
    )
    nearest_max_limit: int = Field(default=50, ge=1, description="most stations one nearest search returns")
    matrix_max_pairs: int = Field(
        default=20_000_000, ge=1, description="sources × targets of one travel-time matrix, at most"
    )
    search_workspaces: int = Field(
        default=4,
        ge=1,
        le=256,
        description="search work arrays kept per walking graph and process (~30 bytes a node each); searches beyond wait",
    )
    cache: bool = Field(default=True, description="cache built walking graphs on disk and memory-map them")
    warm_up: bool = Field(
        default=True,
        description="make the compiled search kernels ready in the background at start (not the network)",
    )
    warm_up_ready_wait_s: float = Field(
        default=10.0,
        ge=0,
        le=600,
        description="the server starts listening once the search kernels are loaded (~0.5 CPU s from numba's "
        "cache), at most this long after start (compiling without the build step takes far longer), s",
    )
    cache_dir: Path | None = Field(
        default=None,
        description="folder of the walking graphs' disk cache; GEO_SERVICE_HOME/cache/walking when unset",
    )


class StationSettings(BaseSettings):
    """Rest stations: vocabulary, public holidays, service circles."""

    model_config = SettingsConfigDict(env_prefix="GEO_SERVICE_STATIONS_", extra="ignore")

    vocabulary: Path | None = Field(
        default=None, description="YAML of station kinds and amenities; bundled when unset"
    )
    country: str | None = Field(
        default="CN",
        description="ISO country whose public holidays `PH` means in opening hours (none when empty)",
    )
    circle_minutes: list[float] = Field(
        default=[5.0, 10.0, 15.0], description="walking minutes of each station's service circles"
    )
    max_stations_listed: int = Field(default=10_000, ge=1, description="most stations one list returns")
    inspection_interval_days: float = Field(
        default=30.0,
        gt=0,
        le=366,
        description="常态化巡查: a station not inspected for this long is overdue, days",
    )

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return value.strip().upper() or None if value else None


class LifeCircleSettings(BaseSettings):
    """Life circles: profiles, reach searches, coverage and gaps."""

    model_config = SettingsConfigDict(env_prefix="GEO_SERVICE_LIFE_CIRCLE_", extra="ignore")

    profiles_dir: Path | None = Field(
        default=None, description="folder of extra profile YAML files (one a profile)"
    )
    default_profile: str = Field(default="gb50180", description="profile used when a request names none")
    reach_max_m: float = Field(
        default=10_000.0,
        gt=0,
        description="reach searches stop this far from every facility, m (beyond: none)",
    )
    h3_resolution: int = Field(default=9, ge=5, le=12, description="H3 resolution of the gap cells")
    max_gap_features: int = Field(
        default=50_000, ge=1, description="residences listed by one gaps answer, at most"
    )


class SitingSettings(BaseSettings):
    """Facility siting (POST /api/siting): input limits, default inputs and the MILP solver."""

    model_config = SettingsConfigDict(env_prefix="GEO_SERVICE_SITING_", extra="ignore")

    max_demand: int = Field(default=50_000, ge=1, description="most demand points per request")
    max_candidates: int = Field(default=5_000, ge=1, description="most candidate sites per request")
    max_fixed: int = Field(default=5_000, ge=0, description="most fixed (existing) sites per request")
    max_minutes: float = Field(default=60.0, gt=0, description="longest walking-time cutoff, minutes")
    candidate_categories: list[str] = Field(
        default=["community_center", "elderly_care", "canteen", "post"],
        description="facility categories that are default candidates: service centres and kindred public "
        "places that host rest stations",
    )
    same_site_m: float = Field(
        default=5.0,
        ge=0,
        description="a candidate this close to a fixed site (or with its id) is that site and is excluded, m",
    )
    time_limit_s: float = Field(
        default=30.0,
        gt=0,
        description="wall-clock limit of a whole request (inputs, catchments, solver) when it names none, s",
    )
    max_time_limit_s: float = Field(
        default=300.0, gt=0, description="largest time limit a request may ask, s"
    )
    mip_rel_gap: float = Field(
        default=0.0, ge=0, le=1, description="relative MIP gap at which the solver stops and reports optimal"
    )
    unserved_factor: float = Field(
        default=1.0,
        ge=1,
        description="p-median: demand no open site reaches within the cutoff costs this × the cutoff",
    )
    reduction_work_limit: int = Field(
        default=50_000_000, ge=0, description="largest sparse product a dominance reduction may cost"
    )


class RateLimitSettings(BaseSettings):
    """Rate limits per caller (token, else client address) by route class, and the cap on expensive work.

    Limits live in each process: with ``serve --workers N`` every worker enforces its own buckets, so a
    caller may get up to N times the rates below in all. Behind a reverse proxy, start uvicorn with
    ``--proxy-headers`` (and ``--forwarded-allow-ips``) so the client address is the caller's, not the proxy's.
    """

    model_config = SettingsConfigDict(env_prefix="GEO_SERVICE_LIMITS_", extra="ignore")

    enabled: bool = Field(
        default=True,
        description="apply the rate limits (benchmarks turn them off; the concurrency cap stays)",
    )
    read_per_s: float = Field(default=50.0, gt=0, description="reads (GET, HEAD) per second per caller")
    read_burst: int = Field(
        default=600, ge=1, description="reads a caller may send at once before the rate applies"
    )
    write_per_s: float = Field(
        default=5.0, gt=0, description="writes (POST, PUT, DELETE ...) per second per caller"
    )
    write_burst: int = Field(default=60, ge=1, description="writes a caller may send at once")
    expensive_per_s: float = Field(
        default=0.5,
        gt=0,
        description="expensive requests (siting, grid validation, proposals, imports, guide maps, batch locate) "
        "per second per caller",
    )
    expensive_burst: int = Field(
        default=20,
        ge=1,
        description="expensive requests a caller may send at once (the planner page validates live)",
    )
    expensive_concurrency: int = Field(
        default=4, ge=1, description="expensive requests running at once in one process; more get 503 at once"
    )
    bad_token_per_s: float = Field(
        default=0.1, gt=0, description="invalid bearer tokens forgiven per second per client address"
    )
    bad_token_burst: int = Field(
        default=20, ge=1, description="invalid bearer tokens one address may send before it gets 429 for them"
    )


class NetworkSettings(BaseSettings):
    """Other departments' networks (多网合一): imports, the crosswalk to the unified grids and proposals."""

    model_config = SettingsConfigDict(env_prefix="GEO_SERVICE_NETWORK_", extra="ignore")

    mismatch_tolerance_m: float = Field(
        default=5.0,
        gt=0,
        le=100,
        description="a network boundary this close to a unified grid boundary without following it is a mismatch, m",
    )
    follow_tolerance_m: float = Field(
        default=0.1,
        gt=0,
        le=5,
        description="a network boundary this close to a unified boundary follows it (reprojection noise), m",
    )
    mismatch_min_length_m: float = Field(
        default=10.0,
        ge=0,
        description="shorter near-parallel runs are not reported (a boundary crossing or meeting another), m",
    )
    max_import_features: int = Field(default=50_000, ge=1, description="cells per network import")
    max_rekey: int = Field(default=100_000, ge=1, description="cells plus points per re-key request")
    crosswalk_cache: int = Field(
        default=8, ge=0, description="crosswalks kept in memory per process (by network and data revision)"
    )


class MediaSettings(BaseSettings):
    """Photos of incidents and inspections: what is accepted and how it is stored."""

    model_config = SettingsConfigDict(env_prefix="GEO_SERVICE_MEDIA_", extra="ignore")

    max_bytes: int = Field(
        default=15 * 1024 * 1024, ge=1024, le=60 * 1024 * 1024, description="largest photo accepted, bytes"
    )
    max_pixels: int = Field(
        default=50_000_000,
        ge=10_000,
        le=200_000_000,
        description="largest photo accepted, pixels (a decompression bomb is refused before it is decoded)",
    )
    max_side_px: int = Field(
        default=4096, ge=256, le=16_384, description="stored photos are scaled down to this longest side, px"
    )
    thumbnail_px: int = Field(default=320, ge=32, le=1024, description="longest side of thumbnails, px")
    jpeg_quality: int = Field(default=85, ge=30, le=95, description="JPEG quality of stored photos")
    per_owner_max: int = Field(
        default=20, ge=1, le=200, description="most photos one incident or inspection may have"
    )


class DashboardSettings(BaseSettings):
    """The leaders' dashboard (/app/dashboard, /api/stats/dashboard): targets and norms it compares with."""

    model_config = SettingsConfigDict(env_prefix="GEO_SERVICE_DASHBOARD_", extra="ignore")

    grid_settled_target: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="小事不出网格: the share of resolved cases that should be settled in their grid, 0..1",
    )
    coverage_minutes: float = Field(
        default=15.0, gt=0, le=60, description="stations' coverage: the walking circle counted, minutes"
    )
    list_limit: int = Field(
        default=100, ge=1, le=10_000, description="most overdue or escalated cases one dashboard lists"
    )
    max_period_days: int = Field(
        default=3 * 366, ge=7, le=20 * 366, description="longest period one dashboard view covers, days"
    )


def all_settings() -> list[type[BaseSettings]]:
    """Every settings class, in the order this module defines them."""
    return [
        value
        for value in globals().values()
        if isinstance(value, type) and issubclass(value, BaseSettings) and value is not BaseSettings
    ]


def reference_markdown() -> str:
    """The configuration reference (``docs/configuration.md``): every variable with its default and meaning,
    generated from the settings classes so it cannot drift from them."""
    lines = [
        "# Configuration",
        "",
        "Every setting is an environment variable, read once at start-up. This page is generated from",
        "`geo_service/settings.py` by `geo-service config reference > docs/configuration.md`; a test keeps it current.",
    ]
    for cls in all_settings():
        prefix = cls.model_config.get("env_prefix", "")
        doc = (cls.__doc__ or cls.__name__).strip().splitlines()[0].rstrip(".")
        lines += ["", f"## {doc}", "", "| variable | default | meaning |", "|---|---|---|"]
        for name, info in cls.model_fields.items():
            default = info.get_default(call_default_factory=True)
            shown = ("unset" if default is None else f"`{default}`").replace("|", r"\|")
            meaning = (info.description or "").replace("|", r"\|")
            lines.append(f"| `{prefix}{name.upper()}` | {shown} | {meaning} |")
    return "\n".join(lines) + "\n"
