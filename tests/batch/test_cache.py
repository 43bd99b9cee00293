"""The worker-side cache of built windows: built once per key, bounded by its estimate of bytes, the least
recently used window first out, the window in use never."""

from __future__ import annotations

import pickle
import threading

import numpy as np
import shapely

from geo_service.batch.cache import WindowCache, footprint, sized


def test_footprint_counts_arrays_and_geometries_once() -> None:
    values = np.zeros(1000)
    polygon = shapely.box(0, 0, 1, 1)
    assert footprint(values) == 8000
    shared = footprint({"a": values, "b": values, "geoms": np.array([polygon], dtype=object)})
    assert 8000 + 5 * 48 <= shared < 8000 + 5 * 48 + 2000


def test_a_key_is_built_once_and_the_cache_keeps_to_its_bound() -> None:
    cache = WindowCache(budget_bytes=30_000)
    built: list[int] = []

    def build(k: int) -> np.ndarray:
        built.append(k)
        return np.full(1000, k, dtype=np.float64)  # 8,000 bytes

    for k in (1, 2, 3, 1, 2, 3):
        assert cache.get("w", k, lambda k=k: build(k))[0] == k
    assert built == [1, 2, 3] and cache.builds["w"] == 3 and cache.hits["w"] == 3
    cache.get("w", 4, lambda: build(4))  # a fourth would exceed the bound: the least recently used (1) goes
    assert cache.stats()["entries"] == 3 and cache.held_bytes <= 30_000 and cache.evictions == 1
    cache.get("w", 2, lambda: build(2))
    cache.get("w", 1, lambda: build(1))
    assert built == [1, 2, 3, 4, 1]
    big = cache.get("w", 9, lambda: np.zeros(10_000))  # alone beyond the bound: kept while it is the newest
    assert big.size == 10_000 and cache.stats()["entries"] == 1


def test_a_window_brings_its_size_from_the_process_that_built_it() -> None:
    cache = WindowCache(budget_bytes=1 << 20)
    kept = pickle.loads(pickle.dumps(sized(np.zeros(1000))))  # as loaded from the windows folder
    assert kept.nbytes == 8000
    assert cache.get("w", 1, lambda: kept).size == 1000  # the value, not its wrapper
    assert cache.held_bytes == 8000


def test_threads_asking_for_one_key_share_one_build() -> None:
    cache = WindowCache(budget_bytes=1 << 20)
    gate = threading.Barrier(4)
    calls: list[int] = []

    def build() -> np.ndarray:
        calls.append(1)
        return np.zeros(10)

    def ask() -> None:
        gate.wait()
        cache.get("w", "same", build)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and cache.hits["w"] == 3
