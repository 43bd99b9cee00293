"""Walking graph memory and load time: this engine against its previous version and pandana, same network.

The network is the synthetic street grid of ``bench/isochrones.py`` (a jittered grid city, junctions 50 m
apart, 12 % of links missing, a river and a railway with few crossings), ``--side`` nodes a side (1,000 →
1,000,000 nodes, ~1.76 M edges), made once here; or an imported OpenStreetMap extract (``--pbf``). Each
variant runs in a fresh Python process, the variants interleaved, ``--repeat`` times; the table shows
medians (and the spread):

- **previous engine** (``main`` before issue 16, from ``git archive``): ``build_graph`` in memory (CSR +
  shapely LineStrings + two STRtrees), then ``--requests`` 15-minute isochrones from 16 threads (its
  per-thread search arrays);
- **ours, build**: ``build_graph`` from the same arrays (what a process does once per network revision), then
  written to the disk cache;
- **ours, mapped**: a new process maps the cached arrays (``load_network``'s path for every later process and
  revision check), then the same isochrones from 16 threads (a pool of 4 search workspaces);
- **ours, second process**: a second process maps the same files while the first still holds them: its
  proportional share (PSS) shows what the pages cost when shared;
- **networkx**: ``Graph.add_weighted_edges_from`` on the same edges (the graph OSMnx users hold);
- **pandana** 0.8 (``--pandana``): ``pandana.Network`` (its contraction hierarchy) from the same nodes and
  edges; minutes of CPU at this size, so optional (its ``precompute`` is left out).

Resident bytes per node = (RSS after − RSS before) ÷ nodes; before the first reading each process has
imported the engine, compiled (or loaded) its kernels on a tiny graph and read the input arrays, so the
figures are the graph (and its search arrays), not the code. Load seconds are wall time in one process on this shared 2-core machine.

    .venv/bin/python bench/walking_memory.py [--side 1000] [--repeat 3] [--requests 100]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
if "--child" in sys.argv and sys.argv[sys.argv.index("--child") + 1] == "previous":
    # the previous engine's tree (cwd) before the editable install, whose import hook would come first
    sys.meta_path[:] = [
        f
        for f in sys.meta_path
        if "editable" not in str(getattr(f, "__module__", "")).lower()
        and "editable" not in str(getattr(f, "__name__", "")).lower()
    ]
    sys.path.insert(0, os.getcwd())
from bench.common import REPO, markdown_table

SPACING_M = 50.0
LIMIT_M = 15 * 60 * 4.5 / 3.6


def synthetic_arrays(side: int, seed: int = 0) -> dict[str, np.ndarray]:
    """The synthetic city of ``bench/isochrones.py`` as plain arrays (WGS-84 nodes, edges between ids)."""
    from pyproj import Transformer

    from geo_service.crs import metric_epsg

    rng = np.random.default_rng(seed)
    lon0, lat0 = 116.40, 39.90
    srid = metric_epsg(lon0, lat0)
    x0, y0 = Transformer.from_crs(4326, srid, always_xy=True).transform(lon0, lat0)
    j, i = np.meshgrid(np.arange(side), np.arange(side))
    x = x0 + j.ravel() * SPACING_M + rng.normal(0, SPACING_M / 10, side * side)
    y = y0 + i.ravel() * SPACING_M + rng.normal(0, SPACING_M / 10, side * side)
    idx = np.arange(side * side).reshape(side, side)
    h_u, h_v = idx[:, :-1].ravel(), idx[:, 1:].ravel()
    v_u, v_v = idx[:-1, :].ravel(), idx[1:, :].ravel()
    keep_h = rng.random(h_u.size) > 0.12
    keep_v = rng.random(v_u.size) > 0.12
    river = side // 2
    crossing = (idx[:-1, :] // side == river - 1).ravel()
    keep_v &= ~crossing | ((idx[:-1, :] % side) % 15 == 0).ravel()
    rail = side // 3
    across = (idx[:, :-1] % side == rail - 1).ravel()
    keep_h &= ~across | ((idx[:, :-1] // side) % 20 == 0).ravel()
    u = np.concatenate([h_u[keep_h], v_u[keep_v]])
    v = np.concatenate([h_v[keep_h], v_v[keep_v]])
    lon, lat = Transformer.from_crs(srid, 4326, always_xy=True).transform(x, y)
    return {
        "srid": np.array([srid]),
        "node_id": np.arange(side * side, dtype=np.int64) + 1,
        "lon": np.asarray(lon),
        "lat": np.asarray(lat),
        "u": u + 1,
        "v": v + 1,
        "length": np.hypot(x[u] - x[v], y[u] - y[v]),
        "steps": rng.random(u.size) < 0.01,
    }


# -- the child process ----------------------------------------------------------------------------------------


def _memory() -> dict[str, int]:
    import psutil

    info = psutil.Process().memory_full_info()
    return {"rss": info.rss, "pss": getattr(info, "pss", info.rss), "uss": info.uss}


def _lines(a: dict[str, np.ndarray]) -> np.ndarray:
    import shapely

    index = np.searchsorted(a["node_id"], a["u"]), np.searchsorted(a["node_id"], a["v"])
    start = np.column_stack([a["lon"][index[0]], a["lat"][index[0]]])
    end = np.column_stack([a["lon"][index[1]], a["lat"][index[1]]])
    return shapely.linestrings(np.stack([start, end], 1))


def _requests(network: object, service: object, a: dict[str, np.ndarray], count: int) -> float:
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(3)
    picks = rng.choice(a["node_id"].shape[0], count, replace=False)
    origins = [[float(a["lon"][k]), float(a["lat"][k])] for k in picks]
    start = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda o: service.isochrones(network, [o], [15.0]), origins))  # type: ignore[attr-defined]
    return time.perf_counter() - start


def _warm(build_graph: object, network_class: object, service: object) -> None:
    """Compile (or load) the engine's kernels and make its transformers on a tiny graph, before measuring."""
    import shapely

    lon = 116.40 + np.array([0.0, 0.001, 0.002, 0.0, 0.001, 0.002])
    lat = 39.90 + np.array([0.0, 0.0, 0.0, 0.001, 0.001, 0.001])
    u = np.array([1, 2, 4, 5, 1, 2, 3], np.int64)
    v = np.array([2, 3, 5, 6, 4, 5, 6], np.int64)
    lines = shapely.linestrings(
        np.stack([np.column_stack([lon[u - 1], lat[u - 1]]), np.column_stack([lon[v - 1], lat[v - 1]])], 1)
    )
    graph = build_graph(
        "warm",
        None,
        np.arange(1, 7),
        lon,
        lat,
        np.arange(7),
        u,
        v,
        np.full(7, 90.0),  # type: ignore[operator]
        np.zeros(7, bool),
        lines,
    )
    service.isochrones(network_class(0, [graph]), [[lon[0], lat[0]]], [1.0])  # type: ignore[attr-defined,operator]


