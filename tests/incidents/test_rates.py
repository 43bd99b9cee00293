"""The three rates (响应率, 解决率, 满意率), 按时办结率 and where cases were settled, checked against an
independent count: a year of incidents is generated through the real service functions (intake, the loop's
moves, merges, callbacks, the escalation sweep) on a ManualClock, then every figure of
``GET /api/stats/rates`` is recomputed here in SQL from the incidents' **history** alone (not from the columns
the service keeps for itself) and the category file, and the two must agree exactly."""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.auth import Principal
from geo_service.clock import ManualClock
from geo_service.db.pool import Database
from geo_service.errors import ServiceError
from geo_service.incidents import callback, merge, workflow
from geo_service.incidents.context import IncidentContext
from geo_service.incidents.escalation import sweep
from geo_service.incidents.intake import IncidentInput, create_incident
from geo_service.incidents.rates import LEVELS
from geo_service.settings import IncidentSettings
from tests.incidents.areas import COMMUNITY_SW, DISTRICT, GRID_1, STREET_W

pytestmark = pytest.mark.usefixtures("areas")
ZONE = ZoneInfo("Asia/Shanghai")
YEAR = datetime(2025, 1, 1, tzinfo=ZONE)
END = YEAR + timedelta(days=365)
INCIDENTS = 200
# categories with short and long deadlines and response times, events and components
CATEGORIES = (
    "E0102",
    "E0103",
    "E0301",
    "E0403",
    "E0501",
    "E0505",
    "E0601",
    "C0101",
    "C0105",
    "C0401",
    "E0101",
)
# where reports come from: inside the district's grids, the community without a grid and the street without
# a community (属地兜底: owned by the community or the street from the start)
BOXES = [
    ((24.931, 60.161, 24.937, 60.170), 6),
    ((24.938, 60.161, 24.944, 60.170), 6),
    ((24.931, 60.172, 24.944, 60.181), 5),
    ((24.946, 60.161, 24.952, 60.174), 5),
    ((24.9535, 60.161, 24.959, 60.174), 1),
    ((24.946, 60.176, 24.959, 60.181), 1),
]
DISPATCHER = Principal(1, "dispatcher", "rates-dispatcher")


