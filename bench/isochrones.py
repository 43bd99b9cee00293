"""Isochrone benchmark: our network-shaped polygons against pgRouting, the OSMnx method and a bare search.

Networks: (a) pyrosm's Helsinki extract, (b) Liechtenstein (``../shared/data``, when present), (c) a synthetic
street network of about 1,000,000 nodes made here: a jittered grid city, junctions 50 m apart (central
Helsinki's walking network has one node per ~21 m), 12 % of links missing, a river crossed by a bridge every
15 blocks and a railway crossed every 20. Same origins (random nodes of the main piece),
same network, same 15-minute limit at 4.5 km/h, all peers in one run:

- **ours**: ``geo_service.walking.service.isochrones`` end to end (snap, search, polygon, back to WGS-84);
- **pgRouting**: ``pgr_drivingDistance`` over a bounding-box edges query + ``ST_ConcaveHull(nodes, 0.3)``
  (the shape people use since ``pgr_alphaShape`` was deprecated), timed from Python, one round trip;
- **OSMnx method**: ``networkx.ego_graph`` by cost, then nodes buffered 50 m and edges 25 m, unioned — once as
  the published OSMnx isochrone example writes it (GeoDataFrame per call, ``nodes_gdf.loc`` per edge,
  ``GeoSeries.unary_union``), once vectorised with shapely 2 (the same shapes, faster);
- **scipy**: ``scipy.sparse.csgraph.dijkstra`` with ``limit`` (the search alone, no polygon).

Shape quality on 30 origins per network: *recall* = share of nodes reachable within 15 min (exact Dijkstra)
inside the polygon; *leak* = share of the polygon's area farther than 40 m from every reachable edge.
Also the nearest-station search (50 stations) in-process.

    .venv/bin/python bench/isochrones.py [--origins 200] [--synthetic-side 1000] [--skip-synthetic]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pyrosm
import shapely
from pyproj import Transformer
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import LIECHTENSTEIN, bench_database, markdown_table
from geo_service.auth import Principal
from geo_service.crs import metric_epsg
from geo_service.db.pool import Database
from geo_service.osm.importer import import_osm
from geo_service.settings import ImportSettings, WalkingSettings
from geo_service.stations.service import StationContext, create_station, nearest_stations
from geo_service.store.bulk import copy_rows, ewkb_hex
from geo_service.walking import service
from geo_service.walking.graph import WalkGraph
from geo_service.walking.network import WalkNetwork, current_network

MINUTES = 15.0
SPEED = 4.5 / 3.6
LIMIT_M = MINUTES * 60 * SPEED
CORRIDOR_M = WalkingSettings().corridor_m


# -- networks ------------------------------------------------------------------------------------------------


def imported(db: Database, path: Path, name: str) -> None:
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT 1 FROM datasets WHERE name = %s", (name,))
        if cur.fetchone() is None:
            import_osm(db, path, name, ImportSettings(), progress=True)


SPACING_M = 50.0


def synthetic(db: Database, side: int, seed: int = 0) -> None:
    """A jittered grid city of side × side nodes, ``SPACING_M`` apart, stored as dataset ``synthetic``."""
    tag = f"{side}x{SPACING_M:g}"
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT stats->>'side' FROM datasets WHERE name = 'synthetic'")
        row = cur.fetchone()
        if row is not None and row[0] == tag:
            return
    rng = np.random.default_rng(seed)
    lon0, lat0 = 116.40, 39.90
    srid = metric_epsg(lon0, lat0)
    to_metric = Transformer.from_crs(4326, srid, always_xy=True)
    to_lonlat = Transformer.from_crs(srid, 4326, always_xy=True)
    x0, y0 = to_metric.transform(lon0, lat0)
    j, i = np.meshgrid(np.arange(side), np.arange(side))
    x = x0 + j.ravel() * SPACING_M + rng.normal(0, SPACING_M / 10, side * side)
    y = y0 + i.ravel() * SPACING_M + rng.normal(0, SPACING_M / 10, side * side)
    ids = np.arange(side * side, dtype=np.int64) + 1
    idx = np.arange(side * side).reshape(side, side)
    h_u, h_v = idx[:, :-1].ravel(), idx[:, 1:].ravel()
    v_u, v_v = idx[:-1, :].ravel(), idx[1:, :].ravel()
    keep_h = rng.random(h_u.size) > 0.12
    keep_v = rng.random(v_u.size) > 0.12
    river = side // 2  # vertical links across the river row only at bridges every 15 columns
    crossing = (idx[:-1, :] // side == river - 1).ravel()
    keep_v &= ~crossing | ((idx[:-1, :] % side) % 15 == 0).ravel()
    rail = side // 3  # horizontal links across the railway only every 20 rows
    across = (idx[:, :-1] % side == rail - 1).ravel()
    keep_h &= ~across | ((idx[:, :-1] // side) % 20 == 0).ravel()
    u = np.concatenate([h_u[keep_h], v_u[keep_v]])
    v = np.concatenate([h_v[keep_h], v_v[keep_v]])
    lon, lat = to_lonlat.transform(x, y)
    lon, lat = np.asarray(lon), np.asarray(lat)
    length = np.hypot(x[u] - x[v], y[u] - y[v])
    steps = rng.random(u.size) < 0.01
    lines = shapely.linestrings(
        np.stack([np.column_stack([lon[u], lat[u]]), np.column_stack([lon[v], lat[v]])], 1)
    )
    print(f"synthetic network: {side * side:,} nodes, {u.size:,} edges; writing to PostGIS …", flush=True)
    with db.connection() as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM datasets WHERE name = 'synthetic'")
        cur.execute(
            """INSERT INTO datasets (name, kind, srid, bbox, stats)
               VALUES ('synthetic', 'synthetic', %s, ST_MakeEnvelope(%s, %s, %s, %s, 4326), %s)""",
            (
                srid,
                float(lon.min()),
                float(lat.min()),
                float(lon.max()),
                float(lat.max()),
                f'{{"side": "{side}"}}',
            ),
        )
        with tqdm(total=side * side + u.size, desc="write synthetic", unit="row") as bar:
            copy_rows(
                cur,
                "walk_nodes",
                ["dataset", "id", "geom"],
                zip(["synthetic"] * ids.size, ids, ewkb_hex(shapely.points(lon, lat)), strict=True),
                bar.update,
            )
            copy_rows(
                cur,
                "walk_edges",
                ["dataset", "u", "v", "length_m", "highway", "steps", "geom"],
                zip(
                    ["synthetic"] * u.size,
                    ids[u],
                    ids[v],
                    length,
                    ["residential"] * u.size,
                    steps,
                    ewkb_hex(lines),
                    strict=True,
                ),
                bar.update,
            )
        cur.execute("ANALYZE walk_edges; ANALYZE walk_nodes")


# -- peers ---------------------------------------------------------------------------------------------------


def scipy_matrix(graph: WalkGraph) -> csr_matrix:
    n = graph.n_nodes
    rows = np.concatenate([graph.edge_u, graph.edge_v])
    cols = np.concatenate([graph.edge_v, graph.edge_u])
    return csr_matrix(
        (np.maximum(np.concatenate([graph.edge_cost, graph.edge_cost]), 1e-9), (rows, cols)), shape=(n, n)
    )


_LINES: dict[int, np.ndarray] = {}


def edge_lines(graph: WalkGraph) -> np.ndarray:
    """Every edge as a metric LineString (the graph keeps arrays only; made once per graph here)."""
    if id(graph) not in _LINES:
        lines = np.empty(graph.n_edges, dtype=object)
        lines[:] = [graph.edge_line(e) for e in range(graph.n_edges)]
        _LINES[id(graph)] = lines
    return _LINES[id(graph)]


def nx_graph(graph: WalkGraph) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(
        (int(k), {"x": float(graph.node_x[k]), "y": float(graph.node_y[k])}) for k in range(graph.n_nodes)
    )
    lines = edge_lines(graph)
    g.add_edges_from(
        (int(a), int(b), {"cost": float(c), "geometry": lines[e]})
        for e, (a, b, c) in enumerate(zip(graph.edge_u, graph.edge_v, graph.edge_cost, strict=True))
    )
    return g


def osmnx_example(g: nx.Graph, node: int) -> shapely.Geometry:
    """The OSMnx isochrone example as published (``make_iso_polys``, one trip time; metric CRS)."""
    import geopandas as gpd

    subgraph = nx.ego_graph(g, node, radius=LIMIT_M, distance="cost")
    node_points = [shapely.Point((data["x"], data["y"])) for _, data in subgraph.nodes(data=True)]
    nodes_gdf = gpd.GeoDataFrame({"id": list(subgraph.nodes)}, geometry=node_points).set_index("id")
    edge_lines = []
    for n_fr, n_to in subgraph.edges():
        f = nodes_gdf.loc[n_fr].geometry
        t = nodes_gdf.loc[n_to].geometry
        edge_lines.append(g.get_edge_data(n_fr, n_to).get("geometry", shapely.LineString([f, t])))
    n = nodes_gdf.buffer(50).geometry
    e = gpd.GeoSeries(edge_lines).buffer(25).geometry
    return gpd.GeoSeries(list(n) + list(e)).union_all()


def osmnx_method(g: nx.Graph, node: int) -> shapely.Geometry:
    """The OSMnx example's method vectorised: ego graph by cost, nodes buffered 50 m, edges 25 m, unioned."""
    sub = nx.ego_graph(g, node, radius=LIMIT_M, distance="cost")
    points = shapely.points([[d["x"], d["y"]] for _, d in sub.nodes(data=True)])
    lines = [d["geometry"] for _, _, d in sub.edges(data=True)]
    parts = np.concatenate([shapely.buffer(points, 50), shapely.buffer(np.array(lines, dtype=object), 25)])
    return shapely.union_all(parts)


