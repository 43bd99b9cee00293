"""The leaders' dashboard of the 12345 loop for one area (district, street, community or grid) and period.

Who counts: incidents filed on the local days [since, until) and assigned at intake to the area (their snapshot,
as in :mod:`geo_service.incidents.rates`, whose definitions these are):

- ``reported`` (上报) every incident; ``accepted`` (受理) cases past ``reported``; ``transferred`` (转办) cases
  sent to a handler at least once; ``completed`` (办结) cases resolved, verified or closed; ``on_time`` completed
  cases that never missed a deadline. A case is an incident neither rejected nor merged into another.
- ``on_time_rate`` = on_time ÷ (completed + open cases that missed a deadline or are past their current one now)
  — the rates' ``on_time_rate``; ``settled`` = completed cases by the level that owned them when resolved, with
  the grid's share against the 小事不出网格 target (``GEO_SERVICE_DASHBOARD_GRID_SETTLED_TARGET``).
- ``overdue`` = open cases past their deadline now; ``escalated`` = cases escalated at least once.
- ``areas``: one row per child area (the streets of a district, communities of a street, grids of a
  community), counted by the child's code on the incident: the loop's counts, ``on_time_due``,
  ``on_time_rate``, ``overdue``, and the completed cases settled at each level as ``settled_<level>`` counts
  and ``settled_<level>_share`` shares of ``settled_total``.
- ``staffing``: workers on record against ``workers_per_10k_residents`` (the grid settings' norm);
  ``coverage``: households within the stations' walking service circle of ``coverage_minutes``.

Counts that do not depend on the hour come from the daily aggregate the database keeps in step with every write
(migration 0990); those that do ("now") from the open cases. A rate whose denominator is 0 is ``null``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal, cast

from pydantic import Field
from typing_extensions import TypedDict  # pydantic documents DashboardAreas on Python 3.11

from geo_service.db.rows import DictCursor as Cursor
from geo_service.errors import InvalidInput, NotFound
from geo_service.grids import service as grids
from geo_service.incidents.context import IncidentContext
from geo_service.incidents.rates import LEVELS, SettledAt
from geo_service.incidents.rates import rate as _rate
from geo_service.settings import DashboardSettings, GridSettings
from geo_service.store import dashboard as store

EARLIEST_YEAR, LATEST_YEAR = 1900, 2999  # as for instants elsewhere (geo_service.api.params)
CHILD_LEVEL: dict[str, store.Level | None] = {
    "district": "street",
    "street": "community",
    "community": "grid",
    "grid": None,
}
FLOW = ("reported", "accepted", "transferred", "completed", "on_time")


class Flow(TypedDict):
    """The loop's counts: 上报, 受理, 转办, 办结, 按时办结 (:data:`FLOW`)."""

    reported: int
    accepted: int
    transferred: int
    completed: int
    on_time: int


class Summary(Flow):
    """Every count and rate of one row of sums (rates None when their denominator is 0)."""

    cases: int
    rejected: int
    escalated: int
    overdue: Annotated[int, Field(description="open cases past their deadline now")]
    on_time_due: int
    on_time_rate: float | None
    completion_rate: float | None
    settled: SettledAt


class SettledShares(TypedDict):
    grid: float | None
    community: float | None
    street: float | None
    district: float | None


class Settled(TypedDict):
    """Where completed cases were settled, against the 小事不出网格 target."""

    counts: SettledAt
    shares: SettledShares
    total: int
    grid_target: float
    grid_target_met: bool | None


class Week(Flow):
    week: Annotated[str, Field(description="the ISO week's Monday")]
    escalated: int


class GridFigures(Flow):
    code: str
    name: str | None
    workers: Annotated[int, Field(description="grid workers on record")]
    on_time_due: int
    on_time_rate: float | None
    overdue: int
    escalated: int


class ChildArea(Flow):
    """One child area (各街道/各社区/各网格) of the chosen area, with the same definitions as the summary."""

    level: store.Level
    code: str
    name: str | None
    escalated: int
    completion_rate: float | None
    settled_grid_share: Annotated[
        float | None, Field(description="settled_grid ÷ settled_total (小事不出网格)")
    ]
    on_time_due: Annotated[
        int,
        Field(
            description="completed cases + open cases that missed a deadline or are past their current one now"
        ),
    ]
    on_time_rate: Annotated[float | None, Field(description="on_time ÷ on_time_due")]
    overdue: Annotated[int, Field(description="open cases past their deadline now")]
    settled_total: Annotated[int, Field(description="completed cases with a known settling level")]
    settled_grid: int
    settled_community: int
    settled_street: int
    settled_district: int
    settled_community_share: float | None
    settled_street_share: float | None
    settled_district_share: float | None


