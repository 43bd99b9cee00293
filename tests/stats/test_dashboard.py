"""The leaders' dashboard: its figures equal an independent SQL count over incidents made through the API on an
injected clock (random moves along the loop, escalations by the sweep, merges, rejections, callbacks), follow
every later write, agree with /api/stats/rates, survive a recount in another zone, download as CSV and XLSX,
and are refused to anonymous callers and other roles; bad input gets a 4xx and changes nothing."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from geo_service.api.app import create_app
from geo_service.clock import ManualClock
from geo_service.db.pool import Database
from geo_service.incidents.escalation import sweep
from geo_service.settings import IncidentSettings
from geo_service.store import dashboard as store
from tests.conftest import auth_headers
from tests.incidents.areas import COMMUNITY_SW, DISTRICT, GRID_1, GRID_2, GRID_4, STREET_W, load_hierarchy

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)  # a Monday morning
POINTS = [
    (24.933, 60.165),
    (24.942, 60.165),
    (24.948, 60.168),
    (24.957, 60.165),
    (24.935, 60.175),
    (24.952, 60.179),
]  # grids 1, 2, 4, 3; the community without grid; the street without community
CATEGORIES = ["E0102", "E0101", "E0108"]
PERIOD = {"since": "2026-03-02", "until": "2026-04-06"}  # five weeks, Monday to Monday
LEVEL_COLUMN = {
    "district": "district_code",
    "street": "street_code",
    "community": "community_code",
    "grid": "grid_code",
}


# The oracles' incidents of the area and period, with what each one is (written apart from the service's SQL).
_MINE = """WITH mine AS (
    SELECT i.*, i.merged_into IS NULL AND i.status <> 'rejected' AS is_case,
           i.status IN ('resolved', 'verified', 'closed') AS done,
           i.status IN ('reported', 'filed', 'dispatched', 'in_progress', 'escalated') AS open,
           EXISTS (SELECT 1 FROM incident_history h WHERE h.incident_id = i.id
                   AND h.to_status IN ('dispatched', 'in_progress')) AS sent,
           EXISTS (SELECT 1 FROM incident_history h WHERE h.incident_id = i.id
                   AND h.to_status = 'escalated' AND h.action IN ('transition', 'escalated')) AS went_up
    FROM incidents i WHERE {where} AND created_at >= %(start)s AND created_at < %(end)s)
"""


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture(scope="module")
def app(db: Database, clock: ManualClock) -> Iterator[TestClient]:
    application = create_app(db=db, clock=clock, incident_settings=IncidentSettings(escalation_enabled=False))
    with TestClient(application, raise_server_exceptions=False) as client:
        load_hierarchy(client, auth_headers(db, "planner"))
        yield client


@pytest.fixture(scope="module")
def headers(db: Database) -> dict[str, str]:
    return auth_headers(db, "dispatcher")


@pytest.fixture(scope="module")
def played(app: TestClient, headers: dict, clock: ManualClock) -> TestClient:
    """The app after twenty days of incidents moved along the loop (every test of the module counts on a
    history; those that add to it add on top, so that each test holds whichever runs first or alone)."""
    _play(app, headers, clock, seed=15, days=20)
    return app


def _move(client: TestClient, headers: dict, incident_id: int, to: str) -> int:
    note = None if to in ("filed", "dispatched", "in_progress", "resolved", "verified") else "测试"
    return client.post(
        f"/api/incidents/{incident_id}/transition", json={"to": to, "note": note}, headers=headers
    ).status_code


def _play(client: TestClient, headers: dict, clock: ManualClock, seed: int, days: int) -> list[int]:
    """File incidents for ``days`` days from the clock's now, moving each a random way along the loop."""
    rng = random.Random(seed)
    made: list[int] = []
    ctx = client.app.state.incident_context
    for _ in range(days):
        for _ in range(rng.randint(2, 5)):
            lon, lat = rng.choice(POINTS)
            body = {"lon": lon, "lat": lat, "category": rng.choice(CATEGORIES), "description": "测试"}
            response = client.post("/api/incidents", json=body, headers=headers)
            assert response.status_code == 201, response.text
            incident_id = response.json()["id"]
            made.append(incident_id)
            fate = rng.random()
            if fate < 0.08:
                assert _move(client, headers, incident_id, "rejected") == 200
                continue
            if fate < 0.14 and len(made) > 3:
                into = rng.choice(made[:-1])
                client.post(
                    f"/api/incidents/{incident_id}/merge",
                    json={"into": into, "note": "并案"},
                    headers=headers,
                )  # a finished or merged target refuses: fine
                continue
            for step in ("filed", "dispatched", "in_progress", "resolved", "verified")[: rng.randint(0, 5)]:
                clock.advance(minutes=rng.randint(5, 300))
                if rng.random() < 0.07 and step in ("dispatched", "in_progress"):
                    _move(client, headers, incident_id, "escalated")
                    break
                if _move(client, headers, incident_id, step) != 200:
                    break
            if rng.random() < 0.5:
                client.post(
                    f"/api/incidents/{incident_id}/feedback",
                    headers=headers,
                    json={"reached": True, "satisfaction": rng.choice(["satisfied", "unsatisfied"])},
                )
        clock.advance(hours=rng.randint(10, 30))
        sweep(ctx)  # the escalation job, on the injected clock
    return made


