"""Keeping the search index (``geocode_names``) keyed.

Triggers copy every new or changed name of the gazetteer, facilities, stations and areas into
``geocode_names`` without keys (SQL cannot run OpenCC or pypinyin); :func:`ensure_keyed` computes the keys
of those rows before a search, and imports key everything in one go (:func:`key_pending`,
:func:`gazetteer_rows`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from psycopg2.extensions import cursor as Cursor

from geo_service.db.pool import Database, DatabaseUnavailable
from geo_service.geocode.keys import keys_for
from geo_service.store import gazetteer as store

BATCH = 2000
REQUEST_ROWS = 10_000  # about 2 s of keying at most inside one search
log = logging.getLogger(__name__)


def key_pending(
    cur: Cursor, progress: Callable[[int], None] | None = None, max_rows: int | None = None
) -> int:
    """Key every name that has no keys yet (at most about ``max_rows``; ``cur``: a tuple cursor); returns how
    many were keyed."""
    done = 0
    while max_rows is None or done < max_rows:
        rows = store.pending_names(cur, BATCH)
        if not rows:
            return done
        keyed = [
            (row_id, *keys_for(source, kind, name, properties).as_row())
            for row_id, source, kind, name, properties in rows
        ]
        store.write_keys(cur, keyed)
        done += len(keyed)
        if progress:
            progress(len(keyed))
        if len(rows) < BATCH:
            return done
    return done


def ensure_keyed(db: Database, max_rows: int | None = REQUEST_ROWS) -> int:
    """Key what triggers added since the last search (usually a few names). A search keys at most
    ``max_rows`` (a bounded delay); the service keys any backlog at start-up (``max_rows=None``)."""
    try:
        with db.cursor(dict_rows=False) as cur:
            if not store.has_pending(cur):
                return 0
            return key_pending(cur, max_rows=max_rows)
    # read-only (a primary being demoted) or out of reach: a later search keys them
    except DatabaseUnavailable as exc:
        log.warning("cannot key new geocoder names now (a later search will): %s", exc)
        return 0


def gazetteer_rows(
    kinds: Iterable[str], names: Iterable[str], properties: Iterable[dict[str, Any]], geoms_hex: Iterable[str]
) -> list[tuple[Any, ...]]:
    """Rows for :func:`geo_service.store.gazetteer.copy_keyed_gazetteer`: each entry with its keys."""
    return [
        (kind, name, props, geom, keys_for("gazetteer", kind, name, props).as_row())
        for kind, name, props, geom in zip(kinds, names, properties, geoms_hex, strict=True)
    ]
