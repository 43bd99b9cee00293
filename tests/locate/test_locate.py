"""Locate: agreement with PostGIS ST_Covers + the tie rule (edge and vertex points included), ancestors and
versions, nearest grid and 属地兜底 outside grids, GCJ-02 input, bad coordinates, the batch route, and an
index that follows edits made through other connections."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from geo_service import coords
from geo_service.auth import Principal
from geo_service.db.pool import Database
from geo_service.errors import InvalidInput
from geo_service.grids.demo import DEMO_COUNTY
from geo_service.grids.service import import_features, update_area
from geo_service.locate import service
from geo_service.store import areas as store
from tests.conftest import seen_within
from tests.documented import mismatches, response_schema
from tests.grids.conftest import feature, hierarchy, lonlat, origin_for, rect

PREFIX = "110108"
HERE = origin_for(PREFIX)
COMMUNITY = f"{PREFIX}001001"
ADMIN = Principal(0, "admin", "test")


@pytest.fixture(scope="module")
def db(demo_grids_db: Database) -> Database:
    """The Helsinki demo hierarchy (the module's ``client`` serves it too)."""
    return demo_grids_db


@pytest.fixture(scope="module")
def grids(db: Database) -> Database:
    """The Helsinki demo hierarchy, plus a Beijing test community whose four grids cover only its west half."""
    features = hierarchy(PREFIX) + [
        feature(f"{COMMUNITY}{n:03d}", rect(x0, y0, x0 + 250, y0 + 500, HERE), parent=COMMUNITY)
        for n, (x0, y0) in enumerate([(0, 500), (250, 500), (0, 0), (250, 0)], start=1)
    ]
    import_features(db, features, ADMIN)
    return db


def _test_points(db: Database, n_random: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random points over the demo district plus points exactly on grid vertices and on edge midpoints."""
    with db.cursor() as cur:
        rows = store.list_current(cur, level="grid", parent_code=None)
    geoms = shapely.from_wkb([r["wkb"] for r in rows if r["code"].startswith(DEMO_COUNTY)])
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    pad_x, pad_y = (maxx - minx) * 0.05, (maxy - miny) * 0.05
    x = rng.uniform(minx - pad_x, maxx + pad_x, n_random)
    y = rng.uniform(miny - pad_y, maxy + pad_y, n_random)
    vertices = shapely.get_coordinates(geoms)
    pick = rng.integers(0, len(vertices), n_random // 10)
    rings = shapely.get_coordinates(shapely.boundary(geoms))
    edge = rng.integers(0, len(rings) - 1, n_random // 10)
    mid = (rings[edge] + rings[edge + 1]) / 2
    return np.concatenate([x, vertices[pick, 0], mid[:, 0]]), np.concatenate(
        [y, vertices[pick, 1], mid[:, 1]]
    )


def test_agrees_with_postgis_covers_and_tie_rule(grids: Database) -> None:
    lon, lat = _test_points(grids, 100_000, np.random.default_rng(11))
    index, positions = service.locate_batch(grids, lon, lat)
    ours = service.grid_codes(index, positions)
    with grids.cursor() as cur:
        reference, covering = store.postgis_covers(cur, lon, lat)
    ties = sum(count > 1 for count in covering)
    assert ties > 5_000, "the test must exercise shared edges and vertices"
    disagreements = [k for k in range(len(lon)) if ours[k] != reference[k]]
    assert disagreements == [], f"{len(disagreements)} of {len(lon)} differ, e.g. {disagreements[:5]}"
    assert sum(c is not None for c in ours) > 50_000


def test_single_locate_matches_batch_on_ties(grids: Database) -> None:
    lon, lat = _test_points(grids, 2_000, np.random.default_rng(5))
    index, positions = service.locate_batch(grids, lon, lat)
    batch = service.grid_codes(index, positions)
    for k in range(0, len(lon), 7):
        one = service.locate(grids, lon[k], lat[k])
        assert (one.grid.code if one.grid else None) == batch[k]


def test_get_locate_grid_ancestors_versions(client: TestClient, grids: Database) -> None:
    x, y = lonlat(100, 900, HERE)
    body = client.get("/api/locate", params={"lon": x, "lat": y}).json()
    assert body["grid"]["code"] == f"{COMMUNITY}001" and body["grid"]["version"] == 1
    assert [a["level"] for a in body["ancestors"]] == ["community", "street", "district"]
    assert [a["code"] for a in body["ancestors"]] == [COMMUNITY, f"{PREFIX}001", PREFIX]
    assert all(a["version"] == 1 for a in body["ancestors"])
    assert abs(body["distance_to_boundary_m"] - 100) < 0.5
    assert body["nearest_grid"] is None


def test_shared_edge_and_vertex_go_to_lowest_code(client: TestClient, grids: Database) -> None:
    corner = lonlat(250, 500, HERE)  # the vertex all four grids share
    assert (
        client.get("/api/locate", params={"lon": corner[0], "lat": corner[1]}).json()["grid"]["code"]
        == f"{COMMUNITY}001"
    )
    edge = lonlat(250, 100, HERE)  # shared by 003 and 004
    for _ in range(3):
        assert (
            client.get("/api/locate", params={"lon": edge[0], "lat": edge[1]}).json()["grid"]["code"]
            == f"{COMMUNITY}003"
        )


def test_outside_grids_nearest_and_covering_community(client: TestClient, grids: Database) -> None:
    x, y = lonlat(800, 400, HERE)  # inside the community, east of its grids
    body = client.get("/api/locate", params={"lon": x, "lat": y}).json()
    assert body["grid"] is None
    assert [a["code"] for a in body["ancestors"]] == [COMMUNITY, f"{PREFIX}001", PREFIX], "属地兜底"
    assert body["nearest_grid"]["code"] == f"{COMMUNITY}004"
    assert abs(body["nearest_grid"]["distance_m"] - 300) < 0.5
    assert body["distance_to_boundary_m"] == body["nearest_grid"]["distance_m"]
    far = client.get("/api/locate", params={"lon": 100.0, "lat": 30.0}).json()
    assert far["grid"] is None and far["ancestors"] == [] and far["nearest_grid"] is not None
    document = client.get("/openapi.json").json()
    inside = client.get("/api/locate", params=dict(zip(("lon", "lat"), lonlat(100, 900, HERE), strict=True)))
    for answer in (body, far, inside.json()):  # every member documented, none missing, inside and out
        assert mismatches(document, response_schema(document, "/api/locate", "get", "200"), answer) == []
    with pytest.raises(InvalidInput, match="outside every area"):
        service.locate(grids, 100.0, 30.0, reject_outside=True)


def test_gcj02_and_bd09_input(client: TestClient, grids: Database) -> None:
    x, y = lonlat(300, 200, HERE)
    for crs in ("gcj02", "bd09"):
        cx, cy = coords.from_wgs84(x, y, crs)
        assert abs(cx - x) > 1e-4, "the shift is real"
        body = client.get("/api/locate", params={"lon": cx, "lat": cy, "crs": crs}).json()
        assert body["grid"]["code"] == f"{COMMUNITY}004"
        assert abs(body["lon"] - x) < 1e-9 and abs(body["lat"] - y) < 1e-9


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"lon": "nan", "lat": 39.9}, "finite"),
        ({"lon": 39.9, "lat": 116.4}, "swapped"),
        ({"lon": 400, "lat": 10}, "longitude"),
        ({"lon": 116.4, "lat": 39.9, "crs": "mars"}, "unknown crs"),
        ({"lon": "abc", "lat": 1}, ""),
    ],
)
def test_bad_coordinates_are_422(client: TestClient, grids: Database, params: dict, words: str) -> None:
    response = client.get("/api/locate", params=params)
    assert response.status_code == 422
    assert words in str(response.json()["detail"])


def test_swapped_inside_range_is_422(client: TestClient, grids: Database) -> None:
    x, y = lonlat(100, 100, HERE)
    # (lat, lon) of a Beijing point is a valid position (39.9 E, 116.4 N is out of range) — use Helsinki,
    # whose swapped pair (60.17 E, 24.94 N) is in range and covered by nothing
    inside = service.locate(grids, 24.9414, 60.1699)
    assert inside.grid is not None
    response = client.get("/api/locate", params={"lon": 60.1699, "lat": 24.9414})
    assert response.status_code == 422 and "swapped" in response.json()["detail"]
    assert client.get("/api/locate", params={"lon": x, "lat": y}).status_code == 200


def test_batch_route(client: TestClient, grids: Database) -> None:
    points = [lonlat(100, 900, HERE), lonlat(800, 400, HERE), [24.9414, 60.1699], lonlat(250, 100, HERE)]
    response = client.post("/api/locate/batch", json={"points": points, "crs": "wgs84"})
    assert response.status_code == 200, response.text
    codes = [r["grid_code"] for r in response.json()["results"]]
    assert codes[0] == f"{COMMUNITY}001" and codes[1] is None and codes[2].startswith(DEMO_COUNTY)
    assert codes[3] == f"{COMMUNITY}003"
    spaced = client.post(
        "/api/locate/batch",
        content=b'{ "crs" : "wgs84", "points" : [ [ 24.9414 , 60.1699 ] ,\n [1e1, 5E-1] ] }',
        headers={"Content-Type": "application/json"},
    )
    assert spaced.status_code == 200 and spaced.json()["results"][0]["grid_code"].startswith(DEMO_COUNTY)
    assert client.post("/api/locate/batch", json={"points": []}).json() == {"results": []}
    for bad in (
        {"points": [[1, 2, 3]]},
        {"points": [["24.9", "60.1"]]},
        {"points": "x"},
        {"pts": []},
        {"points": [[400, 1]]},
        {"points": [[60.1699, 24.9414]]},
        {"points": [[1, 2]], "crs": "mars"},
    ):
        assert client.post("/api/locate/batch", json=bad).status_code == 422, bad
    assert (
        client.post(
            "/api/locate/batch", content=b"{nope", headers={"Content-Type": "application/json"}
        ).status_code
        == 400
    )
    gcj = coords.from_wgs84(*lonlat(100, 900, HERE), "gcj02")
    assert (
        client.post("/api/locate/batch", json={"points": [list(gcj)], "crs": "gcj02"}).json()["results"][0][
            "grid_code"
        ]
        == f"{COMMUNITY}001"
    )


def test_index_follows_edits_from_other_connections(grids: Database) -> None:
    x, y = lonlat(600, 250, HERE)
    before = service.locate(grids, x, y)
    assert before.grid is None
    # another pool (as another process would) moves grid 004's east edge out to 700 m
    other = Database(grids.dsn, max_size=1)
    try:
        update_area(
            other,
            f"{COMMUNITY}004",
            {"type": "Feature", "properties": {}, "geometry": rect(250, 0, 700, 500, HERE)},
            ADMIN,
        )
    finally:
        other.close()
    # another pool's write is announced (LISTEN/NOTIFY), at the latest seen after the revision interval
    assert seen_within(lambda: service.locate(grids, x, y).grid is not None)
    after = service.locate(grids, x, y)
    assert after.grid is not None and after.grid.code == f"{COMMUNITY}004" and after.grid.version == 2
    assert after.revision > before.revision
    # a raw SQL change (no service involved) is seen too: the statement trigger bumps the revision
    with grids.cursor() as cur:
        cur.execute(
            "UPDATE areas SET name = 'renamed by SQL' WHERE code = %s AND valid_to IS NULL",
            (f"{COMMUNITY}004",),
        )
    assert service.locate(grids, x, y).grid.name == "renamed by SQL"


@pytest.mark.parametrize(
    "media_type",
    [
        "application/vnd.apache.arrow.stream",
        "application/vnd.apache.arrow.file",
        "application/vnd.apache.parquet",
    ],
)
def test_batch_route_with_columnar_bodies(client: TestClient, grids: Database, media_type: str) -> None:
    """Arrow IPC / Parquet in and out (content negotiation): the same answers as the JSON route, row for row."""
    import io

    import pyarrow as pa
    import pyarrow.ipc as ipc
    import pyarrow.parquet as pq

    def body_of(table: pa.Table) -> bytes:
        sink = io.BytesIO()
        if media_type.endswith("parquet"):
            pq.write_table(table, sink)
        elif media_type.endswith("file"):
            with ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
        else:
            with ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
        return sink.getvalue()

    def read(body: bytes) -> pa.Table:
        if media_type.endswith("parquet"):
            return pq.read_table(pa.BufferReader(body))
        if media_type.endswith("file"):
            return ipc.open_file(pa.BufferReader(body)).read_all()
        return ipc.open_stream(pa.BufferReader(body)).read_all()

    lon, lat = _test_points(grids, 2_000, np.random.default_rng(5))
    expected = [
        r["grid_code"]
        for r in client.post(
            "/api/locate/batch", json={"points": np.column_stack([lon, lat]).tolist()}
        ).json()["results"]
    ]
    assert any(c is None for c in expected) and len({c for c in expected if c}) > 5
    points = body_of(pa.table({"lon": lon, "lat": lat, "extra": np.arange(len(lon))}))
    headers = {"Content-Type": media_type, "Accept": media_type}

    answer = client.post("/api/locate/batch", content=points, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == media_type
    assert read(answer.content).column("grid_code").to_pylist() == expected
    # a table in, JSON out (no Accept); and JSON in, a table out
    as_json = client.post("/api/locate/batch", content=points, headers={"Content-Type": media_type})
    assert [r["grid_code"] for r in as_json.json()["results"]] == expected
    to_table = client.post(
        "/api/locate/batch",
        json={"points": np.column_stack([lon, lat]).tolist()},
        headers={"Accept": media_type},
    )
    assert read(to_table.content).column("grid_code").to_pylist() == expected
    # the crs of a table comes from the query
    gcj = np.array([coords.from_wgs84(*lonlat(100, 900, HERE), "gcj02")])
    in_gcj = client.post(
        "/api/locate/batch?crs=gcj02",
        content=body_of(pa.table({"lon": gcj[:, 0], "lat": gcj[:, 1]})),
        headers=headers,
    )
    assert read(in_gcj.content).column("grid_code").to_pylist() == [f"{COMMUNITY}001"]

    # bad tables: 400 unreadable, 422 wrong columns, types or missing values
    assert client.post("/api/locate/batch", content=b"not a table", headers=headers).status_code == 400
    for bad in (
        pa.table({"x": [1.0], "y": [2.0]}),
        pa.table({"lon": ["24.9"], "lat": ["60.1"]}),
        pa.table({"lon": pa.array([24.94, None]), "lat": [60.17, 60.17]}),
        pa.table({"lon": [400.0], "lat": [1.0]}),
    ):
        refused = client.post("/api/locate/batch", content=body_of(bad), headers=headers)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["code"].startswith("locate.")