def _independent(
    db: Database, level: str, code: str, since: date, until: date, now: datetime
) -> dict[str, Any]:
    """The dashboard's figures counted straight from incidents and their history, by hand."""
    start = datetime.combine(since, datetime.min.time(), SHANGHAI)
    end = datetime.combine(until, datetime.min.time(), SHANGHAI)
    column = LEVEL_COLUMN[level]
    with db.cursor() as cur:
        cur.execute(
            _MINE.format(where=f"{column} = %(code)s")
            + """
                SELECT count(*) AS reported,
                       count(*) FILTER (WHERE is_case AND status <> 'reported') AS accepted,
                       count(*) FILTER (WHERE is_case AND sent) AS transferred,
                       count(*) FILTER (WHERE is_case AND done) AS completed,
                       count(*) FILTER (WHERE is_case AND done AND NOT missed_deadline) AS on_time,
                       count(*) FILTER (WHERE is_case AND (done OR missed_deadline OR (open AND due_at < %(now)s)))
                           AS on_time_due,
                       count(*) FILTER (WHERE is_case AND open AND due_at < %(now)s) AS overdue,
                       count(*) FILTER (WHERE is_case AND went_up) AS escalated,
                       count(*) FILTER (WHERE is_case AND done AND settled_level = 'grid') AS settled_grid,
                       count(*) FILTER (WHERE is_case AND done AND settled_level = 'street') AS settled_street
                FROM mine""",
            {"code": code, "start": start, "end": end, "now": now},
        )
        totals = dict(cur.fetchone())
        cur.execute(
            f"""SELECT date_trunc('week', (created_at AT TIME ZONE 'Asia/Shanghai'))::date AS week, count(*) AS n
                FROM incidents WHERE {column} = %(code)s AND created_at >= %(start)s AND created_at < %(end)s
                GROUP BY 1""",
            {"code": code, "start": start, "end": end},
        )
        weeks = {row["week"].isoformat(): row["n"] for row in cur.fetchall()}
        cur.execute(
            f"""SELECT grid_code, count(*) AS n FROM incidents
                WHERE {column} = %(code)s AND grid_code IS NOT NULL AND created_at >= %(start)s AND created_at < %(end)s
                GROUP BY 1""",
            {"code": code, "start": start, "end": end},
        )
        grids = {row["grid_code"]: row["n"] for row in cur.fetchall()}
    return {"totals": totals, "weeks": weeks, "grids": grids}


def _check(
    client: TestClient, headers: dict, db: Database, clock: ManualClock, level: str, code: str
) -> dict:
    response = client.get(
        "/api/stats/dashboard", params={"level": level, "code": code, **PERIOD}, headers=headers
    )
    assert response.status_code == 200, response.text
    got = response.json()
    want = _independent(
        db, level, code, date.fromisoformat(PERIOD["since"]), date.fromisoformat(PERIOD["until"]), clock.now
    )
    summary, totals = got["summary"], want["totals"]
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
        assert summary[key] == totals[key], (level, code, key, summary[key], totals[key])
    assert got["settled"]["counts"]["grid"] == totals["settled_grid"]
    assert got["settled"]["counts"]["street"] == totals["settled_street"]
    assert {w["week"]: w["reported"] for w in got["weeks"] if w["reported"]} == want["weeks"]
    assert {g["code"]: g["reported"] for g in got["grids"] if g["reported"]} == want["grids"]
    assert got["overdue"]["total"] == totals["overdue"]
    assert len(got["overdue"]["cases"]) == min(totals["overdue"], 100)
    return got


