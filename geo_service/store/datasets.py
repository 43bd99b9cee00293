"""SQL for imported datasets: replace one extract's rows in a single transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from psycopg2.extensions import cursor as Cursor
from psycopg2.extras import Json
from typing_extensions import TypedDict

from geo_service.store import gazetteer
from geo_service.store.bulk import copy_rows, ewkb_hex

if TYPE_CHECKING:  # the shape only: the store does not build walking graphs
    from geo_service.walking import Components


class DatasetStats(TypedDict):
    """What an import records of itself in ``datasets.stats`` (JSON): rows written per table and the pieces
    of its walking network."""

    counts: dict[str, int]
    components: Components


def drop_dataset(cur: Cursor, name: str) -> None:
    """Delete a dataset and (by cascade) every row it imported; reported household counts are set aside
    in a temporary table so :func:`restore_reported_households` can put them back."""
    cur.execute(
        """CREATE TEMP TABLE IF NOT EXISTS _kept_households
               (osm_type text, osm_id bigint, households integer) ON COMMIT DROP"""
    )
    cur.execute(
        """INSERT INTO _kept_households
           SELECT osm_type, osm_id, households_reported FROM residences
           WHERE dataset = %s AND households_reported IS NOT NULL""",
        (name,),
    )
    cur.execute("DELETE FROM datasets WHERE name = %s", (name,))


def insert_dataset(
    cur: Cursor,
    name: str,
    source: str,
    srid: int,
    bbox: tuple[float, float, float, float],
    stats: DatasetStats,
) -> None:
    cur.execute(
        """INSERT INTO datasets (name, kind, source, srid, bbox, stats)
           VALUES (%s, 'osm', %s, %s, ST_MakeEnvelope(%s, %s, %s, %s, 4326), %s)""",
        (name, source, srid, *bbox, Json(stats)),
    )


def restore_reported_households(cur: Cursor, name: str) -> int:
    cur.execute(
        """UPDATE residences r SET households_reported = k.households
           FROM _kept_households k
           WHERE r.dataset = %s AND r.osm_type = k.osm_type AND r.osm_id = k.osm_id""",
        (name,),
    )
    return cur.rowcount


def dataset_names(cur: Cursor) -> list[str]:
    cur.execute("SELECT name FROM datasets ORDER BY name")
    return [row[0] for row in cur.fetchall()]


Progress = Callable[[int], None]


def copy_walk_network(cur: Cursor, name: str, nodes: Any, edges: Any, progress: Progress) -> None:
    import shapely

    points = shapely.points(nodes["lon"].to_numpy(), nodes["lat"].to_numpy())
    copy_rows(
        cur,
        "walk_nodes",
        ["dataset", "id", "geom"],
        zip([name] * len(nodes), nodes["id"].to_numpy(), ewkb_hex(points), strict=True),
        progress,
    )
    copy_rows(
        cur,
        "walk_edges",
        [
            "dataset",
            "osm_id",
            "u",
            "v",
            "length_m",
            "highway",
            "foot",
            "steps",
            "underground",
            "name",
            "geom",
        ],
        zip(
            [name] * len(edges),
            edges["osm_id"],
            edges["u"],
            edges["v"],
            edges["length_m"],
            edges["highway"],
            edges["foot"],
            edges["steps"],
            edges["underground"],
            edges["name"],
            ewkb_hex(edges.geometry.values),
            strict=True,
        ),
        progress,
    )


def copy_residences(cur: Cursor, name: str, homes: Any, progress: Progress) -> None:
    copy_rows(
        cur,
        "residences",
        [
            "dataset",
            "osm_type",
            "osm_id",
            "building",
            "levels",
            "footprint_m2",
            "households_est",
            "address",
            "geom",
            "footprint",
        ],
        zip(
            [name] * len(homes),
            homes["osm_type"],
            homes["osm_id"],
            homes["building"],
            homes["levels"],
            homes["footprint_m2"],
            homes["households_est"],
            homes["address"],
            ewkb_hex(homes.geometry.values),
            ewkb_hex(homes["footprint"].to_numpy()),
            strict=True,
        ),
        progress,
    )


def copy_facilities(cur: Cursor, name: str, facilities: Any, progress: Progress) -> None:
    """Imported facilities, except those a planner corrected or deleted (kept detached from any dataset)."""
    cur.execute("SELECT osm_type, osm_id FROM facilities WHERE dataset IS NULL AND osm_id IS NOT NULL")
    overridden = {(t, int(i)) for t, i in cur.fetchall()}
    if overridden:
        keep = [
            (t, int(i)) not in overridden
            for t, i in zip(facilities["osm_type"], facilities["osm_id"], strict=True)
        ]
        facilities = facilities.loc[keep]
    copy_rows(
        cur,
        "facilities",
        ["dataset", "osm_type", "osm_id", "name", "category", "source", "tags", "geom"],
        zip(
            [name] * len(facilities),
            facilities["osm_type"],
            facilities["osm_id"],
            facilities["name"],
            facilities["category"],
            ["osm"] * len(facilities),
            facilities["tags"],
            ewkb_hex(facilities.geometry.values),
            strict=True,
        ),
        progress,
    )


def copy_areas(cur: Cursor, name: str, areas: Any, progress: Progress) -> None:
    copy_rows(
        cur,
        "areas",
        ["code", "name", "level", "parent_code", "properties", "source", "dataset", "geom"],
        zip(
            areas["code"],
            areas["name"],
            areas["level"],
            areas["parent_code"],
            areas["properties"],
            ["osm"] * len(areas),
            [name] * len(areas),
            ewkb_hex(areas.geometry.values),
            strict=True,
        ),
        progress,
    )


def copy_gazetteer(cur: Cursor, name: str, entries: Any, progress: Progress) -> None:
    """Gazetteer entries with their geocoder keys (column ``keys``, from :mod:`geo_service.geocode.keys`)."""
    rows = zip(
        entries["kind"],
        entries["name"],
        entries["properties"],
        ewkb_hex(entries.geometry.values),
        entries["keys"],
        strict=True,
    )
    gazetteer.copy_keyed_gazetteer(cur, name, rows, progress)


def copy_basemap(cur: Cursor, name: str, features: Any, progress: Progress) -> None:
    copy_rows(
        cur,
        "basemap_features",
        ["dataset", "kind", "class", "name", "geom"],
        zip(
            [name] * len(features),
            features["kind"],
            features["class"],
            features["name"],
            ewkb_hex(features.geometry.values),
            strict=True,
        ),
        progress,
    )