def child(variant: str, data: Path, cache_dir: Path, requests: int) -> dict[str, float]:
    import geo_service.walking.service as service
    from geo_service.walking.graph import build_graph
    from geo_service.walking.network import WalkNetwork

    _warm(build_graph, WalkNetwork, service)
    loaded = np.load(data)
    a = {k: loaded[k] for k in loaded.files}
    n = int(a["node_id"].shape[0])
    out: dict[str, float] = {"nodes": n}
    if variant in ("previous", "build"):
        lines = _lines(a)
        m = int(a["u"].shape[0])
        before = _memory()
        start = time.perf_counter()
        out["engine"] = service.__file__  # type: ignore[assignment]
        graph = build_graph(
            "synthetic",
            int(a["srid"][0]),
            a["node_id"],
            a["lon"],
            a["lat"],
            np.arange(m),
            a["u"],
            a["v"],
            a["length"],
            a["steps"],
            lines,
        )
        del lines
        out["load_s"] = time.perf_counter() - start
        after = _memory()
        out["graph_bytes_per_node"] = (after["rss"] - before["rss"]) / n
        if variant == "build":
            from geo_service.walking import cache

            folder = cache_dir / "synthetic"
            if not (folder / "graphs.json").exists():
                cache.save(folder, [graph])
            out["arrays_bytes_per_node"] = graph.nbytes() / n
        network = WalkNetwork(0, [graph])
        out["requests_s"] = _requests(network, service, a, requests)
        out["after_requests_bytes_per_node"] = (_memory()["rss"] - before["rss"]) / n
    elif variant in ("mapped", "second"):
        from geo_service.walking import cache

        before = _memory()
        start = time.perf_counter()
        graphs = cache.load(cache_dir / "synthetic")
        assert graphs is not None
        out["load_s"] = time.perf_counter() - start
        network = WalkNetwork(0, graphs)
        out["requests_s"] = _requests(network, service, a, requests)
        after = _memory()
        out["after_requests_bytes_per_node"] = (after["rss"] - before["rss"]) / n
        out["pss_bytes_per_node"] = (after["pss"] - before["pss"]) / n
        for graph in graphs:  # every page of every array read once: the most a process can hold
            for array in graph.arrays().values():
                np.asarray(array).sum()
        out["all_pages_bytes_per_node"] = (_memory()["rss"] - before["rss"]) / n
        if variant == "mapped":  # a second process maps the same files while this one holds them
            second = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    "second",
                    "--data",
                    str(data),
                    "--cache-dir",
                    str(cache_dir),
                    "--requests",
                    str(requests),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            other = _result(second.stdout)
            out["second_pss_bytes_per_node"] = other["pss_bytes_per_node"]
            out["pss_bytes_per_node"] = (_memory()["pss"] - before["pss"]) / n
    elif variant == "networkx":
        import networkx as nx

        before = _memory()
        start = time.perf_counter()
        g = nx.Graph()
        g.add_weighted_edges_from(zip(a["u"].tolist(), a["v"].tolist(), a["length"].tolist(), strict=True))
        out["load_s"] = time.perf_counter() - start
        out["graph_bytes_per_node"] = (_memory()["rss"] - before["rss"]) / n
    elif variant == "pandana":
        import pandana
        import pandas as pd
        from pyproj import Transformer

        srid = int(a["srid"][0])
        x, y = Transformer.from_crs(4326, srid, always_xy=True).transform(a["lon"], a["lat"])
        nodes = pd.DataFrame({"x": x, "y": y}, index=a["node_id"])
        edges = pd.DataFrame({"from": a["u"], "to": a["v"], "w": a["length"]})
        before = _memory()
        start = time.perf_counter()
        net = pandana.Network(nodes["x"], nodes["y"], edges["from"], edges["to"], edges[["w"]], twoway=True)
        out["load_s"] = time.perf_counter() - start
        out["graph_bytes_per_node"] = (_memory()["rss"] - before["rss"]) / n
        out["pandana_nodes"] = float(len(net.node_ids))
    return out


