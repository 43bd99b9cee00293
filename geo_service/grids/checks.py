"""The checks every area write passes: valid rings, no sibling overlap, inside the parent, no slivers, and
(dry run) no gaps inside the parent. Pure functions over shapely geometries in WGS-84 degrees; areas are
measured in the metric CRS ``epsg``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

from geo_service.grids.geometry import area_m2, as_multipolygon, to_metric, validity_problem
from geo_service.grids.model import Problem, geometry_location, point_location
from geo_service.i18n import message
from geo_service.settings import GridSettings


def validity(code: str | None, geom: shapely.MultiPolygon, feature: int | None) -> list[Problem]:
    """Self-intersections and other ring defects, located."""
    problem = validity_problem(geom)
    if problem is None:
        return []
    return [
        Problem(
            problem.problem,
            problem.message,
            [code] if code else [],
            point_location(problem.location),
            feature,
        )
    ]


def slivers(
    code: str, geom: shapely.MultiPolygon, epsg: int, settings: GridSettings, feature: int | None
) -> list[Problem]:
    """Parts thinner (mean width 2·area/perimeter) or smaller than the sliver settings."""
    found = []
    parts = shapely.get_parts(geom)
    metric = to_metric(parts, epsg)
    areas, perimeters = shapely.area(metric), shapely.length(metric)
    for part, area, perimeter in zip(parts, areas, perimeters, strict=True):
        width = 2 * area / perimeter if perimeter > 0 else 0.0
        if area < settings.sliver_min_area_m2 or width < settings.sliver_width_m:
            found.append(
                Problem(
                    "sliver",
                    message(
                        "grid.sliver",
                        code=code,
                        area=f"{area:.1f}",
                        width=f"{width:.2f}",
                        min_area=f"{settings.sliver_min_area_m2:g}",
                        min_width=f"{settings.sliver_width_m:g}",
                    ),
                    [code],
                    geometry_location(part),
                    feature,
                    float(area),
                )
            )
    return found


def overlaps(
    code: str,
    geom: shapely.MultiPolygon,
    siblings: Sequence[tuple[str, shapely.MultiPolygon]],
    epsg: int,
    tolerance_m2: float,
    feature: int | None,
) -> list[Problem]:
    """Overlaps with siblings larger than ``tolerance_m2``; the location is the overlapping area."""
    if not siblings:
        return []
    geoms = np.array([g for _, g in siblings], dtype=object)
    candidates = shapely.STRtree(geoms).query(geom, predicate="intersects")
    if len(candidates) == 0:
        return []
    candidates = candidates[shapely.relate_pattern(geom, geoms[candidates], "T********")]
    found = []
    for i in sorted(candidates):
        shared = as_multipolygon(shapely.intersection(geom, geoms[i]))
        overlap = float(area_m2(shared, epsg)) if not shared.is_empty else 0.0
        if overlap > tolerance_m2:
            other = siblings[i][0]
            found.append(
                Problem(
                    "overlap",
                    message(
                        "grid.overlap",
                        code=code,
                        other=other,
                        area=f"{overlap:.1f}",
                        tolerance=f"{tolerance_m2:g}",
                    ),
                    [code, other],
                    geometry_location(shared),
                    feature,
                    overlap,
                )
            )
    return found


def outside_parent(
    code: str,
    geom: shapely.MultiPolygon,
    parent_code: str,
    parent: shapely.MultiPolygon,
    epsg: int,
    tolerance_m2: float,
    feature: int | None,
) -> list[Problem]:
    """The part of ``geom`` outside its parent, when larger than ``tolerance_m2``."""
    if shapely.covers(parent, geom):
        return []
    outside = as_multipolygon(shapely.difference(geom, parent))
    area = float(area_m2(outside, epsg)) if not outside.is_empty else 0.0
    if area <= tolerance_m2:
        return []
    return [
        Problem(
            "outside_parent",
            message(
                "grid.outside_parent",
                code=code,
                parent=parent_code,
                area=f"{area:.1f}",
                tolerance=f"{tolerance_m2:g}",
            ),
            [code, parent_code],
            geometry_location(outside),
            feature,
            area,
        )
    ]


def children_outside(
    code: str,
    geom: shapely.MultiPolygon,
    kids: Sequence[tuple[str, shapely.MultiPolygon]],
    epsg: int,
    tolerance_m2: float,
    feature: int | None,
) -> list[Problem]:
    """Children that the new boundary of ``code`` would leave (partly) outside."""
    found = []
    for kid_code, kid in kids:
        for problem in outside_parent(kid_code, kid, code, geom, epsg, tolerance_m2, feature):
            problem.problem = "child_outside"
            problem.message = message(
                "grid.child_outside", code=code, child=kid_code, area=problem.message.params["area"]
            )
            problem.codes = [code, kid_code]
            found.append(problem)
    return found


def gaps(
    parent_code: str,
    parent: shapely.MultiPolygon,
    kids: Sequence[shapely.MultiPolygon],
    epsg: int,
    tolerance_m2: float,
) -> list[Problem]:
    """Parts of the parent covered by no child, each larger than ``tolerance_m2``."""
    if not kids:
        return []
    covered = shapely.union_all(np.array(kids, dtype=object))
    rest = as_multipolygon(shapely.difference(parent, covered))
    if rest.is_empty:
        return []
    parts = shapely.get_parts(rest)
    areas = area_m2(parts, epsg)
    return [
        Problem(
            "gap",
            message("grid.gap", parent=parent_code, area=f"{area:.1f}"),
            [parent_code],
            geometry_location(part),
            None,
            float(area),
        )
        for part, area in zip(parts, areas, strict=True)
        if area > tolerance_m2
    ]
