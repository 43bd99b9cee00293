"""In-process caches kept in step with the database: one value per :class:`Database`, rebuilt when its key
(a tuple of ``data_revisions`` entries, read by the caller) moves. Used by the locate index, the walking
network, the station index and the life-circle reach, so an edit made by any process or connection is seen
on the next call. Builds run under a per-database lock: concurrent callers wait for one build, not several.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from geo_service.db.pool import Database

T = TypeVar("T")


class _Slot(Generic[T]):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key: Hashable | None = None
        self.value: T | None = None


class RevisionCache(Generic[T]):
    """``get(db, key, build)``: the value built for ``key``, building it when the key changed."""

    def __init__(self) -> None:
        self._slots: weakref.WeakKeyDictionary[Database, _Slot[T]] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, db: Database, key: Hashable, build: Callable[[], T],
            key_of: Callable[[T], Hashable] | None = None) -> T:  # fmt: skip
        """``key_of`` gives the key a built value really has (e.g. the revision of the snapshot it read,
        which may be newer than ``key``)."""
        with self._lock:
            slot = self._slots.get(db)
            if slot is None:
                slot = self._slots[db] = _Slot()
        value = slot.value
        if value is not None and slot.key == key:
            return value
        with slot.lock:
            if slot.value is None or slot.key != key:
                slot.value = build()
                slot.key = key_of(slot.value) if key_of is not None else key
            return slot.value
