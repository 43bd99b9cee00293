"""Reach against an independent Dijkstra; facility edits change answers; thresholds are exact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from geo_service.life_circle import service
from geo_service.life_circle.service import LifeCircleContext
from geo_service.settings import LifeCircleSettings
from geo_service.walking.network import current_network
from tests.walking.reference import load_reference


@pytest.fixture(scope="module")
def ctx():
    return LifeCircleContext.create()


@pytest.fixture(scope="module")
def ref(db):
    return load_reference(db)


@pytest.mark.parametrize(
    ("category", "kind"), [("grocery", "distance"), ("pharmacy", "time"), ("bus_stop", "distance")]
)
def test_reach_of_homes_equals_independent_dijkstra(db, ctx, ref, category, kind):
    index = service.reach_index(db, ctx)
    homes = service.homes(db, ctx)
    graph = index.network.graphs[0]
    got = index.points(homes.located, category, kind)
    members = np.flatnonzero((index.facilities.category == category) & (index.located.graph_index == 0))
    assert members.size > 0
    cost = graph.edge_cost if kind == "time" else graph.edge_len_m
    # the reference graph is indexed by sorted OSM node ids, the engine's graph by its own order: map by id
    assert np.array_equal(ref.node_id, np.sort(graph.node_id))
    to_ref = np.searchsorted(ref.node_id, graph.node_id)
    matrix = ref.matrix if kind == "time" else _length_matrix(ref)
    from scipy.sparse.csgraph import dijkstra

    rng = np.random.default_rng(4)
    checked = 0
    for i in rng.choice(np.flatnonzero(homes.located.graph_index == 0), 25, replace=False):
        e, f = int(homes.located.edge[i]), float(homes.located.frac[i])
        ends = [
            (int(to_ref[graph.edge_u[e]]), f * cost[e]),
            (int(to_ref[graph.edge_v[e]]), (1 - f) * cost[e]),
        ]
        d = [dijkstra(matrix, directed=False, indices=node) + start for node, start in ends]
        best = np.inf
        for j in members:
            fe, ff = int(index.located.edge[j]), float(index.located.frac[j])
            for node_cost in d:
                best = min(
                    best,
                    node_cost[to_ref[graph.edge_u[fe]]] + ff * cost[fe],
                    node_cost[to_ref[graph.edge_v[fe]]] + (1 - ff) * cost[fe],
                )
            if fe == e:
                best = min(best, abs(ff - f) * cost[e])
        if best > 10_000:
            assert not np.isfinite(got.cost[i])
            continue
        assert got.cost[i] == pytest.approx(best, abs=1e-6)
        checked += 1
    assert checked >= 20


def _length_matrix(ref):
    from scipy.sparse import csr_matrix

    a, b = np.minimum(ref.u, ref.v), np.maximum(ref.u, ref.v)
    order = np.lexsort((ref.length, a, b))
    a, b, c = a[order], b[order], ref.length[order]
    first = np.ones(len(a), bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    n = len(ref.node_id)
    return csr_matrix((np.maximum(c[first], 1e-9), (a[first], b[first])), shape=(n, n))


def _pharmacy(body: dict) -> dict:
    return next(c for lv in body["levels"] for c in lv["categories"] if c["category"] == "pharmacy")


def test_a_facility_added_through_the_api_changes_the_answer(client, planner_headers):
    point = {"lon": 24.9370, "lat": 60.1755}
    before = _pharmacy(client.get("/api/life-circle", params=point).json())
    r = client.post(
        "/api/facilities",
        headers=planner_headers,
        json={
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [24.9371, 60.1756]},
            "properties": {"name": "新开药店", "category": "pharmacy"},
        },
    )
    assert r.status_code == 201, r.text
    after = _pharmacy(client.get("/api/life-circle", params=point).json())
    assert after["nearest"]["name"] == "新开药店" and after["status"] == "reached"
    assert (
        after["nearest"]["walk_distance_m"]
        < (before["nearest"] or {"walk_distance_m": 1e9})["walk_distance_m"]
    )
    client.delete(
        f"/api/facilities/{r.json()['id']}", headers={**planner_headers, "If-Match": r.headers["etag"]}
    )
    assert _pharmacy(client.get("/api/life-circle", params=point).json()) == before


def test_thresholds_are_respected_exactly(db, tmp_path: Path):
    ctx = LifeCircleContext.create()
    point = (24.9414, 60.1699)
    probe = service.life_circle(db, ctx, *point, profile="gb50180")
    grocery = next(c for c in probe["levels"][0]["categories"] if c["category"] == "grocery")
    d = grocery["nearest"]["walk_distance_m"]
    exact = _distance_exact(db, ctx, point)
    for name, limit in (("at", exact), ("under", exact - 0.01)):
        (tmp_path / f"{name}.yaml").write_text(
            yaml.safe_dump(
                {
                    "id": name,
                    "threshold": "distance",
                    "levels": [{"minutes": 5, "max_distance_m": limit, "categories": ["grocery"]}],
                }
            ),
            encoding="utf-8",
        )
    custom = LifeCircleContext.create(LifeCircleSettings(profiles_dir=tmp_path))
    at = service.life_circle(db, custom, *point, profile="at")["levels"][0]["categories"][0]
    under = service.life_circle(db, custom, *point, profile="under")["levels"][0]["categories"][0]
    assert at["status"] == "reached" and under["status"] == "missing"
    assert under["nearest"]["walk_distance_m"] == pytest.approx(d)  # nearest reported beyond the threshold


def _distance_exact(db, ctx, point):
    from geo_service.walking import service as walking

    index = service.reach_index(db, ctx)
    located = walking.snap_points(current_network(db), np.array([point]), ctx.walking)
    return float(index.points(located, "grocery", "distance").cost[0])


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"lon": 24.9414, "lat": 60.1699, "profile": "nope"}, "unknown profile"),
        ({"lon": 24.9600, "lat": 60.1620}, "from the nearest walkable"),
        ({"lon": "x", "lat": 60.1}, "lon"),
    ],
)
def test_life_circle_bad_input(client, params, needle):
    r = client.get("/api/life-circle", params=params)
    assert r.status_code == 422
    assert needle in str(r.json()["detail"])


def test_life_circle_contract(client):
    body = client.get("/api/life-circle", params={"lon": 24.9414, "lat": 60.1699}).json()
    assert body["profile"] == "gb50180"
    assert [lv["minutes"] for lv in body["levels"]] == [5, 10, 15]
    assert [lv["max_distance_m"] for lv in body["levels"]] == [300, 500, 1000]
    for level in body["levels"]:
        for entry in level["categories"]:
            assert entry["status"] in ("reached", "missing")
            if entry["nearest"] is not None:
                assert set(entry["nearest"]) >= {"name", "lon", "lat", "walk_seconds", "walk_distance_m"}
                within = entry["nearest"]["walk_distance_m"] <= level["max_distance_m"] + 1e-6
                assert (entry["status"] == "reached") == within
    profiles = client.get("/api/life-circle/profiles").json()
    assert {p["id"] for p in profiles} >= {"gb50180", "walk45", "elderly"}