def test_figures_equal_an_independent_count_and_follow_writes(
    played: TestClient, headers: dict, db: Database, clock: ManualClock
) -> None:
    app = played
    first = _check(app, headers, db, clock, "district", DISTRICT)
    summary = first["summary"]
    # the data has every kind of case the figures tell apart
    assert summary["reported"] > summary["accepted"] > summary["completed"] > summary["on_time"] > 0
    assert summary["escalated"] > 0 and summary["overdue"] > 0 and first["settled"]["counts"]["grid"] > 0
    assert summary["transferred"] >= summary["completed"]
    for level, code in (
        ("street", STREET_W),
        ("community", COMMUNITY_SW),
        ("grid", GRID_1),
        ("grid", GRID_4),
    ):
        _check(app, headers, db, clock, level, code)
    # the same five weeks, Monday to Monday, and a row for every grid of the area (zeros included)
    assert [w["week"] for w in first["weeks"]] == [
        (date(2026, 3, 2) + timedelta(weeks=k)).isoformat() for k in range(5)
    ]
    assert {g["code"] for g in first["grids"]} == {GRID_1, GRID_2, GRID_4, "110101001002001"}
    assert [a["code"] for a in first["areas"]] == [STREET_W, "110101002"]
    # later writes (more days, the sweep, callbacks) show at once: the aggregate follows them
    _play(app, headers, clock, seed=16, days=8)
    second = _check(app, headers, db, clock, "district", DISTRICT)
    assert second["summary"]["reported"] > summary["reported"]
    # the rates of the same area and window say the same about on time and where cases were settled
    rates = app.get(
        "/api/stats/rates",
        params={
            "level": "district",
            "code": DISTRICT,
            "since": "2026-03-02T00:00:00+08:00",
            "until": "2026-04-06T00:00:00+08:00",
        },
    ).json()
    assert rates["totals"]["on_time_rate"] == second["summary"]["on_time_rate"]
    assert rates["totals"]["settled_at"] == second["settled"]["counts"]
    assert rates["totals"]["counts"]["resolved"] == second["summary"]["completed"]


CHILD_OF = {"district": "street", "street": "community", "community": "grid"}
CHILD_COUNTS = (
    "reported",
    "accepted",
    "transferred",
    "completed",
    "on_time",
    "on_time_due",
    "overdue",
    "escalated",
    "settled_grid",
    "settled_community",
    "settled_street",
    "settled_district",
)


def _independent_children(
    db: Database, level: str, code: str, since: date, until: date, now: datetime
) -> dict[str, dict[str, Any]]:
    """Each child area's figures counted straight from incidents and their history, grouped by the child's
    code on the incident (its snapshot at intake)."""
    start = datetime.combine(since, datetime.min.time(), SHANGHAI)
    end = datetime.combine(until, datetime.min.time(), SHANGHAI)
    column, child = LEVEL_COLUMN[level], LEVEL_COLUMN[CHILD_OF[level]]
    with db.cursor() as cur:
        cur.execute(
            _MINE.format(where=f"{column} = %(code)s AND {child} IS NOT NULL")
            + f"""
                SELECT {child} AS child, count(*) AS reported,
                       count(*) FILTER (WHERE is_case AND status <> 'reported') AS accepted,
                       count(*) FILTER (WHERE is_case AND sent) AS transferred,
                       count(*) FILTER (WHERE is_case AND done) AS completed,
                       count(*) FILTER (WHERE is_case AND done AND NOT missed_deadline) AS on_time,
                       count(*) FILTER (WHERE is_case AND (done OR missed_deadline OR (open AND due_at < %(now)s)))
                           AS on_time_due,
                       count(*) FILTER (WHERE is_case AND open AND due_at < %(now)s) AS overdue,
                       count(*) FILTER (WHERE is_case AND went_up) AS escalated,
                       count(*) FILTER (WHERE is_case AND done AND settled_level = 'grid') AS settled_grid,
                       count(*) FILTER (WHERE is_case AND done AND settled_level = 'community')
                           AS settled_community,
                       count(*) FILTER (WHERE is_case AND done AND settled_level = 'street') AS settled_street,
                       count(*) FILTER (WHERE is_case AND done AND settled_level = 'district') AS settled_district
                FROM mine GROUP BY {child}""",
            {"code": code, "start": start, "end": end, "now": now},
        )
        return {row["child"]: dict(row) for row in cur.fetchall()}