PGR_SQL = """
WITH dd AS (
  SELECT node FROM pgr_drivingDistance(
    format('SELECT id, u AS source, v AS target, length_m * (CASE WHEN steps THEN 2.0 ELSE 1.0 END) AS cost,
                   length_m * (CASE WHEN steps THEN 2.0 ELSE 1.0 END) AS reverse_cost
            FROM walk_edges WHERE dataset = %%L AND geom && ST_MakeEnvelope(%%s, %%s, %%s, %%s, 4326)',
           %(dataset)s, %(w)s, %(s)s, %(e)s, %(n)s),
    %(start)s, %(limit)s, directed => false))
SELECT ST_AsBinary(ST_ConcaveHull(ST_Collect(n.geom), 0.3))
FROM dd JOIN walk_nodes n ON n.dataset = %(dataset)s AND n.id = dd.node
"""


def pgrouting(db: Database, dataset: str, osm_id: int, lon: float, lat: float) -> shapely.Geometry:
    lon, lat = float(lon), float(lat)
    dlat = LIMIT_M / 111_000 * 1.05
    dlon = dlat / math.cos(math.radians(lat))
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            PGR_SQL,
            {
                "dataset": dataset,
                "w": lon - dlon,
                "s": lat - dlat,
                "e": lon + dlon,
                "n": lat + dlat,
                "start": int(osm_id),
                "limit": LIMIT_M,
            },
        )
        (wkb,) = cur.fetchone()
    return shapely.from_wkb(bytes(wkb)) if wkb is not None else shapely.Polygon()


