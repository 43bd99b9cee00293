"""The walking graphs' disk cache: one folder of ``.npy`` arrays per network state, memory-mapped.

Building a graph from the database costs seconds per million nodes; mapping its arrays from disk costs
milliseconds, and the pages are shared by every process that maps them (``serve --workers N`` holds one copy
in RAM, not N). A folder is named for the database and the ``network`` revision with the time it was
reached (:func:`geo_service.store.network.network_key`), the cache format and the settings the arrays
depend on, so a new revision (or a re-created database) never reads an old folder.

Between processes (several workers starting at once on a new revision):

- one builds: :func:`build_lock` is an exclusive ``flock`` on ``.build.lock`` in the database's folder, taken
  with a bounded wait; whoever gets it second finds the folder written and maps it;
- writes are atomic (a temporary folder renamed into place), so a reader sees a complete folder or none, and a
  builder killed half-way leaves only a ``.tmp-*`` folder, removed by the next holder of the lock;
- folders of older revisions go (:func:`prune`, under the build lock) once a newer one is written or mapped,
  but never while a process is opening them: :func:`load` holds a shared ``flock`` on the manifest while it
  maps the arrays and the pruner skips a folder whose manifest it cannot lock exclusively (the next prune
  takes it). Once mapped, unlinked files stay readable to the processes mapping them.

A cache folder that cannot be written (read-only install) only costs the speed-up.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from geo_service.walking.graph import ARRAYS, GRID_CELL_M, WalkGraph

log = logging.getLogger(__name__)
FORMAT = 2  # 2: nodes in Hilbert order, edges in CSR order (graph.py _renumber)
_MANIFEST = "graphs.json"
_LOCK = ".build.lock"
#: the longest a process waits for another's build of the same database's graphs before building its own
#: in memory (a million-node graph builds in ~5 s; a stuck builder must not hold every worker's start)
BUILD_WAIT_S = 300.0
_POLL_S = 0.05


def _database_folder(root: Path, key: str) -> Path:
    database = re.sub(r"[^A-Za-z0-9_.-]", "_", "-".join(key.split("|")[:2]))
    return root / database


def folder_for(root: Path, key: str, steps_factor: float) -> Path:
    """The cache folder of the network state ``key`` (see the module docstring)."""
    revision = key.split("|")[2]
    digest = hashlib.sha1(f"{FORMAT}|{GRID_CELL_M}|{steps_factor!r}|{key}".encode()).hexdigest()[:16]
    return _database_folder(root, key) / f"r{int(revision):012d}-{digest}"


def load(folder: Path) -> list[WalkGraph] | None:
    """The graphs cached in ``folder``, their arrays memory-mapped read-only; None when it is not there."""
    try:
        manifest = open(folder / _MANIFEST, "rb")  # noqa: SIM115  # held (and flocked) while mapping
    except OSError:
        return None
    with manifest:
        graphs = []
        try:
            fcntl.flock(manifest, fcntl.LOCK_SH)  # a pruner does not remove the folder under us
            metas = json.loads(manifest.read())
            for i, meta in enumerate(metas):
                sub = folder / f"{i:03d}"
                # plain ndarray views of the maps (the memmap stays their base): numba types every argument
                # on each call, and a memmap subclass costs ~0.5 µs more an argument, ~30 per isochrone
                arrays = {a: np.load(sub / f"{a}.npy", mmap_mode="r").view(np.ndarray) for a in ARRAYS}
                graphs.append(WalkGraph.from_parts(meta, arrays))
        except (OSError, ValueError, KeyError) as exc:
            log.warning("walking cache %s unreadable (%s): rebuilding", folder, exc)
            return None
    return graphs


@contextlib.contextmanager
def build_lock(folder: Path, wait_s: float = BUILD_WAIT_S, *, blocking: bool = True) -> Iterator[bool]:
    """Hold the exclusive build lock of ``folder``'s database across processes; yields whether it is held.

    False when the lock was not free within ``wait_s`` seconds (at once when ``blocking`` is False) or the
    cache folder cannot be written: the caller then builds in memory and writes nothing. While held, the
    ``.tmp-*`` and ``.gone-*`` folders beside ``folder`` are leftovers of killed processes and are removed.
    """
    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        handle = open(parent / _LOCK, "a+b")  # noqa: SIM115  # the lock lives as long as the handle
    except OSError as exc:  # a read-only install: mapping still works, building and pruning do not
        if blocking:
            log.warning("walking cache lock not available in %s (%s)", parent, exc)
        yield False
        return
    with handle:
        deadline = time.monotonic() + (wait_s if blocking else 0.0)
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    if blocking:
                        log.warning(
                            "walking cache %s: another process held the build lock for %.0f s", parent, wait_s
                        )
                    yield False
                    return
                time.sleep(_POLL_S)
        try:
            for entry in parent.iterdir():
                if entry.name.startswith((".tmp-", ".gone-")):
                    shutil.rmtree(entry, ignore_errors=True)
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def save(folder: Path, graphs: list[WalkGraph]) -> bool:
    """Write ``graphs`` into ``folder`` (atomically) and remove the older folders of the same database;
    False when the cache cannot be written. Call it holding :func:`build_lock`."""
    parent = folder.parent
    tmp = parent / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir(parents=True)
        for i, graph in enumerate(graphs):
            sub = tmp / f"{i:03d}"
            sub.mkdir()
            for name, array in graph.arrays().items():
                np.save(sub / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        (tmp / _MANIFEST).write_text(json.dumps([g.meta() for g in graphs]))
        try:
            tmp.rename(folder)
        except OSError:
            if not (folder / _MANIFEST).exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # the same state was written first (without the lock)
    except OSError as exc:
        log.warning("walking cache not written to %s (%s): graphs stay in this process's memory", folder, exc)
        shutil.rmtree(tmp, ignore_errors=True)
        return False
    prune(parent, keep=folder.name)
    return True


def prune(parent: Path, keep: str) -> list[str]:
    """Remove the cached states of one database at revisions older than ``keep``'s (a slow writer of an
    older state never removes a newer one), except those a process is mapping right now; returns the names
    removed. Call it holding :func:`build_lock`."""
    removed = []
    revision = keep.split("-")[0]
    with contextlib.suppress(OSError):
        for entry in parent.iterdir():
            if not (entry.name.startswith("r") and entry.name.split("-")[0] < revision and entry.is_dir()):
                continue
            try:
                manifest = open(entry / _MANIFEST, "rb")  # noqa: SIM115
            except OSError:
                manifest = None  # no manifest: not a folder anyone can map
            try:
                if manifest is not None:
                    try:
                        fcntl.flock(manifest, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue  # being mapped now: the next prune removes it
                # renamed first (one step), so a reader arriving later finds nothing rather than half a folder
                gone = parent / f".gone-{entry.name}-{uuid.uuid4().hex[:8]}"
                try:
                    entry.rename(gone)
                except OSError:
                    continue
                shutil.rmtree(gone, ignore_errors=True)
                removed.append(entry.name)
            finally:
                if manifest is not None:
                    manifest.close()
    return removed


def tidy(folder: Path) -> list[str]:
    """Prune the states older than ``folder``'s if no process is building right now (else leave it to
    that builder); returns the names removed."""
    with build_lock(folder, blocking=False) as held:
        return prune(folder.parent, keep=folder.name) if held else []
