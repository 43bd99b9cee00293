"""The crosswalk of a network against the unified grids: area shares equal PostGIS's ST_Area(ST_Intersection),
household shares equal an ST_Covers count in SQL (homes on edges by the lowest-code rule), mismatches found
where a boundary runs 2 m off a unified one and not where it runs 50 m off, the three formats agree, and
re-keying follows the crosswalk and /api/locate."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient

from geo_service.db.pool import Database
from tests.documented import answered
from tests.grids.conftest import lonlat
from tests.networks.conftest import collection, insert_homes, lattice, unified

PREFIX = "110152"
GRID_XS = GRID_YS = [0, 100, 200, 300]
NET_XS = [0, 102, 150, 300]  # x=102 runs 2 m off the unified x=100; x=150 runs 50 m off x=100 and x=200
NET_YS = [0, 100, 200, 300]
NAME = "police"


@pytest.fixture(scope="module")
def setup(db: Database, client: TestClient, planner_headers: dict[str, str]) -> dict:
    codes = unified(client, planner_headers, PREFIX, GRID_XS, GRID_YS)
    cells = lattice(PREFIX, NET_XS, NET_YS, "P")
    cells += lattice(PREFIX, [300, 350], [0, 100], "X")  # half outside every grid
    response = client.post(
        f"/api/networks/{NAME}/import?department=公安局", json=collection(cells), headers=planner_headers
    )
    assert response.status_code == 201, response.text
    rng = np.random.default_rng(15)
    homes = [
        (float(x), float(y), int(h))
        for x, y, h in zip(
            rng.uniform(0, 350, 300), rng.uniform(0, 300, 300), rng.integers(1, 40, 300), strict=True
        )
    ]
    # on edges and vertices: a unified edge inside a cell, a network edge inside a grid, shared corners
    homes += [(100, 50, 11), (102, 150, 13), (100, 100, 17), (102, 200, 19), (150, 250, 23), (300, 50, 29)]
    insert_homes(db, PREFIX, homes)
    return codes


def _json(client: TestClient) -> dict:
    response = client.get(f"/api/networks/{NAME}/crosswalk")
    assert response.status_code == 200, response.text
    return response.json()


def _sql_areas(db: Database) -> tuple[dict[str, float], dict[tuple[str, str], float]]:
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            "SELECT code, ST_Area(geom::geography) FROM network_cells WHERE network = %s AND valid_to IS NULL",
            (NAME,),
        )
        cells = dict(cur.fetchall())
        cur.execute(
            """SELECT c.code, a.code, ST_Area(ST_Intersection(c.geom, a.geom)::geography)
               FROM network_cells c JOIN areas a ON a.level = 'grid' AND a.valid_to IS NULL
                    AND ST_Intersects(c.geom, a.geom)
               WHERE c.network = %s AND c.valid_to IS NULL""",
            (NAME,),
        )
        pairs = {(c, g): area for c, g, area in cur.fetchall() if area > 0}
    return cells, pairs


def _sql_households(db: Database) -> dict[tuple[str, str | None], float]:
    """Households per (cell, grid) by ST_Covers, each home to the lowest covering code on both sides."""
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            """WITH home_cell AS (
                   SELECT DISTINCT ON (r.id) r.id, r.geom, coalesce(r.households_reported, r.households_est) AS hh,
                          c.code
                   FROM residences r JOIN network_cells c
                        ON c.network = %s AND c.valid_to IS NULL AND ST_Covers(c.geom, r.geom)
                   ORDER BY r.id, c.code COLLATE "C"),
               home_grid AS (
                   SELECT DISTINCT ON (h.id) h.id, h.hh, h.code, a.code AS grid
                   FROM home_cell h LEFT JOIN areas a
                        ON a.level = 'grid' AND a.valid_to IS NULL AND ST_Covers(a.geom, h.geom)
                   ORDER BY h.id, a.code COLLATE "C" NULLS LAST)
               SELECT code, grid, sum(hh) FROM home_grid GROUP BY code, grid""",
            (NAME,),
        )
        return {(c, g): float(h) for c, g, h in cur.fetchall()}


def test_area_shares_equal_postgis(setup: dict, client: TestClient, db: Database) -> None:
    doc = _json(client)
    sql_cells, sql_pairs = _sql_areas(db)
    assert doc["network"]["version"] == 1 and doc["summary"]["cells"] == len(sql_cells) == 10
    ours = {(c["code"], g["code"]): g for c in doc["cells"] for g in c["grids"]}
    assert set(ours) == set(sql_pairs)
    for cell in doc["cells"]:
        assert cell["area_m2"] == pytest.approx(sql_cells[cell["code"]], rel=2e-3)
        for g in cell["grids"]:
            assert g["area_share"] == pytest.approx(
                sql_pairs[(cell["code"], g["code"])] / sql_cells[cell["code"]], abs=1e-5
            )
        total = sum(g["area_share"] for g in cell["grids"]) + (cell["outside"] or {}).get("area_share", 0.0)
        assert total == pytest.approx(1.0, abs=1e-5)
    outside = next(c for c in doc["cells"] if c["code"] == "X-0-0")
    assert outside["grids"] == [] and outside["outside"]["area_share"] == pytest.approx(1.0, abs=1e-9)
    assert outside["main_grid"] is None


def test_household_shares_equal_sql_covers(setup: dict, client: TestClient, db: Database) -> None:
    doc = _json(client)
    sql = _sql_households(db)
    ours: dict[tuple[str, str | None], float] = {}
    for cell in doc["cells"]:
        for g in cell["grids"]:
            if g["households"]:
                ours[(cell["code"], g["code"])] = g["households"]
        if cell["outside"] and cell["outside"]["households"]:
            ours[(cell["code"], None)] = cell["outside"]["households"]
        in_cell = sum(h for (c, _), h in sql.items() if c == cell["code"])
        assert cell["households"] == pytest.approx(in_cell)
        for g in cell["grids"]:
            if in_cell:
                assert g["household_share"] == pytest.approx(
                    sql.get((cell["code"], g["code"]), 0.0) / in_cell, abs=1e-6
                )
    assert ours == pytest.approx(sql)
    first_grid, second_grid = setup["grids"][0], setup["grids"][1]
    # the home on the unified edge x=100 (inside cell P-0-0) goes to the lower code of the two grids
    p00 = next(c for c in doc["cells"] if c["code"] == "P-0-0")
    assert {g["code"] for g in p00["grids"]} == {first_grid, second_grid}
    assert doc["summary"]["households"] == pytest.approx(sum(sql.values()))
    assert (
        "lowest code"
        in client.get(f"/api/networks/{NAME}/crosswalk", headers={"Accept-Language": "en"}).json()[
            "households_rule"
        ]
    )


def test_main_grid_follows_households_then_area(setup: dict, client: TestClient, db: Database) -> None:
    doc = _json(client)
    sql = _sql_households(db)
    _, areas = _sql_areas(db)
    for cell in doc["cells"]:
        if not cell["grids"]:
            continue
        by_hh = {g: h for (c, g), h in sql.items() if c == cell["code"] and g is not None}
        if cell["households"] > 0:
            expected = min(by_hh, key=lambda g: (-by_hh[g], g))
            assert cell["main_grid"]["basis"] == "households"
        else:
            shares = {g: a for (c, g), a in areas.items() if c == cell["code"]}
            expected = min(shares, key=lambda g: (-shares[g], g))
        assert cell["main_grid"]["code"] == expected


def test_mismatch_2m_reported_50m_not(setup: dict, client: TestClient) -> None:
    origin = setup["origin"]
    mismatches = _json(client)["mismatches"]["features"]
    assert len(mismatches) == 3, [m["properties"] for m in mismatches]  # x=102 between each pair of rows
    x100 = lonlat(100, 0, origin)[0]
    x102 = lonlat(102, 0, origin)[0]
    rows = set()
    for m in mismatches:
        props = m["properties"]
        line = np.array(m["geometry"]["coordinates"])
        snapped = np.array(props["snapped"]["coordinates"])
        assert np.all(line[:, 0] == x102) and np.all(snapped[:, 0] == x100)
        assert props["offset_m"] == pytest.approx(2.0, abs=0.02) and props["length_m"] == pytest.approx(
            100.0, abs=0.05
        )
        j = round((line[:, 1].min() - origin[1]) / (lonlat(0, 100, origin)[1] - origin[1]))
        rows.add(j)
        # the line to adopt ends on the unified grid's own corners, bit for bit
        corners = {tuple(lonlat(100, j * 100, origin)), tuple(lonlat(100, (j + 1) * 100, origin))}
        assert {tuple(snapped[0]), tuple(snapped[-1])} == corners
        assert props["cells"] == [f"P-0-{j}", f"P-1-{j}"]
        assert props["grids"] == [setup["grids"][3 * j], setup["grids"][3 * j + 1]]
    assert rows == {0, 1, 2}
    x150 = lonlat(150, 0, origin)[0]
    assert not any(np.any(np.array(m["geometry"]["coordinates"])[:, 0] == x150) for m in mismatches)


def test_the_three_formats_agree(setup: dict, client: TestClient, tmp_path: Path) -> None:
    doc = _json(client)
    response = client.get(f"/api/networks/{NAME}/crosswalk?format=csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    shares: dict[str, float] = defaultdict(float)
    for row in rows:
        shares[row["cell_code"]] += float(row["area_share"])
        if row["grid_code"]:
            cell = next(c for c in doc["cells"] if c["code"] == row["cell_code"])
            grid = next(g for g in cell["grids"] if g["code"] == row["grid_code"])
            assert float(row["area_share"]) == pytest.approx(grid["area_share"], abs=1e-6)
            assert row["main_grid"] == str(int(cell["main_grid"]["code"] == row["grid_code"]))
    assert set(shares) == {c["code"] for c in doc["cells"]}
    assert all(v == pytest.approx(1.0, abs=1e-5) for v in shares.values())
    response = client.get(f"/api/networks/{NAME}/crosswalk?format=gpkg")
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    path = tmp_path / "cw.gpkg"
    path.write_bytes(response.content)
    assert {name for name, _ in pyogrio.list_layers(path)} == {"crosswalk", "cells", "mismatches", "snapped"}
    pieces = pyogrio.read_dataframe(path, layer="crosswalk")
    assert len(pieces) == len(rows)
    real = pieces[pieces["grid_code"].notna() & (pieces["area_m2"] > 0)]
    # each piece is the intersection of its cell and grid
    assert (shapely.area(real.geometry.values) > 0).all()
    cells = pyogrio.read_dataframe(path, layer="cells")
    assert set(cells["code"]) == {c["code"] for c in doc["cells"]}
    snapped = pyogrio.read_dataframe(path, layer="snapped")
    assert len(snapped) == len(pyogrio.read_dataframe(path, layer="mismatches")) == 3
    assert shapely.equals_exact(
        snapped.geometry.iloc[0],
        shapely.geometry.shape(doc["mismatches"]["features"][0]["properties"]["snapped"]),
        1e-12,
    )
    bad = client.get(f"/api/networks/{NAME}/crosswalk?format=shp")
    assert bad.status_code == 422 and bad.json()["code"] == "network.bad_format"
    assert client.get("/api/networks/nobody/crosswalk").status_code == 404


def test_rekey_cells_and_points(setup: dict, client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    doc = answered(
        document, "/api/networks/{name}/crosswalk", "get", client.get(f"/api/networks/{NAME}/crosswalk")
    )
    one = "/api/networks/{name}/rekey"
    for cell in doc["cells"]:
        response = client.get(f"/api/networks/{NAME}/rekey", params={"cell": cell["code"]})
        answer = answered(document, one, "get", response)
        assert answer["cell"]["code"] == cell["code"]
        assert (answer["grid"] or {}).get("code") == (cell["main_grid"] or {}).get("code")
    origin = setup["origin"]
    points = [
        lonlat(50, 50, origin),
        lonlat(100, 150, origin),
        lonlat(101, 250, origin),
        lonlat(340, 20, origin),
    ]
    for lon, lat in points:
        answer = answered(
            document, one, "get", client.get(f"/api/networks/{NAME}/rekey", params={"lon": lon, "lat": lat})
        )
        located = client.get("/api/locate", params={"lon": lon, "lat": lat}).json()
        assert (answer["point"]["grid"] or {}).get("code") == (located["grid"] or {}).get("code")
    answer = client.get(
        f"/api/networks/{NAME}/rekey", params={"lon": points[1][0], "lat": points[1][1]}
    ).json()
    assert answer["point"]["grid"]["code"] == setup["grids"][3]  # on the shared edge x=100: the lower code
    assert answer["point"]["cell"]["code"] == "P-0-1"
    codes = ["P-2-2", "P-0-0", "X-0-0"]
    batch = answered(
        document,
        one,
        "post",
        client.post(f"/api/networks/{NAME}/rekey", json={"cells": codes, "points": points}),
    )
    assert [c["cell"]["code"] for c in batch["cells"]] == codes
    by_code = {c["code"]: c for c in doc["cells"]}
    assert [(c["grid"] or {}).get("code") for c in batch["cells"]] == [
        (by_code[code]["main_grid"] or {}).get("code") for code in codes
    ]
    assert batch["points"][3]["grid"] is None and batch["points"][3]["cell"]["code"] == "X-0-0"
    area = client.get(f"/api/networks/{NAME}/rekey", params={"cell": "P-1-0", "by": "area"}).json()
    assert area["grid"]["basis"] == "area" and area["grid"]["code"] == setup["grids"][1]  # 48 of 48 m wide
    assert client.get(f"/api/networks/{NAME}/rekey", params={"cell": "nope"}).status_code == 404
    assert client.get(f"/api/networks/{NAME}/rekey").json()["code"] == "network.rekey_nothing"
    assert client.get(f"/api/networks/{NAME}/rekey", params={"lon": 500, "lat": 10}).status_code == 422


def test_crosswalk_follows_new_homes(setup: dict, client: TestClient, db: Database) -> None:
    before = {c["code"]: c["households"] for c in _json(client)["cells"]}
    insert_homes(db, PREFIX, [(20, 20, 1000)])
    after = {c["code"]: c["households"] for c in _json(client)["cells"]}
    assert after["P-0-0"] == pytest.approx(before["P-0-0"] + 1000)
    assert {k: v for k, v in after.items() if k != "P-0-0"} == pytest.approx(
        {k: v for k, v in before.items() if k != "P-0-0"}
    )