class Year:
    """A year of 12345 traffic in event order: intake, then each case's next step after a random delay."""

    def __init__(self, ctx: IncidentContext, clock: ManualClock, seed: int = 2025) -> None:
        self.ctx, self.clock, self.rng = ctx, clock, random.Random(seed)
        self.queue: list[tuple[datetime, int, Callable[[], None]]] = []
        self.seq = itertools.count()
        self.plan: dict[int, dict[str, Any]] = {}

    def at(self, moment: datetime, action: Callable[[], None]) -> None:
        if moment < END:  # what would happen after the year's end does not (some cases stay open)
            heapq.heappush(self.queue, (moment, next(self.seq), action))

    def later(self, hours: float, action: Callable[[], None]) -> None:
        self.at(self.clock.now + timedelta(hours=hours), action)

    def point(self) -> tuple[float, float]:
        (west, south, east, north), _ = self.rng.choices(BOXES, weights=[w for _, w in BOXES])[0]
        return self.rng.uniform(west, east), self.rng.uniform(south, north)

    def run(self) -> None:
        for k in range(INCIDENTS):
            self.at(YEAR + timedelta(days=365 * k / INCIDENTS, minutes=self.rng.uniform(0, 200)), self.intake)
        for hour in range(0, 365 * 24, 8):  # the escalation sweep, three times a day
            self.at(YEAR + timedelta(hours=hour, minutes=1), lambda: sweep(self.ctx))
        while self.queue:
            moment, _, action = heapq.heappop(self.queue)
            self.clock.now = max(self.clock.now, moment)
            action()

    def intake(self) -> None:
        rng = self.rng
        lon, lat = self.point()
        # now and then a second caller reports the same event nearby, an hour or two later
        data = IncidentInput(
            category=rng.choice(CATEGORIES), description="year", lon=lon, lat=lat, reporter={"phone": "000"}
        )
        result = create_incident(
            self.ctx,
            data,
            DISPATCHER.actor,
            DISPATCHER.role,
            source=rng.choice(("hotline", "hotline", "patrol", "open311")),
        )
        incident_id = result.incident["id"]
        self.plan[incident_id] = {
            "row": result.incident,
            "pace": rng.choice((0.3, 1.0, 1.0, 3.0, 8.0)),  # how fast its owner works (hours per step)
            "stop_after": rng.random() < 0.1,  # left unfinished at some point
        }
        if result.duplicates and rng.random() < 0.4:
            into = result.duplicates[0].id
            self.later(rng.uniform(0.1, 2), lambda: self.merge(incident_id, into))
            return
        if rng.random() < 0.15:  # a second caller for the same place
            self.later(rng.uniform(0.2, 3), lambda: self.repeat(data))
        self.later(rng.uniform(0.05, 1.5), lambda: self.step(incident_id))

    def repeat(self, data: IncidentInput) -> None:
        again = IncidentInput(
            category=data.category,
            description="again",
            lon=data.lon + 0.0003,
            lat=data.lat + 0.0002,
            reporter={"phone": "001"},
        )
        result = create_incident(self.ctx, again, DISPATCHER.actor, DISPATCHER.role)
        incident_id = result.incident["id"]
        self.plan[incident_id] = {"row": result.incident, "pace": 1.0, "stop_after": False}
        if result.duplicates and self.rng.random() < 0.8:
            into = result.duplicates[0].id
            self.later(self.rng.uniform(0.1, 1), lambda: self.merge(incident_id, into))
        else:
            self.later(0.5, lambda: self.step(incident_id))

    def merge(self, incident_id: int, into: int) -> None:
        try:
            self.plan[incident_id]["row"] = merge.merge(self.ctx, incident_id, into, "同一事件", DISPATCHER)
        except ServiceError:  # the case went on (merged elsewhere, rejected): handle this one on its own
            self.later(0.2, lambda: self.step(incident_id))
            return
        self.later(1, lambda: self.step(incident_id))  # its callback, when its case is resolved

    def move(self, incident_id: int, to: str, note: str | None = None) -> None:
        self.plan[incident_id]["row"] = workflow.transition(self.ctx, incident_id, to, note, DISPATCHER)

    def step(self, incident_id: int) -> None:
        """The next move of an incident from the state it was left in; when the sweep moved it meanwhile (the
        move is refused), from the state it is in now."""
        try:
            self._step(incident_id)
        except ServiceError:
            self.plan[incident_id]["row"] = workflow.get_incident(self.ctx, incident_id)
            self._step(incident_id)

    def _step(self, incident_id: int) -> None:
        rng, plan = self.rng, self.plan[incident_id]
        row = plan["row"]
        status, pace = row["status"], plan["pace"]
        if row["merged_into"] is not None:
            row = plan["row"] = workflow.get_incident(self.ctx, incident_id)  # it follows its case
            status = row["status"]
            if status in ("resolved", "verified"):
                self.callback(incident_id)
            if status not in ("closed", "rejected"):
                self.later(12, lambda: self.step(incident_id))
            return
        if plan["stop_after"] and rng.random() < 0.3:
            return
        if status == "reported":
            if rng.random() < 0.05:
                self.move(incident_id, "rejected", "不属于受理范围")
                return
            self.move(incident_id, "filed")
        elif status in ("filed", "escalated"):
            if status == "filed" and rng.random() < 0.03:
                self.move(incident_id, "escalated", "需要上级协调")
            else:
                self.move(incident_id, "dispatched")
        elif status == "dispatched":
            self.move(incident_id, "in_progress")
        elif status == "in_progress":
            self.move(incident_id, "resolved")
        elif status in ("resolved", "verified"):
            if status == "resolved" and rng.random() < 0.2:
                self.move(incident_id, "verified")
            else:
                self.callback(incident_id)
        else:
            return  # closed or rejected: done
        self.later(rng.expovariate(1 / pace), lambda: self.step(incident_id))

    def callback(self, incident_id: int) -> None:
        rng = self.rng
        reached = rng.random() < 0.8
        satisfaction = (
            rng.choices(("satisfied", "basically_satisfied", "unsatisfied"), (6, 3, 1))[0]
            if reached
            else None
        )
        done = callback.record_feedback(
            self.ctx, incident_id, reached=reached, satisfaction=satisfaction, note=None, principal=DISPATCHER
        )
        self.plan[incident_id]["row"] = done["incident"]


@pytest.fixture(scope="module")
def year(db: Database) -> Iterator[tuple[TestClient, ManualClock]]:
    clock = ManualClock(YEAR)
    settings = IncidentSettings(escalation_enabled=False)
    # this throwaway copy need not wait for the disk on every commit (thousands of small transactions): the
    # generator's own connections say so (a session setting; the test role does not own the database)
    fast = Database(f"{db.dsn} options='-c synchronous_commit=off'", max_size=2)
    try:
        Year(IncidentContext.create(fast, settings, clock=clock), clock).run()
    finally:
        fast.close()
    clock.now = YEAR + timedelta(days=370)
    with TestClient(create_app(db=db, clock=clock, incident_settings=settings)) as client:
        yield client, clock


# -- the independent count -----------------------------------------------------------------------------------

