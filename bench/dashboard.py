"""The leaders' dashboard over a year of 1,000,000 incidents: one view in under 1 s, against plain SQL over the
incidents table and the loop's own rates (``geo_service/incidents/rates.py``) on the same data.

    .venv/bin/python bench/dashboard.py [--incidents 1000000] [--repeat 5]

Set-up (a fresh database ``gs_bench_dashboard`` on the configured server): the synthetic district of
``bench/incidents_import.py`` (1 district, 4 streets, 16 communities, 400 grids in central Shanghai) and a year
(2025) of incidents written in batches of 100,000 rows by ``INSERT … SELECT`` with every state of the loop in
realistic shares (most closed, some open and past due, escalations, rejections), so the
aggregate the database keeps (``incident_daily``, migration 0990) follows those writes as it follows the
service's. The same batches are written once more with the aggregate's triggers off: the write cost of
keeping it.

Measured (medians of ``--repeat`` runs, interleaved):

- **dashboard** (``geo_service.stats.dashboard.dashboard``: totals, settled levels, 53 weeks, every grid, the
  areas below, overdue/escalated lists, staffing, coverage) for the district, a street, a community and a grid
  over the whole year, and for the district over one month; and the district through HTTP (JSON, TestClient).
- **peer: plain SQL** — the same totals, per-grid and per-week counts straight from ``incidents`` (one
  statement with grouping sets on the indexed columns), the way a report would be written without the aggregate.
- **rates** — ``GET /api/stats/rates`` for the district and year, which reads ``incidents`` itself.

Each view's figures are checked equal to the plain-SQL peer before anything is timed.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

import psycopg2
from common import admin_dsn, bench_database, markdown_table, owner_dsn
from fastapi.testclient import TestClient
from incidents_import import hierarchy

from geo_service.api.app import create_app
from geo_service.auth import Principal, create_token
from geo_service.db.pool import Database
from geo_service.grids.service import import_features
from geo_service.incidents.context import IncidentContext
from geo_service.incidents.rates import rates
from geo_service.settings import DashboardSettings, GridSettings, IncidentSettings
from geo_service.stats.dashboard import Period, dashboard

DB_NAME = "gs_bench_dashboard"
ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 1, 1, 9, 0, tzinfo=ZONE)  # the service's clock: the morning after the year
YEAR = Period(date(2025, 1, 1), date(2026, 1, 1))
BATCH = 100_000

# One INSERT … SELECT per batch: a random grid (with its ancestors), a random instant of 2025, a fate.
GENERATE = """
WITH grids AS (
    SELECT row_number() OVER (ORDER BY g.code) - 1 AS k, g.code, g.version, c.code AS community,
           s.code AS street, s.parent_code AS district, ST_PointOnSurface(g.geom) AS pt
    FROM areas g JOIN areas c ON c.code = g.parent_code JOIN areas s ON s.code = c.parent_code
    WHERE g.level = 'grid' AND g.valid_to IS NULL AND c.valid_to IS NULL AND s.valid_to IS NULL),
n AS (SELECT count(*) AS grids FROM grids),
draws AS (
    SELECT i, hashint4(i) AS h1, hashint4(i + 7919) AS h2, hashint4(i + 104729) AS h3
    FROM generate_series(%(first)s, %(last)s) AS i),
rows AS (
    SELECT d.i, g.*, abs(d.h2 %% 1000) AS fate, abs(d.h3 %% 100) AS luck,
           timestamptz '2025-01-01 00:00+08' + (abs(d.h1)::float8 / 2147483648.0) * interval '365 days' AS created
    FROM draws d, n JOIN grids g ON true
    WHERE g.k = abs(d.h1 %% n.grids))
INSERT INTO incidents (category, description, status, grid_code, grid_version, owner_level, owner_code,
                       community_code, street_code, district_code, created_at, updated_at, due_at, closed_at,
                       responded_at, resolved_at, settled_level, missed_deadline, escalations, source, geom)