@pytest.mark.parametrize(
    ("level", "code"), [("district", DISTRICT), ("street", STREET_W), ("community", COMMUNITY_SW)]
)
def test_child_areas_equal_an_independent_count(
    played: TestClient, headers: dict, db: Database, clock: ManualClock, level: str, code: str
) -> None:
    """Each street of the district, community of the street and grid of the community: the loop's counts,
    the on-time rate and the share settled at each level, in the JSON and in the CSV download."""
    app = played
    if level == "district":  # more days on the injected clock: open cases past due now, escalations
        _play(app, headers, clock, seed=17, days=6)
    params = {"level": level, "code": code, **PERIOD}
    got = app.get("/api/stats/dashboard", params=params, headers=headers).json()
    want = _independent_children(
        db, level, code, date.fromisoformat(PERIOD["since"]), date.fromisoformat(PERIOD["until"]), clock.now
    )
    with db.cursor() as cur:
        cur.execute(
            "SELECT code FROM areas WHERE parent_code = %s AND valid_to IS NULL ORDER BY code", (code,)
        )
        children = [row["code"] for row in cur.fetchall()]
    assert [a["code"] for a in got["areas"]] == children
    assert {a["level"] for a in got["areas"]} == {CHILD_OF[level]}
    zero = dict.fromkeys(CHILD_COUNTS, 0)
    for area in got["areas"]:
        counts = want.get(area["code"], zero)
        assert {k: area[k] for k in CHILD_COUNTS} == {k: counts[k] for k in CHILD_COUNTS}, area["code"]
        due = counts["on_time_due"]
        assert area["on_time_rate"] == (round(counts["on_time"] / due, 4) if due else None)
        total = sum(counts[f"settled_{lv}"] for lv in ("grid", "community", "street", "district"))
        assert area["settled_total"] == total
        for lv in ("grid", "community", "street", "district"):
            share = round(counts[f"settled_{lv}"] / total, 4) if total else None
            assert area[f"settled_{lv}_share"] == share, (area["code"], lv)
    # /openapi.json documents every field a child area carries
    schema = app.get("/openapi.json").json()["components"]["schemas"]["ChildArea"]
    assert set(got["areas"][0]) == set(schema["properties"])
    assert set(schema["required"]) == set(schema["properties"])
    # the data tells the areas apart: some completed and past due, some settled above the grid
    assert any(a["completed"] for a in got["areas"])
    if level == "district":
        assert sum(a["overdue"] for a in got["areas"]) > 0
        assert any(a["on_time_rate"] is not None and a["on_time_rate"] < 1 for a in got["areas"])
        assert sum(a["settled_street"] + a["settled_community"] for a in got["areas"]) > 0
    # the CSV of the child areas says the same
    response = app.get(
        "/api/stats/dashboard/export", params={**params, "format": "csv", "section": "areas"}, headers=headers
    )
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r["编码"] for r in rows] == children
    for row, area in zip(rows, got["areas"], strict=True):
        assert int(row["上报"]) == area["reported"] and int(row["超期未办结"]) == area["overdue"]
        assert row["按时办结率"] == ("" if area["on_time_rate"] is None else str(area["on_time_rate"]))
        for lv, header in (
            ("grid", "网格内办结占比"),
            ("street", "街道办结占比"),
            ("district", "区级办结占比"),
        ):
            share = area[f"settled_{lv}_share"]
            assert row[header] == ("" if share is None else str(share)), (lv, header)


def test_a_recount_in_another_zone_comes_back(played: TestClient, headers: dict, db: Database) -> None:
    app = played
    params = {"level": "district", "code": DISTRICT, **PERIOD}
    before = app.get("/api/stats/dashboard", params=params, headers=headers).json()
    assert before["summary"]["reported"] > 0  # a recount of something
    with db.cursor() as cur:
        store.rebuild_daily(cur, "UTC")  # as if the service had run in another zone
    after = app.get("/api/stats/dashboard", params=params, headers=headers).json()
    with db.cursor() as cur:
        assert store.daily_zone(cur) == "Asia/Shanghai"
    assert after == before