# -- measuring -----------------------------------------------------------------------------------------------


def p50_ms(fn, items, desc: str) -> float:
    times = []
    for item in tqdm(items, desc=desc, unit="origin", leave=False):
        start = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def quality(
    graph: WalkGraph, matrix: csr_matrix, node: int, polygon_metric: shapely.Geometry
) -> tuple[float, float]:
    """(recall, leak) of a metric polygon for an origin at ``node`` (see the module docstring)."""
    cost = dijkstra(matrix, directed=False, indices=node, limit=LIMIT_M * 1.5)
    inside = np.flatnonzero(cost <= LIMIT_M)
    points = shapely.points(graph.node_x[inside], graph.node_y[inside])
    recall = float(shapely.covers(polygon_metric, points).mean()) if inside.size else 1.0
    reach = np.minimum(cost[graph.edge_u], cost[graph.edge_v]) <= LIMIT_M
    near = shapely.union_all(shapely.buffer(edge_lines(graph)[reach], CORRIDOR_M + 1))
    area = polygon_metric.area
    leak = float(shapely.difference(polygon_metric, near).area / area) if area > 0 else 0.0
    return recall, leak


def to_metric(graph: WalkGraph, geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, lambda xy: np.column_stack(graph.project(xy[:, 0], xy[:, 1])))


