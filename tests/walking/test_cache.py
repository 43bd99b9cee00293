"""The walking graph's disk cache, its memory maps, the bounded search workspaces and the grid snapping."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import signal
import threading
from pathlib import Path

import numpy as np
import shapely

from geo_service.db.pool import Database
from geo_service.settings import WalkingSettings
from geo_service.walking import isochrones, load_network, route, travel_matrix
from geo_service.walking.network import workspace_pool
from geo_service.walking.warm import warm_up

ORIGIN = [24.9384, 60.1699]


def _settings(tmp_path: Path, **kw: object) -> WalkingSettings:
    return WalkingSettings(cache_dir=tmp_path / "walk-cache", **kw)


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_ino for p in folder.rglob("*.npy")}


def test_graph_is_cached_per_revision_and_mapped(db, tmp_path):
    settings = _settings(tmp_path)
    first = load_network(db, settings)
    folder = first.cache_folder
    assert folder is not None and folder.is_dir() and folder.parent.parent == settings.cache_dir
    graph = first.graphs[0]
    # every array is a read-only map of a file in the revision's folder, not a private copy
    assert isinstance(graph.node_x.base, np.memmap) and not graph.node_x.flags.writeable
    assert Path(graph.edge_cost.base.filename).parent.parent == folder
    files = _files(folder)
    second = load_network(db, settings)
    assert second.cache_folder == folder
    assert _files(folder) == files  # read again, not rewritten
    # the same arrays as a graph built straight from the database without the cache
    built = load_network(db, _settings(tmp_path, cache=False))
    assert built.cache_folder is None and not isinstance(built.graphs[0].node_x.base, np.memmap)
    for name, array in built.graphs[0].arrays().items():
        np.testing.assert_array_equal(np.asarray(getattr(second.graphs[0], name)), array, err_msg=name)


def test_results_identical_from_the_cache(db, tmp_path):
    mapped = load_network(db, _settings(tmp_path))
    built = load_network(db, _settings(tmp_path, cache=False))
    a = isochrones(mapped, [ORIGIN], [5, 10])
    b = isochrones(built, [ORIGIN], [5, 10])
    assert [shapely.equals_exact(x.geometry, y.geometry, 0) for x, y in zip(a, b, strict=True)] == [
        True,
        True,
    ]
    ra, rb = route(mapped, ORIGIN, [24.9500, 60.1720]), route(built, ORIGIN, [24.9500, 60.1720])
    assert ra.walk_seconds == rb.walk_seconds and ra.geometry.equals_exact(rb.geometry, 0)


def test_new_revision_gets_a_new_folder_and_drops_the_old(fresh_db, tmp_path):
    settings = _settings(tmp_path)
    old = load_network(fresh_db, settings)
    edges = old.graphs[0].n_edges
    with fresh_db.connection() as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM walk_edges WHERE id = (SELECT min(id) FROM walk_edges)")
    new = load_network(fresh_db, settings)
    assert new.revision > old.revision
    assert new.cache_folder != old.cache_folder
    assert new.graphs[0].n_edges == edges - 1
    assert not old.cache_folder.exists()  # the older revision's files are gone from disk
    assert new.cache_folder.is_dir()
    # a process still holding the old maps keeps reading them after the files were removed
    assert old.graphs[0].n_edges == edges and np.isfinite(np.asarray(old.graphs[0].edge_cost)).all()


def _load_in_child(dsn: str, cache_dir: str, barrier: object, results: object, crash: bool = False) -> None:
    """A separate server process loading the network (spawned: nothing shared with the test's process)."""
    if crash:  # killed half-way through writing its cache folder, as by the OOM killer or kill -9
        real_save = np.save

        def save_then_die(*args: object, **kwargs: object) -> None:
            real_save(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)

        np.save = save_then_die
    db = Database(dsn, max_size=1, listen=False)
    try:
        barrier.wait(timeout=300)  # type: ignore[attr-defined]
        network = load_network(db, WalkingSettings(cache_dir=Path(cache_dir)))
        results.put((os.getpid(), network.built, str(network.cache_folder)))  # type: ignore[attr-defined]
    finally:
        db.close()


def _start_together(dsn: str, cache_dir: Path, n: int) -> list[tuple[int, bool, str]]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [
        ctx.Process(target=_load_in_child, args=(dsn, str(cache_dir), barrier, results)) for _ in range(n)
    ]
    for p in procs:
        p.start()
    got = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return got


def _states(cache_dir: Path) -> list[str]:
    """Every folder left in the cache (revision folders and any temporary ones), by name."""
    return sorted(p.name for p in cache_dir.glob("*/*") if p.is_dir())


def test_processes_starting_together_build_once_and_leave_no_stale_folder(fresh_db, tmp_path):
    cache_dir = tmp_path / "walk-cache"
    first = _start_together(fresh_db.dsn, cache_dir, 4)
    assert sorted(built for _, built, _ in first) == [False, False, False, True]  # one built, three mapped it
    assert len({folder for *_, folder in first}) == 1
    assert _states(cache_dir) == [Path(first[0][2]).name]
    # a re-import moves the revision: again one build among the processes, and the old state is gone
    with fresh_db.connection() as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM walk_edges WHERE id = (SELECT min(id) FROM walk_edges)")
    second = _start_together(fresh_db.dsn, cache_dir, 3)
    assert sorted(built for _, built, _ in second) == [False, False, True]
    new_folder = {folder for *_, folder in second}
    assert len(new_folder) == 1 and new_folder != {first[0][2]}
    assert _states(cache_dir) == [Path(new_folder.pop()).name]


def test_a_builder_killed_half_way_leaves_no_half_cache(fresh_db, tmp_path):
    cache_dir = tmp_path / "walk-cache"
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(1), ctx.Queue()
    proc = ctx.Process(target=_load_in_child, args=(fresh_db.dsn, str(cache_dir), barrier, results, True))
    proc.start()
    proc.join(timeout=600)
    assert proc.exitcode == -signal.SIGKILL
    left = _states(cache_dir)
    assert left and all(name.startswith(".tmp-") for name in left)  # only the unfinished temporary folder
    network = load_network(fresh_db, _settings(tmp_path))  # the next process builds a whole folder
    assert network.built and network.cache_folder is not None
    assert _states(cache_dir) == [network.cache_folder.name]  # and removed the leftover
    assert np.isfinite(np.asarray(network.graphs[0].edge_cost)).all()


def test_a_state_being_mapped_is_removed_only_afterwards(fresh_db, tmp_path):
    settings = _settings(tmp_path)
    old = load_network(fresh_db, settings)
    assert old.cache_folder is not None
    with fresh_db.connection() as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM walk_edges WHERE id = (SELECT min(id) FROM walk_edges)")
    # another process is in the middle of mapping the old state (cache.load holds this shared lock meanwhile)
    with open(old.cache_folder / "graphs.json", "rb") as manifest:
        fcntl.flock(manifest, fcntl.LOCK_SH)
        new = load_network(fresh_db, settings)
        assert new.built and old.cache_folder.is_dir()  # not removed under the reader
    again = load_network(fresh_db, settings)  # the next load (here: a mapping of the new state) tidies up
    assert not again.built and again.cache_folder == new.cache_folder
    assert _states(settings.cache_dir) == [new.cache_folder.name]


def test_workspace_pool_is_bounded(db, tmp_path):
    network = load_network(db, _settings(tmp_path))
    graph = network.graphs[0]
    pool = workspace_pool(graph, size=2)
    rng = np.random.default_rng(5)
    lon = ORIGIN[0] + rng.uniform(-0.01, 0.01, 6)
    lat = ORIGIN[1] + rng.uniform(-0.004, 0.004, 6)
    points = np.column_stack([lon, lat])
    expected = travel_matrix(network, points, points, 900.0)
    results: list[object] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                results.append(travel_matrix(network, points, points, 900.0))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 24
    assert pool.created <= 2  # 8 threads, never more than the pool's two sets of work arrays
    for got in results:
        np.testing.assert_array_equal(got.seconds, expected.seconds)
        np.testing.assert_array_equal(got.cols, expected.cols)


def test_grid_snapping_finds_the_nearest_edge(db, tmp_path):
    """The grid search gives the same distances as a shapely STRtree over the same edges, surface first."""
    graph = load_network(db, _settings(tmp_path)).graphs[0]
    lines = np.array([graph.edge_line(e) for e in range(graph.n_edges)])
    surface = np.flatnonzero(~np.asarray(graph.edge_underground))
    tree = shapely.STRtree(lines[surface])
    rng = np.random.default_rng(9)
    cx, cy = float(np.median(graph.node_x)), float(np.median(graph.node_y))
    x = cx + rng.uniform(-1500, 1500, 400)
    y = cy + rng.uniform(-1500, 1500, 400)
    snap = graph.snap(x, y, 300.0)
    (which, _hit), dist = tree.query_nearest(
        shapely.points(x, y), max_distance=300.0, return_distance=True, all_matches=False
    )
    reference = np.full(x.shape[0], np.inf)
    reference[which] = dist
    found = np.isfinite(reference)
    assert found.sum() > 100
    np.testing.assert_allclose(snap.distance_m[found], reference[found], atol=1e-6)
    assert not np.asarray(graph.edge_underground)[snap.edge[found]].any()
    # far beyond the grid's rings: the exhaustive search still finds the nearest edge
    far = graph.snap(np.array([cx + 20_000.0]), np.array([cy]), 1e9)
    all_tree = shapely.STRtree(lines)
    _, d = all_tree.query_nearest(
        shapely.points([cx + 20_000.0], [cy]), return_distance=True, all_matches=False
    )
    assert abs(far.distance_m[0] - d[0]) < 1e-6


def _compiled() -> dict[str, int]:
    """Machine-code variants per numba kernel of the walking engine."""
    from geo_service.walking import isochrone, search, snapping

    return {
        f"{module.__name__}.{name}": len(kernel.signatures)
        for module in (isochrone, search, snapping)
        for name, kernel in vars(module).items()
        if hasattr(kernel, "signatures") and hasattr(kernel, "py_func")
    }


def _searches_after_warm_up(dsn: str, cache_dir: str, results: object) -> None:
    """In a new interpreter: warm up, then search a network mapped from the disk cache; reports the kernels'
    machine-code variants before and after the searches."""
    warm_up()
    before = _compiled()
    db = Database(dsn, max_size=1, listen=False)
    try:
        network = load_network(db, WalkingSettings(cache_dir=Path(cache_dir)))
        assert network.cache_folder is not None and not network.graphs[0].node_x.flags.writeable
        isochrones(network, [ORIGIN], [5, 10])
        route(network, ORIGIN, [24.9500, 60.1720])
        points = np.array([ORIGIN, [24.9500, 60.1720]])
        travel_matrix(network, points, points, 900.0)
    finally:
        db.close()
    results.put((before, _compiled()))  # type: ignore[attr-defined]


def test_warm_up_covers_a_memory_mapped_network(db, tmp_path):
    """After the warm-up, searching a network mapped from the disk cache (read-only arrays: another numba type
    than the arrays a graph is built in) compiles nothing more: the first request does not wait for numba.
    A new interpreter, so that nothing this test process ran before has compiled the mapped variants."""
    load_network(db, _settings(tmp_path))  # the cache folder the child maps
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    proc = ctx.Process(target=_searches_after_warm_up, args=(db.dsn, str(tmp_path / "walk-cache"), results))
    proc.start()
    before, after = results.get(timeout=600)
    proc.join(timeout=60)
    assert proc.exitcode == 0
    assert sum(before.values()) > 0
    assert after == before


def test_warm_up_compiles_without_a_network(db):
    from geo_service.walking.network import _NETWORKS

    assert warm_up() >= 0
    assert _NETWORKS._slots.get(db.cache_owner) is None  # nothing loaded for this database