class DashboardCase(TypedDict):
    id: int
    category: str
    status: str
    grid_code: str | None
    owner_level: str | None
    owner_code: str | None
    escalations: int
    created_at: str | None
    due_at: str | None
    hours_past_due: float | None


class OverdueCases(TypedDict):
    total: int
    cases: Annotated[
        list[DashboardCase], Field(description="at most the first GEO_SERVICE_DASHBOARD_LIST_LIMIT")
    ]


class EscalatedCases(OverdueCases):
    open: Annotated[int, Field(description="escalated cases still open")]


class Staffing(TypedDict):
    """Workers on record in the area and below it against the norm (workers per 10,000 residents)."""

    population: int
    population_source: Literal["record", "estimated"]
    households: int
    norm_per_10k: float
    need: int
    workers: int
    gap: int
    per_10k: float | None
    norm_met: bool


class Coverage(TypedDict):
    """Households within the stations' walking service circle of ``minutes``."""

    minutes: float
    stations: int
    residences: int
    residences_covered: int
    households: float
    households_covered: float
    households_share: float | None


class DashboardPeriod(TypedDict):
    since: Annotated[str, Field(description="first local day (ISO date)")]
    until: Annotated[str, Field(description="the day after the last")]
    days: int


class Dashboard(TypedDict):
    """Every figure of the dashboard of one area and period (the JSON of ``GET /api/stats/dashboard``)."""

    area: store.DashboardArea
    period: DashboardPeriod
    as_of: str | None
    summary: Summary
    settled: Settled
    weeks: list[Week]
    grids: list[GridFigures]
    incidents_elsewhere: Annotated[int, Field(description="of grids since retired, or outside every grid")]
    areas: Annotated[list[ChildArea], Field(description="the children of the area (none for a grid)")]
    overdue: OverdueCases
    escalated: EscalatedCases
    staffing: Staffing
    coverage: Coverage


@dataclass(frozen=True)
class Period:
    """Local calendar days [since, until) in the service's zone."""

    since: date
    until: date

    def bounds(self, ctx: IncidentContext) -> tuple[datetime, datetime]:
        """The period as instants: local midnight of ``since`` and of ``until``."""
        return (
            datetime.combine(self.since, time(), ctx.timezone),
            datetime.combine(self.until, time(), ctx.timezone),
        )


def default_period(ctx: IncidentContext, days: int = 365) -> Period:
    """The ``days`` local days up to and including today."""
    today = ctx.now().astimezone(ctx.timezone).date()
    return Period(today - timedelta(days=days - 1), today + timedelta(days=1))


def check_period(period: Period, settings: DashboardSettings) -> None:
    """
    Raises
    ------
    InvalidInput
        ``until`` not after ``since``, or longer than ``max_period_days``.
    """
    if not (period.since.year >= EARLIEST_YEAR and period.until.year <= LATEST_YEAR):
        raise InvalidInput("dashboard.period_years", earliest=EARLIEST_YEAR, latest=LATEST_YEAR)
    if period.until <= period.since:
        raise InvalidInput("dashboard.period", since=period.since.isoformat(), until=period.until.isoformat())
    days = (period.until - period.since).days
    if days > settings.max_period_days:
        raise InvalidInput("dashboard.period_too_long", days=days, max_days=settings.max_period_days)


@contextmanager
def _aggregate(ctx: IncidentContext) -> Iterator[Cursor]:
    """A cursor over an aggregate counted in the service's days (recounted once if the zone changed)."""
    zone = getattr(ctx.timezone, "key", str(ctx.timezone))
    with ctx.db.cursor() as cur:
        stale = store.daily_zone(cur) != zone
    if stale:
        with ctx.db.cursor() as cur:
            store.rebuild_daily(cur, zone)
    with ctx.db.cursor() as cur:
        yield cur


def _add(into: dict[str, dict[str, int]], key: str, row: Mapping[str, Any]) -> None:
    sums = into.setdefault(key, dict.fromkeys(store.DAILY_COUNTS, 0))
    for count in store.DAILY_COUNTS:
        sums[count] += int(row[count] or 0)


def _flow(row: Mapping[str, Any] | None, past_due: int = 0, overdue: int = 0) -> Summary:
    """The loop's counts and rates of one row of sums (None: nothing filed)."""
    get = (lambda key: int(row[key] or 0)) if row else (lambda key: 0)
    completed = get("resolved")
    on_time_due = completed + get("missed_open") + past_due
    return Summary(
        reported=get("incidents"),
        accepted=get("accepted"),
        transferred=get("transferred"),
        completed=completed,
        on_time=get("on_time"),
        cases=get("cases"),
        rejected=get("rejected"),
        escalated=get("escalated"),
        overdue=overdue,
        on_time_due=on_time_due,
        on_time_rate=_rate(get("on_time"), on_time_due),
        completion_rate=_rate(completed, get("cases")),
        settled=cast(SettledAt, {level: get(f"settled_{level}") for level in LEVELS}),  # LEVELS: its keys
    )


