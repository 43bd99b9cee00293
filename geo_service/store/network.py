"""SQL for the walking network: the revision and a snapshot of every dataset's nodes and edges."""

from __future__ import annotations

from typing import Any, TypedDict

import numpy as np
from psycopg2.extensions import cursor as Cursor

from geo_service.db.rows import fetch_one


class NetworkArrays(TypedDict):
    """One dataset's walking network as the graph builder takes it: nodes (OSM id, degrees) and edges (id,
    end nodes, metres, steps, highway, name, LineString WKB in EPSG:4326, underground), both ordered by id."""

    name: str
    srid: int | None
    node_id: np.ndarray  # int64
    node_lon: np.ndarray  # float64, degrees
    node_lat: np.ndarray
    edge_id: np.ndarray  # int64
    u: np.ndarray  # int64, OSM node ids
    v: np.ndarray
    length_m: np.ndarray  # float64
    steps: np.ndarray  # bool
    highway: list[str | None]
    edge_name: list[str | None]
    wkb: list[bytes]
    underground: np.ndarray  # bool


def revision(cur: Cursor, entity: str = "network") -> int:
    """The revision of ``entity`` in ``data_revisions`` (0 before its first write)."""
    cur.execute("SELECT revision FROM data_revisions WHERE entity = %s", (entity,))
    row = cur.fetchone()
    if row is None:
        return 0
    return int(row["revision"] if isinstance(row, dict) else row[0])


def revisions(cur: Cursor, entities: tuple[str, ...]) -> dict[str, int]:
    """Several revisions in one round trip (missing entities are 0)."""
    cur.execute("SELECT entity, revision FROM data_revisions WHERE entity = ANY(%s)", (list(entities),))
    found = {str(r[0]): int(r[1]) for r in (tuple(row) for row in cur.fetchall())}
    return {entity: found.get(entity, 0) for entity in entities}


def network_key(cur: Cursor) -> tuple[int, str]:
    """The ``network`` revision and a string naming exactly this state of this database's network: the
    database (name and OID: a dropped and re-created database starts over at revision 1), the revision and
    when it was reached. Keys the walking graph's disk cache."""
    cur.execute(
        """SELECT current_database(), (SELECT oid FROM pg_database WHERE datname = current_database()),
                  r.revision, r.changed_at
           FROM (SELECT 1) one LEFT JOIN data_revisions r ON r.entity = 'network'"""
    )
    row = fetch_one(cur)
    values = list(row.values()) if isinstance(row, dict) else list(row)
    name, oid, rev, changed = values
    rev = int(rev or 0)
    stamp = changed.isoformat() if changed is not None else "-"
    return rev, f"{name}|{oid}|{rev}|{stamp}"


def network_snapshot(cur: Cursor) -> tuple[int, list[NetworkArrays]]:
    """The ``network`` revision and, per dataset with a walking network, its metric SRID, nodes and edges.

    The revision is read first: rows committed after it are at least as new, so a cache keyed by it is
    never older than its key says (at worst it is rebuilt once more).

    Returns
    -------
    revision, datasets
        Each dataset's :class:`NetworkArrays`.
    """
    rev = revision(cur)
    cur.execute(
        """SELECT d.name, d.srid FROM datasets d
           WHERE EXISTS (SELECT 1 FROM walk_edges e WHERE e.dataset = d.name) ORDER BY d.name"""
    )
    names = [(str(r[0]), int(r[1]) if r[1] is not None else None) for r in (tuple(x) for x in cur.fetchall())]
    out: list[NetworkArrays] = []
    for name, srid in names:
        cur.execute(
            "SELECT id, ST_X(geom), ST_Y(geom) FROM walk_nodes WHERE dataset = %s ORDER BY id", (name,)
        )
        nodes = [tuple(r) for r in cur.fetchall()]
        cur.execute(
            """SELECT id, u, v, length_m, steps, highway, name, ST_AsBinary(geom), underground
               FROM walk_edges WHERE dataset = %s ORDER BY id""",
            (name,),
        )
        rows = [tuple(r) for r in cur.fetchall()]
        out.append(network_arrays(name, srid, nodes, rows))
    return rev, out


def network_arrays(
    name: str, srid: int | None, nodes: list[tuple[Any, ...]], rows: list[tuple[Any, ...]]
) -> NetworkArrays:
    """One dataset's walking network as the arrays the graph builder takes: ``nodes`` are (id, lon, lat) rows,
    ``rows`` (id, u, v, length_m, steps, highway, name, WKB, underground) edge rows, both ordered by id."""
    return {  # the keys in the order of NetworkArrays
        "name": name,
        "srid": srid,
        "node_id": np.array([r[0] for r in nodes], dtype=np.int64),
        "node_lon": np.array([r[1] for r in nodes], dtype=np.float64),
        "node_lat": np.array([r[2] for r in nodes], dtype=np.float64),
        "edge_id": np.array([r[0] for r in rows], dtype=np.int64),
        "u": np.array([r[1] for r in rows], dtype=np.int64),
        "v": np.array([r[2] for r in rows], dtype=np.int64),
        "length_m": np.array([r[3] for r in rows], dtype=np.float64),
        "steps": np.array([bool(r[4]) for r in rows], dtype=bool),
        "highway": [r[5] for r in rows],
        "edge_name": [r[6] for r in rows],
        "wkb": [bytes(r[7]) for r in rows],
        "underground": np.array([bool(r[8]) for r in rows], dtype=bool),
    }