INDEPENDENT = """
WITH cat (code, response_h, grid_h, community_h, street_h, district_h) AS (SELECT * FROM unnest(
        %(codes)s::text[], %(response)s::float8[], %(grid)s::float8[], %(community)s::float8[],
        %(street)s::float8[], %(district)s::float8[])),
inc AS (
    SELECT i.id, i.category, i.created_at, {column} AS code FROM incidents i
    WHERE {column} IS NOT NULL AND i.created_at >= %(since)s AND i.created_at < %(until)s
      AND (%(code)s::text IS NULL OR {column} = %(code)s)),
h AS (SELECT e.* FROM incident_history e JOIN inc ON inc.id = e.incident_id),
state AS (  -- the state now: where the last step left it
    SELECT DISTINCT ON (incident_id) incident_id, to_status AS status FROM h
    WHERE to_status IS NOT NULL ORDER BY incident_id, at DESC, id DESC),
-- every entry that set a deadline, and the deadline it set (intake: the category's hours for the level that took it)
deadlines AS (
    SELECT h.incident_id, h.id, h.at,
           CASE WHEN h.action = 'created' THEN inc.created_at + make_interval(secs => 3600 *
                    CASE h.detail ->> 'owner_level' WHEN 'grid' THEN c.grid_h WHEN 'community' THEN c.community_h
                                                    WHEN 'street' THEN c.street_h ELSE c.district_h END)
                ELSE (h.detail ->> 'due_at')::timestamptz END AS due
    FROM h JOIN inc ON inc.id = h.incident_id JOIN cat c ON c.code = inc.category
    WHERE h.action = 'created' OR (h.detail ? 'due_at' AND h.detail ->> 'due_at' IS NOT NULL)),
-- the steps at which a deadline can be seen missed: escalations, top-level misses, resolutions
judged AS (
    SELECT h.incident_id, h.at,
           (SELECT d.due FROM deadlines d WHERE d.incident_id = h.incident_id AND d.id < h.id
            ORDER BY d.id DESC LIMIT 1) AS due
    FROM h WHERE h.action IN ('escalated', 'overdue') OR (h.action = 'transition' AND h.to_status = 'resolved')),
owners AS (  -- who owned it after each step that moves ownership
    SELECT incident_id, id, CASE action WHEN 'created' THEN detail ->> 'owner_level'
                                        WHEN 'escalated' THEN detail ->> 'to_level' ELSE 'grid' END AS level
    FROM h WHERE action IN ('created', 'escalated', 'reassigned')),
last_resolution AS (
    SELECT DISTINCT ON (incident_id) incident_id, id FROM h
    WHERE action = 'transition' AND to_status = 'resolved' ORDER BY incident_id, id DESC),
facts AS (
    SELECT inc.id, inc.code, s.status,
           NOT EXISTS (SELECT 1 FROM h WHERE h.incident_id = inc.id AND h.action = 'merged')
               AND s.status <> 'rejected' AS is_case,
           (SELECT min(at) FROM h WHERE h.incident_id = inc.id AND h.action = 'transition'
                                    AND h.to_status = 'in_progress') AS responded,
           inc.created_at + make_interval(secs => 3600 * c.response_h) AS response_due,
           s.status IN ('resolved', 'verified', 'closed') AS resolved,
           EXISTS (SELECT 1 FROM judged j WHERE j.incident_id = inc.id AND j.at > j.due) AS missed,
           (SELECT d.due FROM deadlines d WHERE d.incident_id = inc.id ORDER BY d.id DESC LIMIT 1) AS due_now,
           (SELECT o.level FROM owners o JOIN last_resolution r USING (incident_id)
            WHERE o.incident_id = inc.id AND o.id < r.id ORDER BY o.id DESC LIMIT 1) AS settled
    FROM inc JOIN state s ON s.incident_id = inc.id JOIN cat c ON c.code = inc.category),
calls AS (
    SELECT inc.code, h.detail FROM h JOIN inc ON inc.id = h.incident_id WHERE h.action = 'feedback')
SELECT f.code,
       count(*) FILTER (WHERE is_case) AS cases,
       count(*) FILTER (WHERE is_case AND (responded IS NOT NULL OR response_due < %(now)s)) AS response_due,
       count(*) FILTER (WHERE is_case AND responded <= response_due) AS responded_in_time,
       count(*) FILTER (WHERE is_case AND resolved) AS resolved,
       count(*) FILTER (WHERE is_case AND (resolved OR missed OR due_now < %(now)s)) AS on_time_due,
       count(*) FILTER (WHERE is_case AND resolved AND NOT missed) AS on_time,
       jsonb_build_object(
           'grid', count(*) FILTER (WHERE is_case AND resolved AND settled = 'grid'),
           'community', count(*) FILTER (WHERE is_case AND resolved AND settled = 'community'),
           'street', count(*) FILTER (WHERE is_case AND resolved AND settled = 'street'),
           'district', count(*) FILTER (WHERE is_case AND resolved AND settled = 'district')) AS settled_at,
       (SELECT count(*) FROM calls WHERE calls.code = f.code AND calls.detail ->> 'satisfaction' IN
            ('satisfied', 'basically_satisfied')) AS pleased,
       (SELECT count(*) FROM calls WHERE calls.code = f.code AND (calls.detail ->> 'reached')::boolean) AS reached
FROM facts f GROUP BY f.code ORDER BY f.code
"""
COLUMNS = {
    "grid": "grid_code",
    "community": "community_code",
    "street": "street_code",
    "district": "district_code",
}