SELECT (ARRAY['E0102', 'E0101', 'E0108', 'E0301', 'E0505'])[1 + luck %% 5], 'bench',
       status, code, version, owner, CASE owner WHEN 'grid' THEN code WHEN 'community' THEN community
                                                WHEN 'street' THEN street ELSE district END,
       community, street, district, created, created + interval '1 hour', due, closed, responded, resolved,
       CASE WHEN status IN ('resolved', 'verified', 'closed') THEN owner END, missed, escalations, 'hotline', pt
FROM (
    SELECT *,
           CASE WHEN fate < 30 THEN 'rejected' WHEN fate < 40 THEN 'reported' WHEN fate < 55 THEN 'dispatched'
                WHEN fate < 75 THEN 'in_progress' WHEN fate < 90 THEN 'resolved' ELSE 'closed' END AS status0,
           CASE WHEN luck < 70 THEN 'grid' WHEN luck < 88 THEN 'community' WHEN luck < 97 THEN 'street'
                ELSE 'district' END AS owner,
           (luck %% 7 = 0) AS missed,
           CASE WHEN luck < 70 THEN 0 WHEN luck < 88 THEN 1 WHEN luck < 97 THEN 2 ELSE 3 END AS escalations
    FROM rows) r,
LATERAL (SELECT
    -- most of the year is finished; open cases are the recent ones
    CASE WHEN created < timestamptz '2025-12-01 00:00+08' AND status0 NOT IN ('rejected', 'resolved')
         THEN 'closed' ELSE status0 END AS status) s,
LATERAL (SELECT created + interval '1 day' * (1 + luck %% 5) AS due,
                CASE WHEN s.status = 'closed' THEN created + interval '1 hour' * (2 + luck) END AS closed,
                CASE WHEN s.status IN ('in_progress', 'resolved', 'verified', 'closed')
                     THEN created + interval '1 hour' * (1 + luck %% 6) END AS responded,
                CASE WHEN s.status IN ('resolved', 'verified', 'closed')
                     THEN created + interval '1 hour' * (2 + luck) END AS resolved) t
"""

# The peer: the dashboard's counts straight from incidents (totals, per grid, per week) in one statement.
PEER = """
SELECT CASE WHEN grouping(grid_code) = 0 THEN 'grid' WHEN grouping(week) = 0 THEN 'week' ELSE 'total' END AS part,
       coalesce(grid_code, week::text) AS key, count(*) AS reported,
       count(*) FILTER (WHERE is_case AND status <> 'reported') AS accepted,
       count(*) FILTER (WHERE is_case AND dispatched_at IS NOT NULL) AS transferred,
       count(*) FILTER (WHERE is_case AND done) AS completed,
       count(*) FILTER (WHERE is_case AND done AND NOT missed_deadline) AS on_time,
       count(*) FILTER (WHERE is_case AND (done OR missed_deadline OR (open AND due_at < %(now)s))) AS on_time_due,
       count(*) FILTER (WHERE is_case AND open AND due_at < %(now)s) AS overdue,
       count(*) FILTER (WHERE is_case AND escalations > 0) AS escalated,
       count(*) FILTER (WHERE is_case AND done AND settled_level = 'grid') AS settled_grid
FROM (SELECT grid_code, status, dispatched_at, missed_deadline, due_at, escalations, settled_level,
             date_trunc('week', created_at AT TIME ZONE 'Asia/Shanghai')::date AS week,
             merged_into IS NULL AND status <> 'rejected' AS is_case,
             status IN ('resolved', 'verified', 'closed') AS done,
             status IN ('reported', 'filed', 'dispatched', 'in_progress', 'escalated') AS open
      FROM incidents WHERE {column} = %(code)s AND created_at >= %(since)s AND created_at < %(until)s) i
