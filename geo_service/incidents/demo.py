"""Demo incidents (DEMO DATA): a few days of 12345 tickets over the demo grids, at every stage of the loop
(closed ones after a satisfied callback).

Idempotent: ticket numbers start with ``DEMO-``; when any exists the step does nothing. Skipped when there are no
grids yet. Tickets are spread over the last five days with an injected clock, moved along the loop a few hours
after intake, and the escalation sweep runs at the end, so the demo shows escalated and overdue ones too.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

import numpy as np
from tqdm import tqdm

from geo_service.auth import Principal
from geo_service.clock import ManualClock, system_clock
from geo_service.db.pool import Database
from geo_service.errors import ServiceError
from geo_service.i18n import cli_text
from geo_service.incidents import callback, workflow
from geo_service.incidents.context import IncidentContext
from geo_service.incidents.escalation import sweep
from geo_service.incidents.intake import IncidentInput, create_incident
from geo_service.locate.service import current_index
from geo_service.settings import IncidentSettings
from geo_service.store import incidents as store

# the callers' answers when the demo calls them back (the closed tickets)
SATISFACTION = ("satisfied", "satisfied", "basically_satisfied")
DEMO_PREFIX = "DEMO-"
DEMO_LABEL = "DEMO DATA 演示数据"
COUNT = 80
# (category, description) as a hotline operator would type them
TICKETS = [
    ("暴露垃圾", "小区门口垃圾堆放两天无人清运"),
    ("道路不洁", "人行道上有大片油污，行人易滑倒"),
    ("无照经营游商", "地铁口有流动摊贩占道经营"),
    ("非机动车乱停放", "共享单车堆满盲道"),
    ("施工扰民", "夜间22点后仍在施工，噪声很大"),
    ("道路遗撒", "渣土车沿路遗撒"),
    ("路灯", "路灯不亮已经一周"),
    ("污水井盖", "污水井盖破损，有安全隐患"),
    ("下水道堵塞或破损", "雨后下水道返水"),
    ("非法小广告", "楼道内张贴大量小广告"),
    ("行道树", "行道树倒伏压住人行道"),
    ("噪声扰民", "楼下商铺音响声音过大"),
]
# final states and how many of the tickets end there, with the path that leads there
PATHS = {
    "reported": [],
    "filed": ["filed"],
    "dispatched": ["filed", "dispatched"],
    "in_progress": ["filed", "dispatched", "in_progress"],
    "resolved": ["filed", "dispatched", "in_progress", "resolved"],
    "verified": ["filed", "dispatched", "in_progress", "resolved", "verified"],
    "closed": ["filed", "dispatched", "in_progress", "resolved", "verified", "closed"],
    "rejected": ["rejected"],
}
WEIGHTS = {
    "reported": 3,
    "filed": 2,
    "dispatched": 3,
    "in_progress": 3,
    "resolved": 2,
    "verified": 1,
    "closed": 6,
    "rejected": 1,
}
log = logging.getLogger(__name__)


def _random_points(db: Database, rng: random.Random, count: int) -> list[tuple[float, float]]:
    """Points inside random current grids (drawn in each grid's bounding box, kept when the grid covers them)."""
    index = current_index(db)
    grids = index.grids
    points: list[tuple[float, float]] = []
    while len(points) < count:
        position = rng.randrange(len(grids.infos))
        west, south, east, north = grids.geoms[position].bounds
        lon, lat = rng.uniform(west, east), rng.uniform(south, north)
        if int(index.assign("grid", np.array([lon]), np.array([lat]))[0]) == position:
            points.append((lon, lat))
    return points


def load_demo_incidents(db: Database, progress: bool = True, now: datetime | None = None) -> None:
    """Idempotent demo step: demo tickets over the demo grids (skipped without grids), filed over the five
    days before ``now`` (default: the system clock)."""
    if not current_index(db).grids.infos:
        log.info("no grids yet: demo incidents skipped")
        return
    with db.cursor() as cur:
        if store.any_external_id_starting(cur, DEMO_PREFIX):
            log.info("demo incidents already loaded")
            return
    now = now or system_clock()
    clock = ManualClock(now - timedelta(days=5))
    ctx = IncidentContext.create(db, IncidentSettings(), clock=clock)
    demo = Principal(0, "admin", "demo")
    rng = random.Random(12345)
    finals = [state for state, weight in WEIGHTS.items() for _ in range(weight)]
    for number, (lon, lat) in enumerate(
        tqdm(
            _random_points(db, rng, COUNT),
            desc=cli_text("progress.incidents.demo"),
            unit="incident",
            disable=not progress,
        ),
        start=1,
    ):
        clock.now = now - timedelta(hours=rng.uniform(1, 120))
        category, text = rng.choice(TICKETS)
        data = IncidentInput(
            category=category,
            description=f"【{DEMO_LABEL}】{text}",
            lon=lon,
            lat=lat,
            external_id=f"{DEMO_PREFIX}{number:05d}",
            reporter={"name": "演示来电人 (demo caller)", "phone": "000-0000-0000"},
        )
        try:
            created = create_incident(ctx, data, demo.actor, demo.role, source="hotline")
        except ServiceError as exc:  # a point the hierarchy no longer covers: skip it, the demo goes on
            log.warning("demo incident %s skipped: %s", number, exc.detail)
            continue
        final = rng.choice(finals)
        for step in PATHS[final]:
            clock.advance(hours=rng.uniform(0.2, 3))
            if clock.now >= now:
                break
            if step == "closed":  # only the callback closes a case (回访)
                callback.record_feedback(
                    ctx,
                    created.incident["id"],
                    reached=True,
                    satisfaction=rng.choice(SATISFACTION),
                    note=None,
                    principal=demo,
                )
                continue
            note = "演示：不属于受理范围 (demo)" if step == "rejected" else f"演示 demo: {step}"
            workflow.transition(ctx, created.incident["id"], step, note, demo)
    escalated = sweep(ctx, now)
    print(
        f"demo incidents ({DEMO_LABEL}): {COUNT} over the demo grids, {len(escalated)} escalated as overdue"
    )
