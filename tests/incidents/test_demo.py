"""The demo step: labelled demo tickets over the demo grids, idempotent, skipped without grids."""

from __future__ import annotations

from geo_service.db.pool import Database
from geo_service.grids.demo import load_demo_grids
from geo_service.incidents.demo import COUNT, DEMO_LABEL, load_demo_incidents


def _demo_rows(db: Database) -> list[dict]:
    with db.cursor() as cur:
        cur.execute(
            "SELECT status, grid_code, description, source FROM incidents WHERE external_id LIKE 'DEMO-%'"
        )
        return cur.fetchall()


def test_demo_incidents(fresh_db: Database) -> None:
    load_demo_incidents(fresh_db, progress=False)  # no grids yet: nothing, no error
    assert _demo_rows(fresh_db) == []
    load_demo_grids(fresh_db, progress=False)
    load_demo_incidents(fresh_db, progress=False)
    rows = _demo_rows(fresh_db)
    assert len(rows) == COUNT
    assert all(DEMO_LABEL in r["description"] and r["source"] == "hotline" and r["grid_code"] for r in rows)
    assert {"reported", "closed", "escalated"} <= {r["status"] for r in rows}
    load_demo_incidents(fresh_db, progress=False)  # idempotent
    assert len(_demo_rows(fresh_db)) == COUNT
