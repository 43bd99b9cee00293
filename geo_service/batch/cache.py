"""Built windows kept in a worker process between tasks: each locate index or walking network of a window is
built once per worker per data revision, not once per task.

A window is a square of the lon/lat lattice of side ``window_deg`` (:func:`geo_service.batch.partition.cell_box`);
its key carries the job's data revisions, so a write to the grids or the network makes a new key and the old
entry simply ages out. The cache is bounded by an estimate of the bytes its entries hold (numpy arrays and
geometry coordinates, :func:`footprint`): least recently used windows go first. The one window a task is using
stays even when it alone exceeds the bound (a window's answers need the whole window).

One cache per process (a Dask worker is a process; its threads share it). ``builds`` counts the builds per
kind, so a job's cost in builds can be read from every worker with ``client.run(worker_builds)``.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import shapely

T = TypeVar("T")

_GEOMETRY_BYTES_PER_COORDINATE = 48  # GEOS: 16 B a coordinate, the prepared geometry's index about twice that


def footprint(value: Any) -> int:
    """Estimated bytes held by ``value``: numpy arrays (by ``nbytes``; an object array of geometries by their
    coordinates), shapely geometries, and the attributes, fields and items of objects, lists and dicts,
    each object counted once."""
    seen: set[int] = set()
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if item is None or isinstance(item, (int, float, bool, str, bytes)) or id(item) in seen:
            if isinstance(item, (str, bytes)) and id(item) not in seen:
                seen.add(id(item))
                total += sys.getsizeof(item)
            continue
        seen.add(id(item))
        if isinstance(item, np.ndarray):
            if item.dtype == object:
                total += item.nbytes
                flat = item.ravel()
                geometry = shapely.is_geometry(flat)
                if geometry.any():  # thousands of polygons: counted in one call, not one by one
                    shapes = flat[geometry]
                    fresh = [id(g) not in seen for g in shapes]
                    seen.update(id(g) for g in shapes)
                    coordinates = shapely.get_num_coordinates(shapes[np.array(fresh, dtype=bool)])
                    total += int(coordinates.sum()) * _GEOMETRY_BYTES_PER_COORDINATE
                    flat = flat[~geometry]
                stack.extend(flat.tolist())
            else:
                base = item.base if isinstance(item.base, np.ndarray) else None
                total += 0 if base is not None and id(base) in seen else item.nbytes
            continue
        if isinstance(item, shapely.Geometry):
            total += int(shapely.get_num_coordinates(item)) * _GEOMETRY_BYTES_PER_COORDINATE
            continue
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif is_dataclass(item):
            stack.extend(getattr(item, f.name, None) for f in fields(item))
        elif hasattr(item, "__dict__"):
            stack.extend(vars(item).values())
        total += sys.getsizeof(item)
    return total


class WindowCache:
    """Least-recently-used built windows, bounded by :func:`footprint` bytes.

    Parameters
    ----------
    budget_bytes
        Bound on the estimated bytes of the entries kept (the entry in use is kept even beyond it).
    """

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self.builds: Counter[str] = Counter()
        self.hits: Counter[str] = Counter()
        self.evictions = 0
        self.peak_bytes = 0
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}

    @property
    def held_bytes(self) -> int:
        return sum(size for _, size in self._entries.values())

    def get(self, kind: str, key: Hashable, build: Callable[[], T]) -> T:
        """The entry of ``(kind, key)``, built by ``build()`` on first use (once, even with several threads)."""
        full = (kind, key)
        with self._lock:
            found = self._entries.get(full)
            if found is not None:
                self._entries.move_to_end(full)
                self.hits[kind] += 1
                return found[0]
            building = self._building.setdefault(full, threading.Lock())
        with building:
            with self._lock:
                found = self._entries.get(full)
                if found is not None:
                    self._entries.move_to_end(full)
                    self.hits[kind] += 1
                    return found[0]
            value = build()
            size = footprint(value)
            with self._lock:
                self.builds[kind] += 1
                self._entries[full] = (value, size)
                self._shrink(keep=full)
                self._building.pop(full, None)
            return value

    def resize(self, budget_bytes: int) -> None:
        with self._lock:
            self.budget_bytes = budget_bytes
            self._shrink(keep=None)

    def _shrink(self, keep: Hashable | None) -> None:
        held = self.held_bytes
        self.peak_bytes = max(self.peak_bytes, held)
        for old in list(self._entries):
            if held <= self.budget_bytes:
                break
            if old == keep:
                continue
            held -= self._entries.pop(old)[1]
            self.evictions += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "builds": dict(self.builds),
                "hits": dict(self.hits),
                "evictions": self.evictions,
                "entries": len(self._entries),
                "held_bytes": self.held_bytes,
                "peak_bytes": self.peak_bytes,
                "budget_bytes": self.budget_bytes,
            }


DEFAULT_BUDGET_BYTES = 1 << 30
_CACHE = WindowCache(DEFAULT_BUDGET_BYTES)


def worker_cache(budget_bytes: int | None = None) -> WindowCache:
    """This process's cache, its bound set to ``budget_bytes`` when given."""
    if budget_bytes is not None and budget_bytes != _CACHE.budget_bytes:
        _CACHE.resize(budget_bytes)
    return _CACHE


# Windows this process built for a job's folder, or loaded from it, by kind (the first item of the key).
SHARED: Counter[str] = Counter()


def worker_stats() -> dict[str, Any]:
    """This process's cache statistics (for ``client.run``: one dict per worker); ``shared`` counts the windows
    it built into a job's folder (``<kind>_built``) and loaded from one (``<kind>_loaded``)."""
    return {**_CACHE.stats(), "shared": dict(SHARED)}


def shared_build(folder: Path | None, key: Hashable, build: Callable[[], T], wait_s: float = 300.0) -> T:
    """``build()``, shared through ``folder`` by the workers of one job: the first worker to claim ``key``
    builds it and leaves it there pickled; the others load it (a 2,352-grid locate index: 0.1 s to load,
    1.7 s to build). A worker that finds the key claimed but not yet written waits up to ``wait_s`` for it,
    then builds it itself (the claimant may have died). None: no sharing.

    ``folder`` is the job's own (its output folder, which every worker writes to anyway), so entries never
    outlive the job and its data revisions.
    """
    if folder is None:
        return build()
    name = hashlib.sha256(repr(key).encode()).hexdigest()[:32]
    done = folder / f"{name}.pickle"
    if not done.exists():
        try:
            os.close(os.open(folder / f"{name}.claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            deadline = time.monotonic() + wait_s
            while not done.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        else:
            value = build()
            SHARED[f"{_kind(key)}_built"] += 1
            partial = folder / f"{name}.{os.getpid()}.{threading.get_ident()}.partial"
            partial.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
            os.replace(partial, done)  # readers see the whole file or none
            return value
    if not done.exists():
        return build()
    SHARED[f"{_kind(key)}_loaded"] += 1
    return pickle.loads(done.read_bytes())  # written by this job's own workers, into its own folder


def _kind(key: Hashable) -> str:
    return str(key[0]) if isinstance(key, tuple) and key else "window"