GROUP BY GROUPING SETS ((), (grid_code), (week))
"""
COLUMN = {
    "district": "district_code",
    "street": "street_code",
    "community": "community_code",
    "grid": "grid_code",
}


def fresh_database() -> Database:
    admin = psycopg2.connect(admin_dsn())
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    admin.close()
    return bench_database(DB_NAME)


def write_year(db: Database, count: int, first_id: int = 0) -> float:
    """Insert ``count`` incidents in batches; seconds taken."""
    start = time.perf_counter()
    for low in range(first_id, first_id + count, BATCH):
        with db.cursor() as cur:
            cur.execute(GENERATE, {"first": low, "last": min(low + BATCH, first_id + count) - 1})
        print(f"  {min(low + BATCH, first_id + count) - first_id:,} / {count:,}", end="\r", file=sys.stderr)
    print(file=sys.stderr)
    return time.perf_counter() - start


def write_cost(db: Database, count: int) -> tuple[float, float]:
    """Seconds to write ``count`` more incidents with the aggregate's triggers on, then off (removed after)."""
    owner = psycopg2.connect(owner_dsn(DB_NAME))
    owner.autocommit = True
    triggers = ("incident_daily_insert", "incident_daily_update", "incident_daily_delete")
    with db.cursor() as cur:
        cur.execute("SELECT max(id) AS top FROM incidents")
        top = int(cur.fetchone()["top"])
    timings = []
    for enabled in (True, False):
        with owner.cursor() as cur:
            for name in triggers:
                cur.execute(f"ALTER TABLE incidents {'ENABLE' if enabled else 'DISABLE'} TRIGGER {name}")
        timings.append(write_year(db, count, first_id=10_000_000))
        with owner.cursor() as cur:
            cur.execute("DELETE FROM incidents WHERE id > %s", (top,))
    with owner.cursor() as cur:
        for name in triggers:
            cur.execute(f"ALTER TABLE incidents ENABLE TRIGGER {name}")
        cur.execute("VACUUM ANALYZE incidents")
        cur.execute("VACUUM ANALYZE incident_daily")
    owner.close()
    return timings[0], timings[1]


def peer(db: Database, level: str, code: str, period: Period) -> dict:
    since = datetime.combine(period.since, datetime.min.time(), ZONE)
    until = datetime.combine(period.until, datetime.min.time(), ZONE)
    with db.cursor() as cur:
        cur.execute(
            PEER.format(column=COLUMN[level]), {"code": code, "since": since, "until": until, "now": NOW}
        )
        rows = cur.fetchall()
    return {(r["part"], r["key"]): dict(r) for r in rows}


