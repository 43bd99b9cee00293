"""A batch window's index answers as the service's whole locate index does, building a coarser level's lattice
only when a point misses every finer one; the worker preload imports what a fresh worker's first task would."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import shapely

from geo_service.batch import compute
from geo_service.batch.jobs import WORKER_PRELOAD, worker_config
from geo_service.locate.index import LocateIndex


def _rows() -> list[dict[str, object]]:
    """A district of two streets; the west street has two communities, each of four grids but the last
    community only three (a hole where the community answers); the east street has no community."""
    rows: list[dict[str, object]] = []

    def add(code: str, level: str, parent: str | None, box: tuple[float, float, float, float]) -> None:
        wkb = shapely.to_wkb(shapely.box(*box))
        rows.append(
            {
                "code": code,
                "name": f"名{code}",
                "level": level,
                "parent_code": parent,
                "version": 1,
                "wkb": wkb,
            }
        )

    add("D1", "district", None, (0.0, 0.0, 2.0, 1.0))
    add("D1S1", "street", "D1", (0.0, 0.0, 1.0, 1.0))
    add("D1S2", "street", "D1", (1.0, 0.0, 2.0, 1.0))
    for c, x in enumerate((0.0, 0.5)):
        community = f"D1S1C{c}"
        add(community, "community", "D1S1", (x, 0.0, x + 0.5, 1.0))
        for g in range(4 if c == 0 else 3):
            gx, gy = x + 0.25 * (g % 2), 0.5 * (g // 2)
            add(f"{community}G{g}", "grid", community, (gx, gy, gx + 0.25, gy + 0.5))
    return rows


def test_a_window_index_answers_as_the_locate_index_and_builds_coarse_levels_on_demand() -> None:
    rows = _rows()
    whole, window = LocateIndex(1, rows), compute.WindowIndex(1, rows)
    assert sorted(window._lattices) == ["grid"]  # the other levels wait for a point outside every grid

    inside = compute.locate_points(window, np.array([0.1, 0.6]), np.array([0.1, 0.2]))
    assert list(inside["grid_code"]) == ["D1S1C0G0", "D1S1C1G0"]
    assert sorted(window._lattices) == ["grid"]

    kept = pickle.loads(pickle.dumps(window))  # as a window kept on disk is loaded by another process
    kept.prepare()
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(-0.2, 2.2, 20_000), rng.uniform(-0.2, 1.2, 20_000)
    # the points on shared edges: the lowest code wins on either side
    lon[:4], lat[:4] = [0.25, 0.5, 1.0, 0.75], [0.25, 0.5, 0.5, 0.5]
    expected = compute.locate_points(whole, lon, lat)
    for index in (window, kept):
        got = compute.locate_points(index, lon, lat)
        for name in compute.LOCATE_COLUMNS:
            assert (got[name] == expected[name]).all(), name
    assert sorted(kept._lattices) == ["community", "district", "grid", "street"]
    hole = compute.locate_points(window, np.array([0.9]), np.array([0.9]))
    assert (hole["grid_code"][0], hole["community_code"][0]) == (None, "D1S1C1")
    east = compute.locate_points(window, np.array([1.5]), np.array([0.5]))
    assert (east["community_code"][0], east["street_code"][0]) == (None, "D1S2")


def test_the_worker_preload_imports_what_a_first_task_would() -> None:
    # a fresh interpreter, as a worker process starts: the lattice's scipy.ndimage comes with the preload
    code = (
        f"import sys, importlib; importlib.import_module({WORKER_PRELOAD!r}); "
        "print(all(m in sys.modules for m in "
        "('scipy.ndimage', 'pyarrow.parquet', 'pyproj', 'geo_service.batch.jobs', 'geo_service.locate.lattice')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"


def test_a_local_cluster_preloads_and_waits_for_a_restarting_worker() -> None:
    # Dask closes a lost worker's nanny after distributed.deploy.lost-worker-timeout (15 s by default): a
    # worker restarting with the preload's imports on a loaded machine took longer, and never came back
    from dask.utils import parse_timedelta

    config = worker_config()
    assert WORKER_PRELOAD in config["distributed.worker.preload"]
    assert parse_timedelta(config["distributed.deploy.lost-worker-timeout"]) >= 120