def test_downloads(played: TestClient, headers: dict) -> None:
    app = played
    params = {"level": "district", "code": DISTRICT, **PERIOD}
    report = app.get("/api/stats/dashboard", params=params, headers=headers).json()
    weeks = app.get(
        "/api/stats/dashboard/export", params={**params, "format": "csv", "section": "weeks"}, headers=headers
    )
    assert weeks.status_code == 200 and weeks.headers["content-type"].startswith("text/csv")
    assert "attachment" in weeks.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(weeks.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["周（周一）", "上报", "受理"]
    assert [[r[0], int(r[1])] for r in rows[1:]] == [[w["week"], w["reported"]] for w in report["weeks"]]
    english = app.get(
        "/api/stats/dashboard/export",
        params={**params, "format": "csv"},
        headers={**headers, "Accept-Language": "en"},
    )
    summary = dict(csv.reader(io.StringIO(english.content.decode("utf-8-sig"))))
    assert int(summary["reported"]) == report["summary"]["reported"]
    assert int(summary["completed on time"]) == report["summary"]["on_time"]
    book = app.get("/api/stats/dashboard/export", params={**params, "format": "xlsx"}, headers=headers)
    assert book.status_code == 200 and "spreadsheetml" in book.headers["content-type"]
    workbook = load_workbook(io.BytesIO(book.content))
    assert workbook.sheetnames == [
        "总览",
        "办结层级",
        "每周趋势",
        "网格",
        "下级区域",
        "超期事件",
        "上报事件",
        "人员与驿站",
    ]
    grids = {r[0]: r[2] for r in workbook["网格"].iter_rows(min_row=2, values_only=True)}
    assert grids == {g["code"]: g["reported"] for g in report["grids"]}


def test_who_may_read(app: TestClient, db: Database) -> None:
    params = {"level": "district", "code": DISTRICT, **PERIOD}
    for path in ("/api/stats/dashboard", "/api/stats/dashboard/export", "/api/stats/dashboard/areas"):
        assert app.get(path, params=params).status_code == 401
        assert app.get(path, params=params, headers=auth_headers(db, "planner")).status_code == 403
        assert app.get(path, params=params, headers=auth_headers(db, "admin")).status_code == 200


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"level": "city", "code": DISTRICT}, 422, "dashboard.level"),
        ({"level": "street", "code": DISTRICT}, 404, "dashboard.unknown_area"),
        ({"level": "district", "code": "999999"}, 404, "dashboard.unknown_area"),
        (
            {"level": "district", "code": DISTRICT, "since": "2026-04-01", "until": "2026-03-01"},
            422,
            "dashboard.period",
        ),
        (
            {"level": "district", "code": DISTRICT, "since": "2010-01-01", "until": "2026-03-01"},
            422,
            "dashboard.period_too_long",
        ),
        (
            {"level": "district", "code": DISTRICT, "since": "0001-01-01", "until": "0001-02-01"},
            422,
            "dashboard.period_years",
        ),
        ({"level": "district", "code": DISTRICT, "since": "yesterday"}, 422, None),
        ({"level": "district"}, 422, None),
        ({"level": "district", "code": DISTRICT, "format": "pdf"}, 422, "dashboard.format"),
        (
            {"level": "district", "code": DISTRICT, "format": "csv", "section": "secrets"},
            422,
            "dashboard.section",
        ),
    ],
)
def test_bad_input(
    app: TestClient, headers: dict, db: Database, params: dict, status: int, code: str | None
) -> None:
    path = "/api/stats/dashboard/export" if "format" in params else "/api/stats/dashboard"
    with db.cursor() as cur:
        cur.execute("SELECT count(*) AS n, coalesce(sum(incidents), 0) AS s FROM incident_daily")
        before = cur.fetchone()
    response = app.get(path, params=params, headers=headers)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["message"] and (code is None or body["code"] == code)
    if code and code.startswith("dashboard.") and status == 422:
        assert not any("a" <= ch <= "z" for ch in body["message"].replace(DISTRICT, "")) or code in (
            "dashboard.level",
            "dashboard.format",
            "dashboard.section",
        )  # zh-CN words (only the echoed value is Latin)
    with db.cursor() as cur:
        cur.execute("SELECT count(*) AS n, coalesce(sum(incidents), 0) AS s FROM incident_daily")
        assert cur.fetchone() == before
