"""SQL for batch jobs: the areas, walking network and facilities inside one window (a lon/lat box), each read
in the same shapes as the service's whole-database snapshots so that the service's own index and engine are
built from them. Run them inside :func:`repeatable_read` so that revisions and rows come from one snapshot.
"""

from __future__ import annotations

import numpy as np
from psycopg2.extensions import cursor as Cursor

from geo_service.db.rows import DictCursor, all_with_wkb
from geo_service.store import network as network_store
from geo_service.store.areas import IndexRow

Box = tuple[float, float, float, float]  # west, south, east, north (degrees, WGS-84)

_ENVELOPE = "ST_MakeEnvelope(%s, %s, %s, %s, 4326)"


def repeatable_read(cur: Cursor) -> None:
    """Make the cursor's transaction one snapshot (must be its first statement)."""
    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


def areas_window(cur: DictCursor, box: Box) -> tuple[int, list[IndexRow]]:
    """The ``areas`` revision and the current areas of every level that touch ``box``, with all their
    ancestors: the rows of :func:`geo_service.store.areas.index_snapshot` that matter for points in the box.

    Every area covering a point of the box touches the box, so an index built from these rows answers
    exactly as the whole index does for those points (the same candidates, the same lowest-code tie rule).
    """
    cur.execute(
        f"""WITH RECURSIVE hit AS (
               SELECT code, parent_code FROM areas
               WHERE valid_to IS NULL AND geom && {_ENVELOPE} AND ST_Intersects(geom, {_ENVELOPE})),
           up AS (
               SELECT code, parent_code FROM hit
               UNION
               SELECT a.code, a.parent_code FROM areas a JOIN up ON a.code = up.parent_code
               WHERE a.valid_to IS NULL)
           SELECT (SELECT coalesce(max(revision), 0) FROM data_revisions WHERE entity = 'areas') AS revision,
                  a.code, a.name, a.level, a.parent_code, a.version, ST_AsBinary(a.geom) AS wkb
           FROM areas a WHERE a.valid_to IS NULL AND a.code IN (SELECT code FROM up)
           ORDER BY a.code""",
        (*box, *box),
    )
    rows = all_with_wkb(cur, IndexRow)
    if rows:
        return int(rows[0]["revision"]), rows
    return network_store.revision(cur, "areas"), []


def network_window(cur: Cursor, box: Box) -> list[network_store.NetworkArrays]:
    """Per dataset, the walking edges whose bounding box meets ``box`` and their end nodes, in the shape of
    :func:`geo_service.store.network.network_snapshot`'s datasets."""
    cur.execute(
        """SELECT d.name, d.srid FROM datasets d
           WHERE EXISTS (SELECT 1 FROM walk_edges e WHERE e.dataset = d.name) ORDER BY d.name"""
    )
    names = [(str(r[0]), int(r[1]) if r[1] is not None else None) for r in (tuple(x) for x in cur.fetchall())]
    out: list[network_store.NetworkArrays] = []
    for name, srid in names:
        cur.execute(
            f"""SELECT id, u, v, length_m, steps, highway, name, ST_AsBinary(geom), underground
                FROM walk_edges WHERE dataset = %s AND geom && {_ENVELOPE} ORDER BY id""",
            (name, *box),
        )
        rows = [tuple(r) for r in cur.fetchall()]
        if not rows:
            continue
        # sorted, then first of each run: np.unique (numpy ≥ 2.3) hashes first, ~10× slower on 500,000 ids
        ends = np.sort(np.array([r[1] for r in rows] + [r[2] for r in rows], dtype=np.int64))
        ends = ends[np.concatenate([[True], ends[1:] != ends[:-1]])]
        cur.execute(
            "SELECT id, ST_X(geom), ST_Y(geom) FROM walk_nodes WHERE dataset = %s AND id = ANY(%s) ORDER BY id",
            (name, ends.tolist()),
        )
        nodes = [tuple(r) for r in cur.fetchall()]
        out.append(network_store.network_arrays(name, srid, nodes, rows))
    return out


def facilities_window(
    cur: Cursor, box: Box, category: str
) -> list[tuple[int, str | None, str, float, float]]:
    """Live facilities of ``category`` inside ``box`` as ``(id, name, category, lon, lat)``, ordered by id
    (the rows of :func:`geo_service.store.facilities.live`)."""
    cur.execute(
        f"""SELECT id, name, category, ST_X(geom), ST_Y(geom) FROM facilities
            WHERE deleted_at IS NULL AND category = %s AND geom && {_ENVELOPE} ORDER BY id""",
        (category, *box),
    )
    return [tuple(r) for r in cur.fetchall()]


def categories(cur: Cursor) -> list[str]:
    """The categories of the live facilities."""
    cur.execute("SELECT DISTINCT category FROM facilities WHERE deleted_at IS NULL ORDER BY category")
    return [str(r[0]) for r in cur.fetchall()]


def data_state(cur: Cursor, entities: tuple[str, ...]) -> tuple[dict[str, int], str]:
    """The revisions of ``entities`` and a string naming exactly this state of them in this database: its name
    and OID (a dropped and re-created database starts over at revision 1) and, per entity, the revision and
    when it was reached. Keys the windows batch jobs keep on disk (:mod:`geo_service.batch.cache`)."""
    cur.execute(
        """SELECT current_database(), (SELECT oid FROM pg_database WHERE datname = current_database()),
                  e.entity, r.revision, r.changed_at
           FROM unnest(%s::text[]) AS e(entity) LEFT JOIN data_revisions r ON r.entity = e.entity
           ORDER BY e.entity""",
        (list(entities),),
    )
    rows = [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in cur.fetchall()]
    revisions = {str(r[2]): int(r[3] or 0) for r in rows}
    name, oid = (rows[0][0], rows[0][1]) if rows else ("", 0)
    parts = [f"{r[2]}:{int(r[3] or 0)}:{r[4].isoformat() if r[4] is not None else '-'}" for r in rows]
    return {entity: revisions.get(entity, 0) for entity in entities}, "|".join([str(name), str(oid), *parts])
