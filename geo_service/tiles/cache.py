"""An in-process LRU of rendered tiles, bounded in bytes, keyed on the data revision they were drawn at.

Every entry remembers the revision token of its layer (the sum of the ``data_revisions`` counters the
layer depends on; the counters only grow, so the sum changes with every write). A lookup with a newer
token misses, and the first lookup that sees a new token for a layer drops that layer's older entries —
so a grid edit, committed by any process, shows on the next request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

TileKey = tuple[str, int, int, int, str]  # layer id, z, x, y, crs


@dataclass(frozen=True)
class CachedTile:
    revision: int
    body: bytes


class TileCache:
    """Thread-safe LRU of tile bodies holding at most ``max_bytes`` of them (0 disables it)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[TileKey, CachedTile] = OrderedDict()
        self._revision_seen: dict[str, int] = {}
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: TileKey, revision: int) -> bytes | None:
        """The body cached for ``key`` at ``revision``, or None."""
        with self._lock:
            self._forget_older(key[0], revision)
            entry = self._entries.get(key)
            if entry is None or entry.revision != revision:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry.body

    def put(self, key: TileKey, revision: int, body: bytes) -> None:
        size = len(body) + 64  # an empty tile still costs its entry
        if size > self.max_bytes:
            return
        with self._lock:
            if self._revision_seen.get(key[0], revision) > revision:
                return  # drawn from an older state than one already seen: never cache it
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body) + 64
            self._entries[key] = CachedTile(revision, body)
            self._bytes += size
            while self._bytes > self.max_bytes and self._entries:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted.body) + 64

    def _forget_older(self, layer_id: str, revision: int) -> None:
        seen = self._revision_seen.get(layer_id)
        if seen is not None and seen >= revision:
            return
        self._revision_seen[layer_id] = revision
        if seen is None:
            return
        stale = [k for k, v in self._entries.items() if k[0] == layer_id and v.revision < revision]
        for k in stale:
            self._bytes -= len(self._entries.pop(k).body) + 64

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)