def run_network(
    db: Database, network: WalkNetwork, name: str, origins_n: int, rows: list, quality_rows: list
) -> None:
    graph = next(g for g in network.graphs if g.name == name)
    main = np.flatnonzero(graph.component == np.bincount(graph.component).argmax())
    rng = np.random.default_rng(1)
    origins = rng.choice(main, size=min(origins_n, main.size), replace=False)
    label = {"helsinki": "(a) Helsinki", "liechtenstein": "(b) Liechtenstein", "synthetic": "(c) synthetic"}[
        name
    ]
    print(f"{label}: {graph.n_nodes:,} nodes, {graph.n_edges:,} edges; building peers …", flush=True)
    matrix = scipy_matrix(graph)
    g = nx_graph(graph)

    # once, as the server holds its own (each WalkingSettings() reads the environment, ~0.5 ms)
    settings = WalkingSettings()

    def ours(k: int, minutes=(MINUTES,)) -> list[service.Contour]:
        return service.isochrones(
            network, [[graph.node_lon[k], graph.node_lat[k]]], list(minutes), settings=settings
        )

    for k in origins[:5]:
        ours(k)  # compile and warm caches
    t_ours = p50_ms(ours, origins, f"{name}: ours")
    t_ours3 = p50_ms(lambda k: ours(k, (5, 10, 15)), origins, f"{name}: ours 3 contours")
    t_scipy = p50_ms(
        lambda k: dijkstra(matrix, directed=False, indices=int(k), limit=LIMIT_M), origins, f"{name}: scipy"
    )
    t_pgr = p50_ms(
        lambda k: pgrouting(db, name, graph.node_id[k], graph.node_lon[k], graph.node_lat[k]),
        origins,
        f"{name}: pgRouting",
    )
    t_osmnx = p50_ms(lambda k: osmnx_method(g, int(k)), origins, f"{name}: OSMnx method")
    t_example = p50_ms(lambda k: osmnx_example(g, int(k)), origins, f"{name}: OSMnx example")
    rows += [
        [label, "geo-service isochrone (15 min, 1 contour)", f"{t_ours:.2f}", "1×"],
        [label, "geo-service isochrone (5/10/15 min, 3 contours)", f"{t_ours3:.2f}", "—"],
        [label, "pgRouting pgr_drivingDistance + ST_ConcaveHull", f"{t_pgr:.2f}", f"{t_pgr / t_ours:.1f}×"],
        [
            label,
            "OSMnx isochrone example as published (ego_graph + buffers + union)",
            f"{t_example:.2f}",
            f"{t_example / t_ours:.1f}×",
        ],
        [label, "… the same method vectorised with shapely 2", f"{t_osmnx:.2f}", f"{t_osmnx / t_ours:.1f}×"],
        [label, "scipy bounded Dijkstra (search only, no polygon)", f"{t_scipy:.3f}", "—"],
    ]
    if name != "synthetic":
        stations_p50 = nearest_bench(db, network, graph, origins)
        rows.append([label, "nearest open station (50 stations, one search)", f"{stations_p50:.2f}", "—"])
    for method, make in (
        ("geo-service", lambda k: to_metric(graph, ours(k)[0].geometry)),
        (
            "pgRouting + ST_ConcaveHull",
            lambda k: to_metric(
                graph, pgrouting(db, name, graph.node_id[k], graph.node_lon[k], graph.node_lat[k])
            ),
        ),
        ("OSMnx method", lambda k: osmnx_method(g, int(k))),
    ):
        scores = [quality(graph, matrix, int(k), make(k)) for k in origins[:30]]
        quality_rows.append(
            [
                label,
                method,
                f"{100 * np.mean([s[0] for s in scores]):.1f}%",
                f"{100 * np.mean([s[1] for s in scores]):.1f}%",
            ]
        )