def _counts(flow: Summary) -> Flow:
    return Flow(
        reported=flow["reported"],
        accepted=flow["accepted"],
        transferred=flow["transferred"],
        completed=flow["completed"],
        on_time=flow["on_time"],
    )


def _settled(flow: Summary, target: float) -> Settled:
    counts = flow["settled"]
    total = sum(counts[level] for level in LEVELS)
    shares = cast(SettledShares, {level: _rate(counts[level], total) for level in LEVELS})
    grid_share = shares["grid"]
    return Settled(
        counts=counts,
        shares=shares,
        total=total,
        grid_target=target,
        grid_target_met=None if grid_share is None else grid_share >= target,
    )


def _weeks(period: Period, rows: Mapping[str, Mapping[str, Any]]) -> list[Week]:
    """Every ISO week (Monday) that meets the period, with zeros where nothing was filed."""
    monday = period.since - timedelta(days=period.since.weekday())
    weeks = []
    while monday < period.until:
        flow = _flow(rows.get(monday.isoformat()))
        weeks.append(Week(week=monday.isoformat(), **_counts(flow), escalated=flow["escalated"]))
        monday += timedelta(days=7)
    return weeks


def dashboard(
    ctx: IncidentContext,
    settings: DashboardSettings,
    grid_settings: GridSettings,
    level: str,
    code: str,
    period: Period,
) -> Dashboard:
    """Every figure of the dashboard of area ``code`` at ``level`` over ``period``.

    Raises
    ------
    InvalidInput
        Unknown level, or a bad period.
    NotFound
        ``code`` names no current area of that level.
    """
    if level not in LEVELS:
        raise InvalidInput("dashboard.level", level=repr(level), levels=list(LEVELS))
    check_period(period, settings)
    since, until = period.bounds(ctx)
    now = ctx.now()
    child_level = CHILD_LEVEL[level]
    with _aggregate(ctx) as cur:
        area = store.area(cur, code)
        if area is None or area["level"] != level:
            raise NotFound("dashboard.unknown_area", level=level, code=code)
        parts: dict[str, dict[str, dict[str, int]]] = {"total": {}, "grid": {}, "child": {}}
        weeks: dict[str, store.DailyRow] = {}
        for row in store.daily_counts(cur, level, code, period.since, period.until, child_level):
            if row["part"] == "week":
                weeks[row["key"] or ""] = row
                continue
            # the per-grid rows add up to the children and the total
            for part, key in (("grid", row["key"]), ("child", row["child"]), ("total", "")):
                _add(parts[part], key or "", row)
        live_rows = store.open_past_due(cur, level, code, since, until, now, child_level)
        grid_rows = store.grids_in(cur, level, code)
        children = store.children(cur, code) if child_level else []
        overdue_list = store.case_list(
            cur, level, code, since, until, now, kind="overdue", limit=settings.list_limit
        )
        escalated_list = store.case_list(
            cur, level, code, since, until, now, kind="escalated", limit=settings.list_limit
        )
        coverage = store.station_coverage(cur, code, settings.coverage_minutes)
    # open cases past their deadline now, per grid and per child area
    live: dict[str, dict[str, int]] = {}
    child_live: dict[str, dict[str, int]] = {}
    for open_row in live_rows:
        for into, key in ((live, open_row["grid_code"]), (child_live, open_row["child"])):
            tally = into.setdefault(key, {"due_not_missed": 0, "overdue": 0})
            tally["due_not_missed"] += int(open_row["due_not_missed"])
            tally["overdue"] += int(open_row["overdue"])
    past_due = sum(r["due_not_missed"] for r in live.values())
    overdue = sum(r["overdue"] for r in live.values())
    summary = _flow(parts["total"].get(""), past_due, overdue)

    grids_out = []
    known = {g["code"] for g in grid_rows}
    for grid in grid_rows:
        open_now = live.get(grid["code"])
        flow = _flow(
            parts["grid"].get(grid["code"]),
            int(open_now["due_not_missed"]) if open_now else 0,
            int(open_now["overdue"]) if open_now else 0,
        )
        grids_out.append(
            GridFigures(
                code=grid["code"],
                name=grid["name"],
                workers=int(grid["workers"]),
                **_counts(flow),
                on_time_due=flow["on_time_due"],
                on_time_rate=flow["on_time_rate"],
                overdue=flow["overdue"],
                escalated=flow["escalated"],
            )
        )
    # incidents of grids since retired, or outside every grid (属地兜底): counted in the totals, listed apart
    elsewhere = sum(int(r["incidents"]) for key, r in parts["grid"].items() if key not in known)

    areas_out = [
        _child_area(child, child_level, parts["child"], child_live, settings.grid_settled_target)
        for child in children
        if child_level  # a grid has no children
    ]

    return Dashboard(
        area=store.DashboardArea(
            level=area["level"], code=code, name=area["name"], parent_code=area["parent_code"]
        ),
        period=DashboardPeriod(
            since=period.since.isoformat(),
            until=period.until.isoformat(),
            days=(period.until - period.since).days,
        ),
        as_of=ctx.local(now),
        summary=summary,
        settled=_settled(summary, settings.grid_settled_target),
        weeks=_weeks(period, weeks),
        grids=grids_out,
        incidents_elsewhere=elsewhere,
        areas=areas_out,
        overdue=OverdueCases(total=overdue, cases=[_case(ctx, row) for row in overdue_list]),
        escalated=EscalatedCases(
            total=summary["escalated"],
            open=int(escalated_list[0]["total"]) if escalated_list else 0,
            cases=[_case(ctx, row) for row in escalated_list],
        ),
        staffing=staffing(ctx, grid_settings, code),
        coverage=_coverage(coverage, settings.coverage_minutes),
    )