def independent(
    db: Database,
    ctx: IncidentContext,
    level: str,
    since: datetime,
    until: datetime,
    now: datetime,
    code: str | None = None,
) -> dict[str, dict[str, Any]]:
    cats = list(ctx.classification)
    params = {
        "codes": [c.code for c in cats],
        "response": [c.response_hours for c in cats],
        **{lv: [c.deadline_hours[lv] for c in cats] for lv in LEVELS},
        "since": since,
        "until": until,
        "now": now,
        "code": code,
    }
    with db.cursor() as cur:
        cur.execute(INDEPENDENT.format(column=COLUMNS[level]), params)
        rows = cur.fetchall()

    def rate(a: int, b: int) -> float | None:
        return round(a / b, 4) if b else None

    return {
        row["code"]: {
            "response_rate": rate(row["responded_in_time"], row["response_due"]),
            "resolution_rate": rate(row["resolved"], row["cases"]),
            "satisfaction_rate": rate(row["pleased"], row["reached"]),
            "on_time_rate": rate(row["on_time"], row["on_time_due"]),
            "settled_at": dict(row["settled_at"]),
            "cases": row["cases"],
        }
        for row in rows
    }


def _served(client: TestClient, **query: str) -> dict[str, dict[str, Any]]:
    response = client.get("/api/stats/rates", params=query)
    assert response.status_code == 200, response.text
    return {
        a["code"]: {
            key: a[key]
            for key in ("response_rate", "resolution_rate", "satisfaction_rate", "on_time_rate", "settled_at")
        }
        | {"cases": a["counts"]["cases"]}
        for a in response.json()["areas"]
    }


@pytest.mark.parametrize("level", LEVELS)
def test_the_rates_equal_an_independent_count_over_a_year(year, db: Database, level: str) -> None:
    client, clock = year
    ctx = IncidentContext.create(db, clock=clock)
    since, until = YEAR, YEAR.replace(year=2026)
    served = _served(client, level=level, since=since.isoformat(), until=until.isoformat())
    assert served == independent(db, ctx, level, since, until, clock.now)
    totals = sum(a["cases"] for a in served.values())
    assert totals > INCIDENTS * 0.7  # most incidents: all but the duplicates and rejections
    every = [
        a[k]
        for a in served.values()
        for k in ("response_rate", "resolution_rate", "satisfaction_rate", "on_time_rate")
    ]
    assert all(v is not None and 0 < v < 1 for v in every)  # a year with some of everything, nothing trivial


def test_a_quarter_and_one_area(year, db: Database) -> None:
    client, clock = year
    ctx = IncidentContext.create(db, clock=clock)
    since, until = datetime(2025, 4, 1, tzinfo=ZONE), datetime(2025, 7, 1, tzinfo=ZONE)
    for level, code in (
        ("grid", GRID_1),
        ("community", COMMUNITY_SW),
        ("street", STREET_W),
        ("district", DISTRICT),
    ):
        served = _served(
            client, level=level, code=code, since="2025-04-01T00:00:00", until="2025-07-01T00:00:00"
        )
        assert list(served) == [code]
        assert served == independent(db, ctx, level, since, until, clock.now, code)


def test_the_year_has_what_the_rates_are_about(year, db: Database) -> None:
    """Small matters settled in the grid, bigger ones above; merged duplicates called back; failed callbacks."""
    client, _ = year
    body = client.get("/api/stats/rates", params={"level": "district"}).json()
    total = body["totals"]
    settled = total["settled_at"]
    assert settled["grid"] > settled["community"] > 0 and settled["street"] > 0
    assert sum(settled.values()) == total["counts"]["resolved"]
    assert total["feedback"]["unsatisfied"] > 0 and total["feedback"]["failed_callbacks"] > 0
    merged = total["counts"]["incidents"] - total["counts"]["cases"] - total["counts"]["rejected"]
    assert merged > INCIDENTS * 0.03


def test_bad_queries(year) -> None:
    client, _ = year
    assert client.get("/api/stats/rates", params={"level": "province"}).status_code == 422
    unknown = client.get("/api/stats/rates", params={"level": "grid", "code": "nope"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "loop.rates_unknown_area"
    reversed_ = client.get("/api/stats/rates", params={"since": "2025-05-01", "until": "2025-04-01"})
    assert reversed_.status_code == 422 and reversed_.json()["code"] == "loop.rates_window"