def nearest_bench(db: Database, network: WalkNetwork, graph: WalkGraph, origins: np.ndarray) -> float:
    ctx = StationContext.create("Asia/Shanghai")
    admin = Principal(0, "admin", "bench")
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT count(*) FROM stations WHERE name LIKE %s", (f"bench {graph.name} %",))
        have = cur.fetchone()[0]
    rng = np.random.default_rng(3)
    for i, k in enumerate(rng.choice(graph.n_nodes, 50 - have, replace=False) if have < 50 else []):
        create_station(
            db,
            ctx,
            {
                "type": "Feature",
                "geometry": {
                    "type": "Point",
                    "coordinates": [float(graph.node_lon[k]), float(graph.node_lat[k])],
                },
                "properties": {
                    "name": f"bench {graph.name} {i}",
                    "kind": "care_station",
                    "amenities": ["hot_water"],
                    "opening_hours": "Mo-Su 06:00-22:00",
                },
            },
            admin,
        )
    call = lambda k: nearest_stations(  # noqa: E731
        db,
        ctx,
        float(graph.node_lon[k]),
        float(graph.node_lat[k]),
        open_now=True,
        at="2026-12-01T12:00:00+08:00",
        amenities=["hot_water"],
    )
    for k in origins[:5]:
        call(k)
    return p50_ms(call, origins, f"{graph.name}: nearest stations")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--origins", type=int, default=200)
    parser.add_argument(
        "--synthetic-side", type=int, default=1000, help="nodes per side of the synthetic grid"
    )
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args()
    db = bench_database("gs_bench_walk", helsinki=True)
    with db.cursor(dict_rows=False) as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
    imported(db, pyrosm.get_data("helsinki_pbf"), "helsinki")
    names = ["helsinki"]
    if LIECHTENSTEIN.exists():
        imported(db, LIECHTENSTEIN, "liechtenstein")
        names.append("liechtenstein")
    if not args.skip_synthetic:
        synthetic(db, args.synthetic_side)
        names.append("synthetic")
    else:
        with db.cursor() as cur:
            cur.execute("DELETE FROM datasets WHERE name = 'synthetic'")
    start = time.perf_counter()
    network = current_network(db)
    print(f"walking network loaded in {time.perf_counter() - start:.1f} s", flush=True)
    rows: list = []
    quality_rows: list = []
    for name in names:
        run_network(db, network, name, args.origins, rows, quality_rows)
    print()
    print(f"15-minute walking isochrones at 4.5 km/h, {args.origins} random origins, p50 per origin:\n")
    print(markdown_table(["network", "method", "p50 ms", "÷ ours"], rows))
    print(
        "\nShape quality (30 origins; recall: reachable nodes inside; leak: area beyond 40 m of reachable streets):\n"
    )
    print(markdown_table(["network", "method", "recall", "leak"], quality_rows))


if __name__ == "__main__":
    main()
