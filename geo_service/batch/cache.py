"""Built windows kept in a worker process between tasks: each locate index or walking network of a window is
built once per worker per data revision, not once per task.

A window is a square of the lon/lat lattice of side ``window_deg`` (:func:`geo_service.batch.partition.cell_box`);
its key carries the job's data revisions, so a write to the grids or the network makes a new key and the old
entry simply ages out. The cache is bounded by an estimate of the bytes its entries hold (numpy arrays and
geometry coordinates, :func:`footprint`): least recently used windows go first. The one window a task is using
stays even when it alone exceeds the bound (a window's answers need the whole window).

One cache per process (a Dask worker is a process; its threads share it). ``builds`` counts the builds per
kind, so a job's cost in builds can be read from every worker with ``client.run(worker_builds)``.

Built windows are also kept on disk (:func:`shared_build`), one folder per data state (:func:`window_folder`):
one process builds a window and every other process of this job or a later one — a fresh worker, another
cluster on the same host — loads it, until the data change; then the folder of the old state is removed.
"""

from __future__ import annotations

import hashlib
import math
import os
import pickle
import shutil
import sys
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

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


@dataclass(frozen=True)
class Sized(Generic[T]):
    """A built window with its :func:`footprint`, estimated once by the process that built it and kept with it
    on disk, so that a process loading the window does not walk it again (a 5,400-area locate window:
    ~0.04 CPU s, paid by every fresh worker for every window it loads)."""

    value: T
    nbytes: int


def sized(value: T) -> Sized[T]:
    return Sized(value, footprint(value))


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

    def holds(self, kind: str, key: Hashable) -> bool:
        """Whether ``(kind, key)`` is in memory now (its next ``get`` costs nothing)."""
        with self._lock:
            return (kind, key) in self._entries

    @property
    def held_bytes(self) -> int:
        return sum(size for _, size in self._entries.values())

    def get(self, kind: str, key: Hashable, build: Callable[[], T | Sized[T]]) -> T:
        """The entry of ``(kind, key)``, built by ``build()`` on first use (once, even with several threads);
        its size is :func:`footprint`'s, or the one a :class:`Sized` brings."""
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
            built = build()
            value, size = (
                (built.value, built.nbytes) if isinstance(built, Sized) else (built, footprint(built))
            )
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


# Windows this process built into a windows folder, or loaded from one, by kind (the first item of the key).
SHARED: Counter[str] = Counter()


def worker_stats() -> dict[str, Any]:
    """This process's cache statistics (for ``client.run``: one dict per worker); ``shared`` counts the windows
    it built into a windows folder (``<kind>_built``) and loaded from one (``<kind>_loaded``)."""
    return {**_CACHE.stats(), "shared": dict(SHARED)}


# The modules whose objects a kept window pickles: a window written by other code is not read back.
_CODE = ("batch", "locate", "walking", "life_circle")
_STAMP: list[str] = []


def code_stamp() -> str:
    """A digest of the source of the packages whose objects windows hold (computed once per process)."""
    if not _STAMP:
        root = Path(__file__).resolve().parents[1]
        digest = hashlib.sha256()
        for package in _CODE:
            for source in sorted((root / package).rglob("*.py")):
                digest.update(source.relative_to(root).as_posix().encode())
                digest.update(source.read_bytes())
        _STAMP.append(digest.hexdigest()[:16])
    return _STAMP[0]


def default_root() -> Path:
    """Where windows are kept on disk when a job names no folder: ``GEO_SERVICE_HOME/cache/batch`` of the
    process asking (on a worker: the worker's own home)."""
    from geo_service.settings import DatabaseSettings

    return DatabaseSettings().home / "cache" / "batch"


def window_folder(root: Path, family: str, state: str) -> Path:
    """The folder of the windows of one data state (``state``: :func:`geo_service.store.batch.data_state`'s
    string) of one family (a database name and the kind of job), under ``root``, created if missing.

    Creating it removes the family's folders of other states (an older revision's windows are never read
    again: a job checks that the data did not change under it), so the disk holds one state per family.
    """
    parent = Path(root) / _digest(family)
    folder = parent / _digest(f"{state}|{code_stamp()}")
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        for other in parent.iterdir():
            if other != folder and other.is_dir():
                shutil.rmtree(other, ignore_errors=True)
    return folder


def shared_build(folder: Path | None, key: Hashable, build: Callable[[], T], wait_s: float = 300.0) -> T:
    """``build()``, kept pickled in ``folder`` (one data state's windows, :func:`window_folder`) for every
    later job and process: the first process to claim ``key`` builds it and writes it there; the others load
    it (a 5,400-area locate index: 0.1 s to load, 0.6 s to build). A process that finds the key claimed but not
    yet written waits while the claim is younger than ``wait_s``, then builds it itself (the claimant may have
    died). None: no keeping.

    The folder is the service's own (under its home, or one the job names): what is loaded from it is what
    this code wrote there for the same data and the same code.
    """
    if folder is None:
        return build()
    name = _digest(repr(key))
    done, claim = folder / f"{name}.pickle", folder / f"{name}.claim"
    found = _load(done)
    if found is not None:
        SHARED[f"{_kind(key)}_loaded"] += 1
        return found[0]
    try:
        os.close(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        while not done.exists() and _age_s(claim) < wait_s:
            time.sleep(0.05)
        found = _load(done)
        if found is not None:
            SHARED[f"{_kind(key)}_loaded"] += 1
            return found[0]
    except OSError:  # the folder went away (another state's job pruned it): build without keeping
        return build()
    value = build()
    SHARED[f"{_kind(key)}_built"] += 1
    partial = folder / f"{name}.{os.getpid()}.{threading.get_ident()}.partial"
    try:
        partial.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(partial, done)  # readers see the whole file or none
        claim.unlink(missing_ok=True)
    except OSError:  # pruned meanwhile, or the disk is full: the answer stands, only the keeping failed
        partial.unlink(missing_ok=True)
    return value


def busy(folder: Path | None, key: Hashable, wait_s: float = 300.0) -> bool:
    """Whether a process is building ``key`` into ``folder`` right now (claimed, not yet written)."""
    if folder is None:
        return False
    name = _digest(repr(key))
    return not (folder / f"{name}.pickle").exists() and _age_s(folder / f"{name}.claim") < wait_s


def _load(path: Path) -> tuple[Any] | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        return (pickle.loads(data),)  # written by this code (code_stamp) into the service's own folder
    except Exception:  # unreadable (a torn or foreign file): built again and written over
        path.unlink(missing_ok=True)
        return None


def _age_s(path: Path) -> float:
    """Seconds since ``path`` was written; infinite when it is gone (nobody holds the claim)."""
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return math.inf


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _kind(key: Hashable) -> str:
    return str(key[0]) if isinstance(key, tuple) and key else "window"
