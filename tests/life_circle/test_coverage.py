"""Coverage of areas is household-weighted; gaps list the homes and H3 cells left out."""

from __future__ import annotations

import pytest

from geo_service import background


@pytest.fixture(scope="module")
def db(demo_grids_db):
    """The demo hierarchy over Helsinki (the ``client`` of this module serves it too)."""
    return demo_grids_db


@pytest.fixture(scope="module")
def with_grids(db):
    return db


def _missing_in(gaps: dict, ids: set[int]) -> list[dict]:
    return [
        f["properties"]
        for f in gaps["features"]
        if f["properties"]["kind"] == "residence" and f["properties"]["residence_id"] in ids
    ]


def _homes_in(db, code: str) -> dict[int, float]:
    with db.cursor() as cur:
        cur.execute(
            """SELECT r.id, COALESCE(r.households_reported, r.households_est) AS h FROM residences r
               JOIN areas a ON a.code = %s AND a.valid_to IS NULL AND ST_Covers(a.geom, r.geom)""",
            (code,),
        )
        return {row["id"]: row["h"] for row in cur.fetchall()}


def test_shares_are_household_weighted(with_grids, client):
    db = with_grids
    body = client.get("/api/coverage", params={"level": "community", "profile": "gb50180"}).json()
    assert body["features"], "the demo has communities"
    area = max(body["features"], key=lambda f: f["properties"]["households"])["properties"]
    homes = _homes_in(db, area["code"])
    gaps = client.get("/api/coverage/gaps", params={"category": "pharmacy", "profile": "gb50180"}).json()
    missing = _missing_in(gaps, set(homes))
    total = sum(homes.values())
    expected = 1 - sum(m["households"] for m in missing) / total
    assert area["categories"]["pharmacy"] == pytest.approx(expected, abs=2e-3)
    assert area["households"] == pytest.approx(total, rel=1e-3)
    assert 0 < area["categories"]["pharmacy"] < 1

    # Reported household counts win: homes that miss the pharmacy now hold nobody → everyone is served.
    with db.cursor() as cur:
        cur.execute(
            "UPDATE residences SET households_reported = 0 WHERE id = ANY(%s)",
            ([m["residence_id"] for m in missing],),
        )
    again = client.get("/api/coverage", params={"level": "community", "profile": "gb50180"}).json()
    updated = next(f for f in again["features"] if f["properties"]["code"] == area["code"])["properties"]
    assert updated["categories"]["pharmacy"] == pytest.approx(1.0)
    assert 0 <= updated["score"] <= 1


def test_gaps_cells_add_up(with_grids, client):
    gaps = client.get("/api/coverage/gaps", params={"category": "grocery"}).json()
    homes = [f for f in gaps["features"] if f["properties"]["kind"] == "residence"]
    cells = [f for f in gaps["features"] if f["properties"]["kind"] == "h3_cell"]
    assert homes and cells
    assert sum(c["properties"]["households"] for c in cells) == pytest.approx(
        gaps["households_missing"], abs=0.5
    )
    assert sum(h["properties"]["households"] for h in homes) == pytest.approx(
        gaps["households_missing"], abs=0.5
    )
    assert all(c["geometry"]["type"] == "Polygon" for c in cells)
    assert gaps["max_distance_m"] == 300


def _coverage_rows(db) -> tuple[int, int]:
    with db.cursor() as cur:
        cur.execute(
            """SELECT (SELECT count(*) FROM area_coverage WHERE profile = 'gb50180' AND level = 'community') AS n,
                      (SELECT coalesce(max(revision), 0) FROM data_revisions WHERE entity = 'coverage') AS rev"""
        )
        row = cur.fetchone()
        return row["n"], row["rev"]


def test_coverage_layer_is_filled_by_the_background_job_not_by_a_get(with_grids, client):
    """GET /api/coverage only reads (so a read-only standby can serve it); the background job writes the map
    layer, once per change of the data it depends on."""
    before = _coverage_rows(with_grids)
    assert client.get("/api/coverage", params={"level": "community"}).status_code == 200
    assert _coverage_rows(with_grids) == before
    circles = client.app.state.life_circle_context
    assert background.refresh_coverage_layer(with_grids, circles) is True
    rows, revision = _coverage_rows(with_grids)
    assert rows > 0 and revision > before[1]
    assert background.refresh_coverage_layer(with_grids, circles) is False  # nothing changed: not again
    assert client.get("/tiles/coverage.json").status_code == 200


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/coverage", {"level": "planet"}),
        ("/api/coverage", {"profile": "nope"}),
        ("/api/coverage", {"minutes": 7}),
        ("/api/coverage/gaps", {"category": "spaceport"}),
        ("/api/coverage/gaps", {"category": "hospital", "minutes": 5}),
    ],
)
def test_coverage_bad_input(client, path, params):
    assert client.get(path, params=params).status_code == 422
