"""The three rates cities judge streets and communities by (响应率, 解决率, 满意率), 按时办结率, and where cases
were settled (小事不出网格), per grid, community, street or district.

Who counts: incidents filed in ``[since, until)`` and assigned (at intake) to the area. A **case** is an
incident that was not rejected and not merged into another (a duplicate is the same case; its caller still
counts for satisfaction). ``as_of`` is the service clock's now.

- ``response_rate`` = cases taken in hand (first ``in_progress``) within the category's ``response_hours`` of
  intake ÷ cases whose response is due (taken in hand at any time, or not yet and past the response time).
- ``resolution_rate`` = cases resolved now (``resolved``, ``verified`` or ``closed``) ÷ cases.
- ``satisfaction_rate`` = (satisfied + basically satisfied) ÷ (satisfied + basically satisfied + unsatisfied),
  over every callback that reached a caller (each call counts, duplicates' callers too; unreached calls do
  not count).
- ``on_time_rate`` = cases resolved now that never missed a deadline ÷ cases that are resolved now, missed a
  deadline, or are past their current one (a case misses a deadline when it is resolved after it, or is
  escalated or marked overdue after it).
- ``settled_at`` = cases resolved now, by the level that owned them when they were last resolved; they sum to
  the resolved count.

A rate whose denominator is 0 is ``null``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, cast

from pydantic import Field
from typing_extensions import TypedDict  # pydantic documents Rates on Python 3.11

from geo_service.errors import InvalidInput, NotFound
from geo_service.incidents.context import IncidentContext
from geo_service.incidents.stats import STAT_LEVELS
from geo_service.store import incidents as store
from geo_service.store.incidents import RateCounts


class RateFeedback(TypedDict):
    satisfied: int
    basically_satisfied: int
    unsatisfied: int
    unreached_calls: int
    failed_callbacks: int


class SettledAt(TypedDict):
    """Cases resolved now, by the level that owned them when last resolved."""

    grid: int
    community: int
    street: int
    district: int


COUNTS = tuple(RateCounts.__annotations__)
Level = Literal["grid", "community", "street", "district"]
LEVELS = cast(tuple[Level, ...], tuple(SettledAt.__annotations__))  # grid first, as the typed dict names them


class RateNumbers(TypedDict):
    """Rates to 4 places, null when their denominator is 0."""

    response_rate: Annotated[float | None, Field(description="响应率")]
    resolution_rate: Annotated[float | None, Field(description="解决率")]
    satisfaction_rate: Annotated[float | None, Field(description="满意率")]
    on_time_rate: Annotated[float | None, Field(description="按时办结率")]
    settled_at: SettledAt
    counts: RateCounts
    feedback: RateFeedback


class AreaRates(RateNumbers):
    level: str
    code: str
    name: str | None


class Rates(TypedDict):
    """The rates per area of ``level`` for incidents filed in [since, until) (times in the service's zone)."""

    level: str
    code: Annotated[str | None, Field(description="the one area asked for (null: every area)")]
    since: str | None
    until: str | None
    as_of: str | None
    areas: list[AreaRates]
    totals: RateNumbers


def rate(numerator: int, denominator: int) -> float | None:
    """numerator ÷ denominator to 4 places; None when the denominator is 0 (the rule of every rate here)."""
    return round(numerator / denominator, 4) if denominator else None


_rate = rate


def numbers(counts: dict[str, int]) -> RateNumbers:
    """The rates and counts of one area (or of all of them) from the raw counts."""
    reached = counts["satisfied"] + counts["basically_satisfied"] + counts["unsatisfied"]
    return RateNumbers(
        response_rate=_rate(counts["responded_in_time"], counts["response_due"]),
        resolution_rate=_rate(counts["resolved"], counts["cases"]),
        satisfaction_rate=_rate(counts["satisfied"] + counts["basically_satisfied"], reached),
        on_time_rate=_rate(counts["on_time"], counts["on_time_due"]),
        # the keys are those LEVELS and COUNTS take from the typed dicts, in their order
        settled_at=cast(SettledAt, {level: counts[f"settled_{level}"] for level in LEVELS}),
        counts=cast(RateCounts, {key: counts[key] for key in COUNTS}),
        feedback=RateFeedback(
            satisfied=counts["satisfied"],
            basically_satisfied=counts["basically_satisfied"],
            unsatisfied=counts["unsatisfied"],
            unreached_calls=counts["unreached"],
            failed_callbacks=counts["failed"],
        ),
    )


def _aware(ctx: IncidentContext, moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=ctx.timezone) if moment is not None and moment.tzinfo is None else moment


def rates(
    ctx: IncidentContext,
    level: str,
    code: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Rates:
    """The rates per area at ``level`` (only area ``code`` when given) for incidents filed in [since, until);
    times without a zone are read in the service's zone.

    Raises
    ------
    InvalidInput
        Unknown level, or ``until`` not after ``since`` (422).
    NotFound
        ``code`` names no area of that level.
    """
    if level not in STAT_LEVELS:
        raise InvalidInput("incident.stats_level", level=repr(level), levels=list(STAT_LEVELS))
    since, until = _aware(ctx, since), _aware(ctx, until)
    if since is not None and until is not None and until <= since:
        raise InvalidInput("loop.rates_window", since=ctx.local(since), until=ctx.local(until))
    now = ctx.now()
    with ctx.db.cursor() as cur:
        if code is not None and not store.area_exists(cur, level, code):
            raise NotFound("loop.rates_unknown_area", level=level, code=code)
        rows = store.rates_by_area(
            cur,
            level,
            code=code,
            since=since,
            until=until,
            now=now,
            response_hours=ctx.classification.response_hours(),
        )
    keys = (*COUNTS, *(f"settled_{lv}" for lv in LEVELS))
    areas = []
    totals = dict.fromkeys(keys, 0)
    for row in rows:
        raw: dict[str, Any] = dict(row)
        counts = {key: int(raw[key]) for key in keys}
        for key in keys:
            totals[key] += counts[key]
        areas.append(AreaRates(level=level, code=row["code"], name=row["name"], **numbers(counts)))
    return Rates(
        level=level,
        code=code,
        since=ctx.local(since),
        until=ctx.local(until),
        as_of=ctx.local(now),
        areas=areas,
        totals=numbers(totals),
    )