def _child_area(
    child: store.ChildRow,
    child_level: store.Level,
    sums: dict[str, dict[str, int]],
    live: dict[str, dict[str, int]],
    target: float,
) -> ChildArea:
    """One child area's row: the loop's counts, its on-time rate (with its open cases past due now) and the
    completed cases settled at each level, as counts (``settled_<level>``) and shares of those settled
    (``settled_<level>_share``, null when none was)."""
    extra = live.get(child["code"], {})
    flow = _flow(sums.get(child["code"]), extra.get("due_not_missed", 0), extra.get("overdue", 0))
    settled = _settled(flow, target)
    counts, shares = settled["counts"], settled["shares"]
    return ChildArea(
        level=child_level,
        code=child["code"],
        name=child["name"],
        **_counts(flow),
        escalated=flow["escalated"],
        completion_rate=flow["completion_rate"],
        settled_grid_share=shares["grid"],
        on_time_due=flow["on_time_due"],
        on_time_rate=flow["on_time_rate"],
        overdue=flow["overdue"],
        settled_total=settled["total"],
        settled_grid=counts["grid"],
        settled_community=counts["community"],
        settled_street=counts["street"],
        settled_district=counts["district"],
        settled_community_share=shares["community"],
        settled_street_share=shares["street"],
        settled_district_share=shares["district"],
    )


def _case(ctx: IncidentContext, row: store.CaseRow) -> DashboardCase:
    hours = row["hours_past_due"]
    return DashboardCase(
        id=int(row["id"]),
        category=row["category"],
        status=row["status"],
        grid_code=row["grid_code"],
        owner_level=row["owner_level"],
        owner_code=row["owner_code"],
        escalations=int(row["escalations"]),
        created_at=ctx.local(row["created_at"]),
        due_at=ctx.local(row["due_at"]),
        hours_past_due=None if hours is None else round(float(hours), 1),
    )


def staffing(ctx: IncidentContext, grid_settings: GridSettings, code: str) -> Staffing:
    """Workers on record in the area and below it against the norm (workers per 10,000 residents)."""
    stats = grids.area_stats(ctx.db, code, grid_settings)
    population = int(stats["population"])
    workers = int(stats["workers"])
    return Staffing(
        population=population,
        population_source=stats["population_source"],
        households=stats["households"],
        norm_per_10k=stats["staffing_norm_per_10k"],
        need=stats["staffing_need"],
        workers=workers,
        gap=stats["staffing_gap"],
        per_10k=round(workers * 10_000 / population, 2) if population else None,
        norm_met=workers >= stats["staffing_need"],
    )


def _coverage(row: store.CoverageRow, minutes: float) -> Coverage:
    households = float(row["households"])
    covered = float(row["households_covered"])
    return Coverage(
        minutes=minutes,
        stations=int(row["stations"]),
        residences=int(row["residences"]),
        residences_covered=int(row["residences_covered"]),
        households=round(households, 1),
        households_covered=round(covered, 1),
        households_share=round(covered / households, 4) if households else None,
    )


class DashboardAreas(TypedDict):
    """Every current area, coarse to fine (the dashboard's chooser)."""

    areas: list[store.DashboardArea]


def areas(ctx: IncidentContext) -> DashboardAreas:
    """Every current area, coarse to fine: code, name, level, parent (the dashboard's chooser)."""
    with ctx.db.cursor() as cur:
        return {"areas": store.areas(cur)}
