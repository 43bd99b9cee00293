"""The walking graphs' disk cache: one folder of ``.npy`` arrays per network state, memory-mapped.

Building a graph from the database costs seconds per million nodes; mapping its arrays from disk costs
milliseconds, and the pages are shared by every process that maps them (``serve --workers N`` holds one copy
in RAM, not N). A folder is named for the database and the ``network`` revision with the time it was
reached (:func:`geo_service.store.network.network_key`), the cache format and the settings the arrays
depend on, so a new revision (or a re-created database) never reads an old folder; writing a new folder
removes the older ones of the same database (processes still mapping them keep their pages until they
unmap: the files are unlinked, not overwritten).

Writes are atomic (a temporary folder renamed into place), so a reader sees a complete folder or none; a
cache folder that cannot be written (read-only install) only costs the speed-up.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from pathlib import Path

import numpy as np

from geo_service.walking.graph import ARRAYS, GRID_CELL_M, WalkGraph

log = logging.getLogger(__name__)
FORMAT = 1
_MANIFEST = "graphs.json"


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
    manifest = folder / _MANIFEST
    try:
        metas = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return None
    graphs = []
    try:
        for i, meta in enumerate(metas):
            sub = folder / f"{i:03d}"
            arrays = {a: np.load(sub / f"{a}.npy", mmap_mode="r") for a in ARRAYS}
            graphs.append(WalkGraph.from_parts(meta, arrays))
    except (OSError, ValueError, KeyError) as exc:
        log.warning("walking cache %s unreadable (%s): rebuilding", folder, exc)
        return None
    return graphs


def save(folder: Path, graphs: list[WalkGraph]) -> bool:
    """Write ``graphs`` into ``folder`` (atomically) and remove the older folders of the same database;
    False when the cache cannot be written."""
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
            shutil.rmtree(tmp, ignore_errors=True)  # another process wrote the same state first
    except OSError as exc:
        log.warning("walking cache not written to %s (%s): graphs stay in this process's memory", folder, exc)
        shutil.rmtree(tmp, ignore_errors=True)
        return False
    prune(parent, keep=folder.name)
    return True


def prune(parent: Path, keep: str) -> list[str]:
    """Remove the cached states of one database at revisions older than ``keep``'s (a slow writer of an
    older state never removes a newer one); returns the names removed."""
    removed = []
    revision = keep.split("-")[0]
    with contextlib.suppress(OSError):
        for entry in parent.iterdir():
            if entry.name.startswith("r") and entry.name.split("-")[0] < revision and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry.name)
    return removed