def agree(view: dict, expected: dict) -> None:
    total = expected[("total", None)]
    summary = view["summary"]
    for key in (
        "reported",
        "accepted",
        "transferred",
        "completed",
        "on_time",
        "on_time_due",
        "overdue",
        "escalated",
    ):
        assert summary[key] == total[key], (key, summary[key], total[key])
    assert view["settled"]["counts"]["grid"] == total["settled_grid"]
    for grid in view["grids"]:
        want = expected.get(("grid", grid["code"]), {"reported": 0, "on_time": 0})
        assert (grid["reported"], grid["on_time"]) == (want["reported"], want["on_time"]), grid["code"]
    weeks = {k[1]: v["reported"] for k, v in expected.items() if k[0] == "week"}
    assert {w["week"]: w["reported"] for w in view["weeks"] if w["reported"]} == weeks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    db = fresh_database()
    features = hierarchy()
    import_features(db, features, Principal(0, "admin", "bench"))
    print(f"writing {args.incidents:,} incidents of 2025 …", file=sys.stderr)
    seconds = write_year(db, args.incidents)
    print(f"written in {seconds:.1f} s; measuring the aggregate's write cost …", file=sys.stderr)
    with_triggers, without = write_cost(db, BATCH)
    with db.cursor() as cur:
        cur.execute("SELECT count(*) AS n, pg_total_relation_size('incidents') AS bytes FROM incidents")
        incidents = cur.fetchone()
        cur.execute(
            "SELECT count(*) AS n, pg_total_relation_size('incident_daily') AS bytes FROM incident_daily"
        )
        daily = cur.fetchone()
    clock = lambda: NOW  # noqa: E731 - the service's clock, fixed: figures must not move between runs
    ctx = IncidentContext.create(db, IncidentSettings(escalation_enabled=False), clock=clock)
    settings, grid_settings = DashboardSettings(), GridSettings()
    district, street, community, grid = "310101", "310101001", "310101001001", "310101001001001"
    month = Period(date(2025, 11, 1), date(2025, 12, 1))
    views = [
        ("district", district, YEAR, "district, year"),
        ("street", street, YEAR, "street, year"),
        ("community", community, YEAR, "community, year"),
        ("grid", grid, YEAR, "grid, year"),
        ("district", district, month, "district, November"),
    ]
    token = create_token(db, "dispatcher", "bench")
    app = create_app(db=db, clock=clock, incident_settings=IncidentSettings(escalation_enabled=False))
    for level, code, period, _ in views:
        agree(dashboard(ctx, settings, grid_settings, level, code, period), peer(db, level, code, period))
    times: dict[str, list[float]] = {}

    def measure(label: str, fn) -> None:
        start = time.perf_counter()
        fn()
        times.setdefault(label, []).append(time.perf_counter() - start)

    with TestClient(app, base_url="http://localhost") as client:
        headers = {"Authorization": f"Bearer {token}"}
        params = {"level": "district", "code": district, "since": "2025-01-01", "until": "2026-01-01"}
        rate_params = {
            "level": "district",
            "code": district,
            "since": "2025-01-01T00:00:00+08:00",
            "until": "2026-01-01T00:00:00+08:00",
        }
        for _ in range(args.repeat):
            for level, code, period, label in views:
                measure(
                    f"dashboard: {label}",
                    lambda lv=level, c=code, p=period: dashboard(ctx, settings, grid_settings, lv, c, p),
                )
                measure(f"peer (plain SQL): {label}", lambda lv=level, c=code, p=period: peer(db, lv, c, p))
            measure(
                "dashboard over HTTP: district, year",
                lambda: client.get("/api/stats/dashboard", params=params, headers=headers).raise_for_status(),
            )
            measure(
                "rates (rates.py over incidents): district, year",
                lambda: rates(
                    ctx,
                    "district",
                    district,
                    datetime(2025, 1, 1, tzinfo=ZONE),
                    datetime(2026, 1, 1, tzinfo=ZONE),
                ),
            )
            measure(
                "/api/stats/rates: district, year",
                lambda: client.get("/api/stats/rates", params=rate_params).raise_for_status(),
            )
    db.close()
    print(
        f"\n{incidents['n']:,} incidents ({incidents['bytes'] / 2**20:,.0f} MiB with indexes) in 400 grids; "
        f"aggregate: {daily['n']:,} rows ({daily['bytes'] / 2**20:,.1f} MiB)\n"
    )
    rows = []
    for label, values in times.items():
        median = statistics.median(values)
        peer_label = label.replace("dashboard: ", "peer (plain SQL): ")
        ratio = (
            statistics.median(times[peer_label]) / median
            if peer_label in times and peer_label != label
            else None
        )
        rows.append(
            [
                label,
                f"{median * 1000:,.0f} ms",
                f"{min(values) * 1000:,.0f} ms",
                "" if ratio is None else f"{ratio:.1f}×",
            ]
        )
    print(markdown_table(["view", "median", "best", "plain SQL ÷ ours"], rows))
    print(
        f"\nwriting {BATCH:,} incidents in one statement: {with_triggers:.2f} s with the aggregate's triggers, "
        f"{without:.2f} s without ({(with_triggers / without - 1) * 100:+.0f} %)"
    )
    worst = max(statistics.median(v) for k, v in times.items() if k.startswith("dashboard"))
    print(
        f"\ntarget: every dashboard view of a year of {incidents['n']:,} incidents in under 1 s — "
        f"{'met' if worst < 1 else 'NOT met'} (slowest median {worst * 1000:,.0f} ms)"
    )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