# -- the parent ---------------------------------------------------------------------------------------------


def _result(stdout: str) -> dict[str, float]:
    return json.loads(stdout.rsplit("RESULT ", 1)[1].splitlines()[0])


def run_child(variant: str, data: Path, cache_dir: Path, requests: int, old_tree: Path) -> dict[str, float]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(old_tree if variant == "previous" else REPO)
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            variant,
            "--data",
            str(data),
            "--cache-dir",
            str(cache_dir),
            "--requests",
            str(requests),
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=str(old_tree if variant == "previous" else REPO),
    )
    if proc.returncode != 0 or "RESULT " not in proc.stdout:
        raise RuntimeError(f"{variant} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return _result(proc.stdout)


def previous_engine(tmp: Path, ref: str) -> Path:
    """The package as it was on ``ref``, unpacked beside (not over) this checkout."""
    tree = tmp / "previous"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref, "geo_service"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def _fmt(values: list[float], digits: int = 0) -> str:
    med = statistics.median(values)
    if len(values) > 1:
        return f"{med:,.{digits}f} ({min(values):,.{digits}f}–{max(values):,.{digits}f})"
    return f"{med:,.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--side", type=int, default=1000, help="nodes a side of the synthetic grid")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100, help="isochrones after loading (16 threads)")
    parser.add_argument("--previous", default="f906519", help="git ref of the previous engine")
    parser.add_argument("--skip-peers", action="store_true", help="ours only (quick runs)")
    parser.add_argument("--pandana", action="store_true", help="add pandana (minutes at 1,000,000 nodes)")
    parser.add_argument("--child")
    parser.add_argument("--data")
    parser.add_argument("--cache-dir")
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args.child, Path(args.data), Path(args.cache_dir), args.requests)))
        return
    with tempfile.TemporaryDirectory(prefix="walk-mem-") as tmp_name:
        tmp = Path(tmp_name)
        data = tmp / "network.npz"
        arrays = synthetic_arrays(args.side)
        np.savez(data, **arrays)
        n, m = arrays["node_id"].shape[0], arrays["u"].shape[0]
        print(f"synthetic network: {n:,} nodes, {m:,} edges", flush=True)
        variants = ["build", "mapped"] if args.skip_peers else ["previous", "build", "mapped", "networkx"]
        if args.pandana:
            variants.append("pandana")
        old_tree = previous_engine(tmp, args.previous) if "previous" in variants else tmp
        results: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
        for r in range(args.repeat):
            cache_dir = tmp / f"cache-{r}"
            for variant in variants:  # interleaved: one of each per round
                got = run_child(variant, data, cache_dir, args.requests, old_tree)
                results[variant].append(got)
                print(variant, got, flush=True)
    label = {
        "previous": "previous engine (in-memory build)",
        "build": "ours: build from arrays + write cache",
        "mapped": "ours: map the cache (every later load)",
        "pandana": "pandana 0.8 Network",
        "networkx": "networkx Graph (weighted edges)",
    }
    rows = []
    for variant, runs in results.items():
        col = lambda key, digits=0, runs=runs: _fmt([r[key] for r in runs], digits) if key in runs[0] else "—"  # noqa: E731
        resident = col("graph_bytes_per_node") if "graph_bytes_per_node" in runs[0] else "—"
        rows.append(
            [
                label[variant],
                col("load_s", 2),
                resident,
                col("after_requests_bytes_per_node"),
                col("all_pages_bytes_per_node"),
                col("pss_bytes_per_node"),
                col("second_pss_bytes_per_node"),
                col("requests_s", 2),
            ]
        )
    print()
    print(f"{n:,} nodes, {m:,} edges; medians of {args.repeat} interleaved runs (min–max)")
    print(
        markdown_table(
            [
                "variant",
                "load s",
                "graph resident B/node",
                f"RSS after {args.requests} isochrones B/node",
                "RSS, every page read B/node",
                "PSS B/node",
                "2nd process PSS B/node",
                f"{args.requests} isochrones s",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
