"""In-process caches kept in step with the database: one value per :class:`Database`, rebuilt when its key
(a tuple of ``data_revisions`` entries, read by the caller) moves. Used by the locate index, the walking
network, the station index and the life-circle reach, so an edit made by any process or connection is seen
on the next call. Builds run under a per-database lock: concurrent callers wait for one build, not several.

A hot standby's pool shares its primary's values (``Database.cache_owner``): one walking network in memory, not
two. Revisions only grow, so a value built from newer data than a caller asks for (a standby a few
milliseconds behind the primary) is served as it is rather than rebuilt from older data.
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

    def peek(self, db: Database, key: Hashable) -> T | None:
        """The value built for ``key`` (or newer) if there is one, else None: never builds."""
        slot = self._slots.get(db.cache_owner)
        if slot is None:
            return None
        value = slot.value
        return value if value is not None and _not_newer(key, slot.key) else None

    def get(
        self,
        db: Database,
        key: Hashable,
        build: Callable[[], T],
        key_of: Callable[[T], Hashable] | None = None,
    ) -> T:
        """``key_of`` gives the key a built value really has (e.g. the revision of the snapshot it read,
        which may be newer than ``key``)."""
        owner = db.cache_owner
        with self._lock:
            slot = self._slots.get(owner)
            if slot is None:
                slot = self._slots[owner] = _Slot()
        value = slot.value
        if value is not None and _not_newer(key, slot.key):
            return value
        with slot.lock:
            if slot.value is None or not _not_newer(key, slot.key):
                slot.value = build()
                slot.key = key_of(slot.value) if key_of is not None else key
            return slot.value


def _not_newer(key: Hashable, built: Hashable | None) -> bool:
    """Whether ``key`` asks for nothing newer than the ``built`` value's key: equal, or (revisions only grow)
    not greater anywhere."""
    if key == built:
        return True
    if isinstance(key, int) and isinstance(built, int):
        return key <= built
    if isinstance(key, tuple) and isinstance(built, tuple) and len(key) == len(built):
        return all(
            isinstance(a, int) and isinstance(b, int) and a <= b for a, b in zip(key, built, strict=True)
        )
    return False
