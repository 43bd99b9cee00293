"""Other departments' networks (多网合一): versioned imports, reads, the crosswalk to the unified grids (JSON,
CSV, GeoPackage) and re-keying records made against a network's cells to the unified grids.

A network is a named set of cells (a department's grid layer: public security, city management, civil
affairs…) with their own codes, names and properties. Every import is a new version of the whole network: the
previous version's cells are closed and the new ones opened at the same instant (all or nothing), so any past
version can be read back. The crosswalk (:mod:`geo_service.networks.crosswalk`) relates one version to the
current unified grids (areas of level ``grid``).
"""

from __future__ import annotations

import csv
import io
import math
import re
import tempfile
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from geo_service.auth import Principal
from geo_service.coords import lonlat_problem, normalise_crs, to_wgs84_arrays
from geo_service.db.pool import Database
from geo_service.errors import InvalidInput, NotFound
from geo_service.geojson import Feature, FeatureCollection, Geometry
from geo_service.grids.geometry import GeometryProblem, parse_polygonal, to_geojson, validity_problem
from geo_service.grids.service import check_vertex_budget
from geo_service.i18n import Message, message
from geo_service.locate import service as locate
from geo_service.networks import answers
from geo_service.networks.answers import DepartmentNetwork, NetworkCells
from geo_service.networks.crosswalk import OUTSIDE, PARALLEL_DEG, Crosswalk, Homes, assign_points, code_rank
from geo_service.networks.crosswalk import crosswalk as compute_crosswalk
from geo_service.settings import GridSettings, NetworkSettings
from geo_service.store import audit
from geo_service.store import networks as store

NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
RESERVED_NAMES = frozenset({"propose"})  # fixed routes under /api/networks/
FORMATS = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "gpkg": "application/geopackage+sqlite3",
}
_GEOMETRY_PROBLEMS = {
    "invalid_geometry": "network.cell_invalid_geometry",
    "invalid_coordinates": "network.cell_invalid_coordinates",
    "invalid_ring": "network.cell_invalid_ring",
    "self_intersection": "network.cell_self_intersection",
}
_LOCAL_REKEY = 20  # up to this many cells are re-keyed from their neighbourhood; more use the whole crosswalk


def check_name(name: str) -> str:
    """``name`` when it is a safe network name (1–40 of a-z, 0-9, ``-``, ``_``, starting with a letter)."""
    if not isinstance(name, str) or not NAME.match(name) or name in RESERVED_NAMES:
        raise InvalidInput("network.bad_name", name=name)
    return name


# -- import -------------------------------------------------------------------------------------------------


@dataclass
class CellDraft:
    """A cell as the department's file has it (geometry in WGS-84)."""

    feature: int
    code: str
    name: str | None
    properties: dict[str, Any]
    geom: shapely.MultiPolygon


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a numeric code read from a Shapefile comes back as 1001.0
    text = str(value).strip()
    return text or None


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _problem(
    feature: int, code: str | None, problem: str, msg: Message, location: Any = None
) -> answers.CellProblem:
    return {"feature": feature, "code": code, "problem": problem, "message": msg, "location": location}


def drafts_from_features(
    features: Sequence[Any],
    code_field: str = "code",
    name_field: str = "name",
    settings: NetworkSettings | None = None,
    grids: GridSettings | None = None,
) -> list[CellDraft]:
    """Cells from GeoJSON features (WGS-84), or every problem found.

    Raises
    ------
    InvalidInput
        No features, too many, or a list of problems: a feature that is not a Feature, without a code, with a
        code seen before, or whose geometry is not a valid (Multi)Polygon.
    """
    settings = settings or NetworkSettings()
    grids = grids or GridSettings()
    if len(features) == 0:
        raise InvalidInput("network.empty")
    check_vertex_budget(features, grids)  # the grid imports' cap, counted before shapes are built
    if len(features) > settings.max_import_features:
        raise InvalidInput("network.too_many", count=len(features), limit=settings.max_import_features)
    problems: list[answers.CellProblem] = []
    drafts: list[CellDraft] = []
    seen: dict[str, int] = {}
    for index, feature in enumerate(features):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems.append(
                _problem(index, None, "not_a_feature", message("network.cell_not_feature", feature=index))
            )
            continue
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            problems.append(
                _problem(index, None, "not_a_feature", message("network.cell_not_feature", feature=index))
            )
            continue
        code = _text(props.get(code_field))
        if code is None:
            fields = sorted(str(k) for k in props)
            problems.append(
                _problem(
                    index,
                    None,
                    "missing_code",
                    message(
                        "network.cell_missing_code", feature=index, field=code_field, fields=fields or ["-"]
                    ),
                )
            )
            continue
        if code in seen:
            problems.append(
                _problem(
                    index,
                    code,
                    "duplicate_code",
                    Message(
                        "network.cell_duplicate_code", {"code": code, "first": seen[code], "feature": index}
                    ),
                )
            )
            continue
        seen[code] = index
        try:
            geom = parse_polygonal(feature.get("geometry"), grids.max_vertices_per_geometry)
            invalid = validity_problem(geom)
            if invalid is not None:
                raise invalid
        except GeometryProblem as exc:
            location = None if exc.location is None else {"type": "Point", "coordinates": list(exc.location)}
            kind = _GEOMETRY_PROBLEMS.get(exc.problem, "network.cell_invalid_geometry")
            params = {"feature": index, "code": code, "reason": exc.message}
            problems.append(_problem(index, code, exc.problem, Message(kind, params), location))
            continue
        own = {str(k): _json_safe(v) for k, v in props.items() if k not in (code_field, name_field)}
        drafts.append(CellDraft(index, code, _text(props.get(name_field)), own, geom))
    if problems:
        raise InvalidInput("network.problems", problems, count=len(problems))
    return drafts


def import_network(
    db: Database,
    name: str,
    features: Sequence[Any],
    principal: Principal,
    *,
    department: str | None = None,
    code_field: str = "code",
    name_field: str = "name",
    source: str | None = None,
    crs: str | None = None,
    settings: NetworkSettings | None = None,
    grids: GridSettings | None = None,
) -> answers.NetworkImport:
    """Import ``features`` (WGS-84 GeoJSON Features, as :mod:`geo_service.grids.io` reads them) as the next
    version of network ``name``: its current cells are closed and these opened, in one transaction.

    Returns
    -------
    dict
        name, department, version, previous_version, cells, imported_at and, against the previous version,
        the codes ``added`` and ``removed`` and how many cells ``changed`` or stayed ``unchanged``.
    """
    check_name(name)
    drafts = drafts_from_features(features, code_field, name_field, settings, grids)
    department = department.strip() or None if isinstance(department, str) else None
    with db.cursor() as cur:
        store.lock(cur, name)
        row = store.ensure_network(cur, name, department)
        previous = row["version"]
        before = {c["code"]: c for c in store.cells(cur, name, previous)} if previous else {}
        version = previous + 1
        since = store.open_version(cur, name, version, principal.actor, source, crs, len(drafts))
        store.insert_cells(
            cur,
            name,
            version,
            since,
            [
                {"code": d.code, "name": d.name, "properties": d.properties, "wkb": shapely.to_wkb(d.geom)}
                for d in drafts
            ],
        )
        changed = unchanged = 0
        for d in drafts:
            old = before.get(d.code)
            if old is None:
                continue
            same = (
                shapely.equals_exact(
                    shapely.normalize(d.geom), shapely.normalize(shapely.from_wkb(old["wkb"])), 0.0
                )
                and d.name == old["name"]
                and d.properties == (old["properties"] or {})
            )
            unchanged += int(bool(same))
            changed += int(not same)
        codes = {d.code for d in drafts}
        report: answers.NetworkImport = {
            "name": name,
            "department": row["department"],
            "version": version,
            "previous_version": previous or None,
            "cells": len(drafts),
            "imported_at": since.isoformat(),
            "added": sorted(codes - set(before)),
            "removed": sorted(set(before) - codes),
            "changed": changed,
            "unchanged": unchanged,
        }
        audit.record(
            cur,
            actor=principal.actor,
            role=principal.role,
            action="import",
            entity="network",
            entity_id=name,
            detail={"version": version, "cells": len(drafts), "source": source},
        )
    return report


# -- reads --------------------------------------------------------------------------------------------------


def _network_row(cur: Any, name: str) -> store.NetworkRow:
    if not isinstance(name, str) or not NAME.match(name):
        raise NotFound("network.not_found", name=name)
    row = store.network(cur, name)
    if row is None or row["version"] == 0:
        raise NotFound("network.not_found", name=name)
    return row


def _version(row: store.NetworkRow, version: int | None) -> int:
    if version is None:
        return int(row["version"])
    if not 1 <= version <= row["version"]:
        raise NotFound("network.no_version", name=row["name"], version=version, latest=row["version"])
    return int(version)


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def network_summary(row: store.NetworkRow) -> DepartmentNetwork:
    corners = [row["west"], row["south"], row["east"], row["north"]]
    bbox = [c for c in corners if c is not None] or None  # all four, or none for a network without cells
    return {
        "name": row["name"],
        "department": row["department"],
        "cells": int(row["cells"]),
        "version": int(row["version"]),
        "imported_at": _iso(row["imported_at"]),
        "bbox": bbox,
    }


def list_networks(db: Database) -> list[DepartmentNetwork]:
    """Every network that has been imported: name, department, cells, version, imported_at, bbox."""
    with db.cursor() as cur:
        return [network_summary(r) for r in store.list_networks(cur) if r["version"] > 0]


def cell_feature(row: store.CellRow) -> Feature:
    props = {
        **(row["properties"] or {}),
        "code": row["code"],
        "name": row["name"],
        "version": row["version"],
        "valid_from": _iso(row["valid_from"]),
        "valid_to": _iso(row["valid_to"]),
    }
    return {
        "type": "Feature",
        "id": row["code"],
        "geometry": to_geojson(shapely.from_wkb(row["wkb"])),
        "properties": props,
    }


def get_network(db: Database, name: str, version: int | None = None) -> NetworkCells:
    """The cells of one version (the current one by default) as a FeatureCollection, with the network's
    summary and its versions under ``network``."""
    with db.cursor() as cur:
        row = _network_row(cur, name)
        chosen = _version(row, version)
        cells = store.cells(cur, name, chosen)
        history = store.versions(cur, name)
    summary = network_summary(row)
    summary["versions"] = [
        {
            "version": v["version"],
            "imported_at": _iso(v["imported_at"]),
            "imported_by": v["imported_by"],
            "source": v["source"],
            "crs": v["crs"],
            "cells": v["cells"],
            "closed_at": _iso(v["closed_at"]),
        }
        for v in history
    ]
    summary["shown_version"] = chosen
    return {"type": "FeatureCollection", "network": summary, "features": [cell_feature(c) for c in cells]}


# -- the crosswalk ------------------------------------------------------------------------------------------


@dataclass
class CrosswalkResult:
    """A computed crosswalk with what it was computed from."""

    network: DepartmentNetwork
    version: int
    cell_codes: np.ndarray
    cell_names: list[str | None]
    grid_codes: np.ndarray
    grid_names: list[str]
    result: Crosswalk
    settings: NetworkSettings
    revisions: dict[str, int]
    cell_geoms: np.ndarray

    def main_grids(self, by: str = "auto") -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Each cell's main grid (index into the grids, -1 when it meets none), the share it has and the basis
        used: ``households`` for a cell with homes (by="auto"), else ``area``; ties go to the lowest code."""
        pairs = self.result.pairs
        n = len(self.cell_codes)
        grid_rank = code_rank(self.grid_codes) if len(self.grid_codes) else np.empty(0, dtype=np.int64)
        area_share = pairs.area_m2 / np.maximum(self.result.cell_area_m2[pairs.cell], 1e-12)
        hh_total = self.result.cell_households[pairs.cell]
        hh_share = np.where(hh_total > 0, pairs.households / np.maximum(hh_total, 1e-12), 0.0)
        use_hh = (hh_total > 0) if by == "auto" else np.full(len(pairs), by == "households")
        share = np.where(use_hh, hh_share, area_share)
        best = np.full(n, OUTSIDE, dtype=np.int64)
        best_share = np.zeros(n)
        real = pairs.grid != OUTSIDE
        if real.any():
            cells, grids, shares = pairs.cell[real], pairs.grid[real], share[real]
            order = np.lexsort((grid_rank[grids], -shares, cells))
            cells, grids, shares = cells[order], grids[order], shares[order]
            first = np.ones(len(cells), dtype=bool)
            first[1:] = cells[1:] != cells[:-1]
            keep = first & (shares > 0)
            best[cells[keep]] = grids[keep]
            best_share[cells[keep]] = shares[keep]
        if by == "auto":
            basis = ["households" if h > 0 else "area" for h in self.result.cell_households]
        else:
            basis = [by] * n
        return best, best_share, basis


_CACHE: weakref.WeakKeyDictionary[Database, OrderedDict[tuple[Any, ...], CrosswalkResult]] = (
    weakref.WeakKeyDictionary()
)
_CACHE_LOCK = threading.Lock()


def _settings_key(settings: NetworkSettings) -> tuple[float, float, float]:
    return (settings.mismatch_tolerance_m, settings.follow_tolerance_m, settings.mismatch_min_length_m)


def _compute(
    db: Database,
    name: str,
    version: int | None,
    settings: NetworkSettings,
    pieces: bool,
    cached_only: bool = False,
) -> CrosswalkResult | None:
    with db.cursor() as cur:
        row = _network_row(cur, name)
        chosen = _version(row, version)
        revisions = store.revisions(cur)
        key = (name, chosen, tuple(sorted(revisions.items())), _settings_key(settings), pieces)
        with _CACHE_LOCK:
            slot = _CACHE.setdefault(db, OrderedDict())
            hit = slot.get(key) or (slot.get((*key[:-1], True)) if not pieces else None)
            if hit is not None:
                slot.move_to_end(key if key in slot else (*key[:-1], True))
                return hit
        if cached_only:
            return None
    with db.cursor(dict_rows=False) as plain:  # many rows: plain tuples are read much faster
        cell_codes, cell_names, cell_wkbs = store.crosswalk_inputs(plain, name, chosen)
        cell_geoms = _geoms(cell_wkbs)
        bbox = _bounds(cell_geoms)
        grid_codes, grid_names, grid_wkbs = store.crosswalk_grids(plain, bbox)
        lon, lat, households = store.homes(plain, bbox)
    result = compute_crosswalk(
        np.array(cell_codes, dtype=object),
        cell_geoms,
        np.array(grid_codes, dtype=object),
        _geoms(grid_wkbs),
        Homes(lon, lat, households),
        tolerance_m=settings.mismatch_tolerance_m,
        follow_m=settings.follow_tolerance_m,
        min_length_m=settings.mismatch_min_length_m,
        with_pieces=pieces,
    )
    out = CrosswalkResult(
        network_summary(row),
        chosen,
        np.array(cell_codes, dtype=object),
        cell_names,
        np.array(grid_codes, dtype=object),
        grid_names,
        result,
        settings,
        revisions,
        cell_geoms,
    )
    if settings.crosswalk_cache > 0:
        with _CACHE_LOCK:
            slot = _CACHE.setdefault(db, OrderedDict())
            slot[key] = out
            while len(slot) > settings.crosswalk_cache:
                slot.popitem(last=False)
    return out


def _geoms(wkbs: Sequence[bytes]) -> np.ndarray:
    """Shapely geometries of WKB values, decoded in one vectorised call."""
    out = np.empty(len(wkbs), dtype=object)
    out[:] = wkbs
    return shapely.from_wkb(out) if len(wkbs) else np.empty(0, dtype=object)


def _bounds(geoms: np.ndarray) -> tuple[float, float, float, float]:
    if len(geoms) == 0:
        return (0.0, 0.0, 0.0, 0.0)
    bounds = shapely.total_bounds(geoms)
    return (float(bounds[0]), float(bounds[1]), float(bounds[2]), float(bounds[3]))


def _bbox(wkbs: Sequence[bytes]) -> tuple[float, float, float, float]:
    if not wkbs:
        return (0.0, 0.0, 0.0, 0.0)
    bounds = shapely.total_bounds(shapely.from_wkb(np.asarray(wkbs, dtype=object)))
    return (float(bounds[0]), float(bounds[1]), float(bounds[2]), float(bounds[3]))


def crosswalk(
    db: Database,
    name: str,
    version: int | None = None,
    *,
    pieces: bool = False,
    settings: NetworkSettings | None = None,
) -> CrosswalkResult:
    """The crosswalk of network ``name`` (current version, or ``version``) against the current unified grids,
    kept in memory until the network, the areas or the residences change.

    Raises
    ------
    NotFound
        No such network or version.
    """
    result = _compute(db, name, version, settings or NetworkSettings(), pieces)
    assert result is not None
    return result


def _r(value: float, digits: int = 6) -> float:
    return round(float(value), digits)


def crosswalk_json(cw: CrosswalkResult) -> answers.Crosswalk:
    """The crosswalk as a JSON document: per cell its grids by area and households, and the mismatches."""
    res = cw.result
    pairs = res.pairs
    best, best_share, basis = cw.main_grids()
    by_cell: list[list[answers.GridShare]] = [[] for _ in range(len(cw.cell_codes))]
    outside: list[answers.Share | None] = [None] * len(cw.cell_codes)
    for k in range(len(pairs)):
        c, g = int(pairs.cell[k]), int(pairs.grid[k])
        area, hh = float(pairs.area_m2[k]), float(pairs.households[k])
        entry: answers.Share = {
            "area_m2": _r(area, 2),
            "area_share": _r(area / res.cell_area_m2[c]) if res.cell_area_m2[c] > 0 else 0.0,
            "households": _r(hh, 2),
            "household_share": _r(hh / res.cell_households[c]) if res.cell_households[c] > 0 else None,
        }
        if g == OUTSIDE:
            outside[c] = entry
        else:
            by_cell[c].append({"code": cw.grid_codes[g], "name": cw.grid_names[g], **entry})
    cells: list[answers.CellCrosswalk] = []
    for c in range(len(cw.cell_codes)):
        grids = sorted(by_cell[c], key=lambda e: (-e["area_share"], e["code"]))
        main: answers.MainGrid | None = None
        if best[c] != OUTSIDE:
            main = {
                "code": cw.grid_codes[best[c]],
                "name": cw.grid_names[best[c]],
                "share": _r(best_share[c]),
                "basis": basis[c],
            }
        cells.append(
            {
                "code": cw.cell_codes[c],
                "name": cw.cell_names[c],
                "area_m2": _r(res.cell_area_m2[c], 2),
                "households": _r(res.cell_households[c], 2),
                "main_grid": main,
                "grids": grids,
                "outside": outside[c],
            }
        )
    mismatch_features = mismatch_collection(cw)
    whole = sum(1 for c in cells if c["grids"] and c["grids"][0]["area_share"] >= 0.99)
    return {
        "network": {**cw.network, "version": cw.version},
        "unified_grids": len(cw.grid_codes),
        "households_rule": message("network.households_rule"),
        "settings": {
            "mismatch_tolerance_m": cw.settings.mismatch_tolerance_m,
            "follow_tolerance_m": cw.settings.follow_tolerance_m,
            "mismatch_min_length_m": cw.settings.mismatch_min_length_m,
            "parallel_deg": PARALLEL_DEG,
        },
        "revisions": cw.revisions,
        "summary": {
            "cells": len(cells),
            "pairs": int(np.count_nonzero(pairs.grid != OUTSIDE)),
            "cells_within_one_grid": whole,
            "cells_outside_grids": sum(1 for c in cells if not c["grids"]),
            "households": _r(float(res.cell_households.sum()), 2),
            "mismatches": len(res.mismatches),
            "mismatch_length_m": _r(sum(m.length_m for m in res.mismatches), 2),
            "seconds": {k: round(v, 3) for k, v in res.seconds.items()},
        },
        "cells": cells,
        "mismatches": mismatch_features,
    }


def mismatch_collection(cw: CrosswalkResult) -> FeatureCollection:
    """The boundary mismatches as a FeatureCollection: the network's line, with the unified line to adopt
    (``snapped``), the cells beside it and the grids beside the snapped line."""
    found = cw.result.mismatches
    lines = _line_geojson([m.line for m in found])
    snapped = _line_geojson([m.snapped for m in found])
    features: list[Feature] = []
    for k, m in enumerate(found):
        features.append(
            {
                "type": "Feature",
                "id": k + 1,
                "geometry": lines[k],
                "properties": {
                    "length_m": _r(m.length_m, 2),
                    "offset_m": _r(m.offset_m, 3),
                    "cells": [cw.cell_codes[i] for i in m.cells],
                    "grids": [cw.grid_codes[i] for i in m.grids],
                    "snapped": snapped[k],
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _line_geojson(geoms: list[Any]) -> list[Geometry]:
    """GeoJSON geometries of line strings, their coordinates read in one call (the same full-precision floats
    as :func:`to_geojson`, which costs a JSON round trip per geometry); other kinds go through it."""
    if not geoms:
        return []
    array = np.empty(len(geoms), dtype=object)
    array[:] = geoms
    coords, owner = shapely.get_coordinates(array, return_index=True)
    cuts = np.searchsorted(owner, np.arange(len(geoms) + 1)).tolist()
    xy = coords.tolist()
    kinds = shapely.get_type_id(array).tolist()
    line = int(shapely.GeometryType.LINESTRING)
    return [
        {"type": "LineString", "coordinates": xy[cuts[k] : cuts[k + 1]]}
        if kinds[k] == line
        else to_geojson(geoms[k])
        for k in range(len(geoms))
    ]


CSV_COLUMNS = (
    "network",
    "version",
    "cell_code",
    "cell_name",
    "grid_code",
    "grid_name",
    "area_m2",
    "area_share",
    "households",
    "household_share",
    "main_grid",
)


def crosswalk_csv(cw: CrosswalkResult) -> bytes:
    """One row per (cell, grid) pair, and per cell with land or homes outside every grid a row with an empty
    ``grid_code``; UTF-8 with a byte-order mark (so spreadsheet programs read the Chinese names)."""
    res = cw.result
    pairs = res.pairs
    best, _, _ = cw.main_grids()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    order = np.lexsort((pairs.grid, pairs.cell))
    for k in order:
        c, g = int(pairs.cell[k]), int(pairs.grid[k])
        area_share = pairs.area_m2[k] / res.cell_area_m2[c] if res.cell_area_m2[c] > 0 else 0.0
        hh_share = pairs.households[k] / res.cell_households[c] if res.cell_households[c] > 0 else ""
        writer.writerow(
            [
                cw.network["name"],
                cw.version,
                cw.cell_codes[c],
                cw.cell_names[c] or "",
                "" if g == OUTSIDE else cw.grid_codes[g],
                "" if g == OUTSIDE else cw.grid_names[g],
                f"{pairs.area_m2[k]:.2f}",
                f"{area_share:.6f}",
                f"{pairs.households[k]:.2f}",
                hh_share if hh_share == "" else f"{hh_share:.6f}",
                int(g != OUTSIDE and best[c] == g),
            ]
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def crosswalk_gpkg(cw: CrosswalkResult) -> bytes:
    """A GeoPackage (EPSG:4326) with layers ``crosswalk`` (each cell ∩ grid piece with its shares),
    ``cells`` (each cell with its main grid), ``mismatches`` (the network's lines) and ``snapped`` (the
    unified lines to adopt, by ``mismatch`` number)."""
    import geopandas as gpd
    import pyogrio

    res = cw.result
    pairs = res.pairs
    best, best_share, basis = cw.main_grids()
    rows = []
    for k in range(len(pairs)):
        c, g = int(pairs.cell[k]), int(pairs.grid[k])
        rows.append(
            {
                "cell_code": cw.cell_codes[c],
                "cell_name": cw.cell_names[c],
                "grid_code": None if g == OUTSIDE else cw.grid_codes[g],
                "grid_name": None if g == OUTSIDE else cw.grid_names[g],
                "area_m2": float(pairs.area_m2[k]),
                "area_share": float(pairs.area_m2[k] / res.cell_area_m2[c])
                if res.cell_area_m2[c] > 0
                else 0.0,
                "households": float(pairs.households[k]),
                "household_share": float(pairs.households[k] / res.cell_households[c])
                if res.cell_households[c] > 0
                else None,
            }
        )
    pieces = pairs.geoms if pairs.geoms is not None else np.full(len(pairs), None, dtype=object)
    cells = [
        {
            "code": cw.cell_codes[c],
            "name": cw.cell_names[c],
            "area_m2": float(res.cell_area_m2[c]),
            "households": float(res.cell_households[c]),
            "main_grid": None if best[c] == OUTSIDE else cw.grid_codes[best[c]],
            "main_share": float(best_share[c]),
            "basis": basis[c],
        }
        for c in range(len(cw.cell_codes))
    ]
    layers = [
        ("crosswalk", gpd.GeoDataFrame(rows, geometry=list(pieces), crs="EPSG:4326"), "MultiPolygon"),
        ("cells", gpd.GeoDataFrame(cells, geometry=list(cw.cell_geoms), crs="EPSG:4326"), "MultiPolygon"),
    ]
    mismatch_rows = [
        {
            "mismatch": k,
            "length_m": m.length_m,
            "offset_m": m.offset_m,
            "cells": ",".join(cw.cell_codes[i] for i in m.cells),
            "grids": ",".join(cw.grid_codes[i] for i in m.grids),
        }
        for k, m in enumerate(res.mismatches, start=1)
    ]
    lines = [m.line for m in res.mismatches]
    snapped = [m.snapped for m in res.mismatches]
    layers.append(
        ("mismatches", gpd.GeoDataFrame(mismatch_rows, geometry=lines, crs="EPSG:4326"), "LineString")
    )
    layers.append(
        (
            "snapped",
            gpd.GeoDataFrame(
                [{"mismatch": r["mismatch"]} for r in mismatch_rows], geometry=snapped, crs="EPSG:4326"
            ),
            "LineString",
        )
    )
    with tempfile.TemporaryDirectory(prefix="geo-service-crosswalk-") as tmp:
        path = Path(tmp) / f"{cw.network['name']}-crosswalk.gpkg"
        for layer, frame, kind in layers:
            if len(frame) == 0:
                frame = gpd.GeoDataFrame({"id": []}, geometry=[], crs="EPSG:4326")
            pyogrio.write_dataframe(
                frame,
                path,
                layer=layer,
                driver="GPKG",
                geometry_type=kind,
                promote_to_multi=kind == "MultiPolygon",
            )
        return path.read_bytes()


def crosswalk_file(
    db: Database, name: str, fmt: str, version: int | None = None, settings: NetworkSettings | None = None
) -> tuple[Any, str, str]:
    """The crosswalk as (body, media type, file name); ``fmt`` is json (a dict body), csv or gpkg."""
    if fmt not in FORMATS:
        raise InvalidInput("network.bad_format", format=fmt, formats=list(FORMATS))
    cw = crosswalk(db, name, version, pieces=fmt == "gpkg", settings=settings)
    filename = f"{cw.network['name']}-v{cw.version}-crosswalk.{fmt}"
    if fmt == "json":
        return crosswalk_json(cw), FORMATS[fmt], filename
    if fmt == "csv":
        return crosswalk_csv(cw), FORMATS[fmt], filename
    return crosswalk_gpkg(cw), FORMATS[fmt], filename


# -- re-keying ----------------------------------------------------------------------------------------------


def _local_crosswalk(
    db: Database, name: str, version: int, code: str, settings: NetworkSettings
) -> CrosswalkResult:
    """The crosswalk of one cell computed from its neighbourhood: the cells, grids and homes meeting its box
    (every cell that could share a home with it covers a point of the box), so its answer equals the whole
    crosswalk's."""
    with db.cursor() as cur:
        row = _network_row(cur, name)
        target = store.cell(cur, name, version, code)
        if target is None:
            raise NotFound("network.cell_not_found", name=name, version=version, code=code)
        bbox = _bbox([target["wkb"]])
        cells = store.cells(cur, name, version, bbox)
        grids = store.unified_grids(cur, bbox)
        lon, lat, households = store.homes(cur, bbox)
        revisions = store.revisions(cur)
    cell_geoms = np.array([shapely.from_wkb(c["wkb"]) for c in cells], dtype=object)
    result = compute_crosswalk(
        np.array([c["code"] for c in cells], dtype=object),
        cell_geoms,
        np.array([g["code"] for g in grids], dtype=object),
        np.array([shapely.from_wkb(g["wkb"]) for g in grids], dtype=object),
        Homes(lon, lat, households),
        tolerance_m=settings.mismatch_tolerance_m,
        follow_m=settings.follow_tolerance_m,
        min_length_m=settings.mismatch_min_length_m,
        with_mismatches=False,
    )
    return CrosswalkResult(
        network_summary(row),
        version,
        np.array([c["code"] for c in cells], dtype=object),
        [c["name"] for c in cells],
        np.array([g["code"] for g in grids], dtype=object),
        [g["name"] for g in grids],
        result,
        settings,
        revisions,
        cell_geoms,
    )


def _cell_answer(cw: CrosswalkResult, code: str, by: str) -> answers.CellRekeyed:
    index = np.flatnonzero(cw.cell_codes == code)
    if len(index) == 0:
        raise NotFound("network.cell_not_found", name=cw.network["name"], version=cw.version, code=code)
    c = int(index[0])
    best, share, basis = cw.main_grids(by)
    res = cw.result
    mask = (res.pairs.cell == c) & (res.pairs.grid != OUTSIDE)
    candidates: list[answers.GridCandidate] = []
    for k in np.flatnonzero(mask):
        g = int(res.pairs.grid[k])
        candidates.append(
            {
                "code": cw.grid_codes[g],
                "name": cw.grid_names[g],
                "area_share": _r(res.pairs.area_m2[k] / res.cell_area_m2[c])
                if res.cell_area_m2[c] > 0
                else 0.0,
                "household_share": _r(res.pairs.households[k] / res.cell_households[c])
                if res.cell_households[c] > 0
                else None,
            }
        )
    candidates.sort(key=lambda e: (-(e["household_share"] or 0.0), -e["area_share"], e["code"]))
    grid: answers.MainGrid | None = None
    if best[c] != OUTSIDE:
        grid = {
            "code": cw.grid_codes[best[c]],
            "name": cw.grid_names[best[c]],
            "share": _r(share[c]),
            "basis": basis[c],
        }
    return {"cell": {"code": code, "name": cw.cell_names[c]}, "grid": grid, "candidates": candidates}


def rekey(
    db: Database,
    name: str,
    *,
    cells: Sequence[str] = (),
    points: Sequence[Sequence[float]] = (),
    crs: str | None = None,
    by: str = "auto",
    version: int | None = None,
    settings: NetworkSettings | None = None,
) -> answers.RekeyedMany:
    """Re-key records made against network ``name`` to the unified grids.

    A cell code goes to the grid holding the largest share of it: by households when the cell has homes
    (``by="auto"``, the default), else by area (``by="area"`` or ``"households"`` forces one); ties go to the
    lowest grid code. A point goes to the grid that covers it by the rule of ``/api/locate`` (lowest code on
    a shared edge), and the network cell covering it is named by the same rule.

    Returns
    -------
    dict
        ``cells``: [{cell, grid, candidates}] and ``points``: [{lon, lat, cell, grid}], in input order.
    """
    settings = settings or NetworkSettings()
    if by not in ("auto", "area", "households"):
        raise InvalidInput("network.bad_basis", by=by)
    if not cells and not points:
        raise InvalidInput("network.rekey_nothing")
    if len(cells) + len(points) > settings.max_rekey:
        raise InvalidInput("network.rekey_too_many", count=len(cells) + len(points), limit=settings.max_rekey)
    with db.cursor() as cur:
        row = _network_row(cur, name)
        chosen = _version(row, version)
    out: answers.RekeyedMany = {"network": name, "version": chosen, "by": by}
    if cells:
        codes = [str(c) for c in cells]
        cached = _compute(db, name, chosen, settings, False, cached_only=True)
        if cached is None and len(set(codes)) <= _LOCAL_REKEY:
            out["cells"] = [
                _cell_answer(_local_crosswalk(db, name, chosen, code, settings), code, by) for code in codes
            ]
        else:
            whole = cached or crosswalk(db, name, chosen, settings=settings)
            out["cells"] = [_cell_answer(whole, code, by) for code in codes]
    if points:
        out["points"] = _rekey_points(db, name, chosen, points, crs)
    return out


def rekeyed_one(many: answers.RekeyedMany) -> answers.Rekeyed:
    """The answer of a re-keying asked for one cell or one point: its members beside the network's."""
    out: answers.Rekeyed = {"network": many["network"], "version": many["version"], "by": many["by"]}
    if "cells" in many:
        out |= many["cells"][0]
    if "points" in many:
        out["point"] = many["points"][0]
    return out


def _rekey_points(
    db: Database, name: str, version: int, points: Sequence[Sequence[float]], crs: str | None
) -> list[answers.PointRekeyed]:
    try:
        xy = np.array([[float(p[0]), float(p[1])] for p in points], dtype=np.float64)
    except (TypeError, ValueError, IndexError, KeyError):
        raise InvalidInput("network.bad_points") from None
    for k, (x, y) in enumerate(xy):
        problem = lonlat_problem(x, y)
        if problem is not None:
            raise InvalidInput("network.bad_point", index=k, problem=problem)
    crs = normalise_crs(crs)
    wlon, wlat = to_wgs84_arrays(xy[:, 0], xy[:, 1], crs)
    index, positions = locate.locate_batch(db, wlon, wlat, "wgs84")
    grids = locate.grid_codes(index, positions)
    names = {info.code: info.name for info in index.grids.infos}
    box = (float(np.min(wlon)), float(np.min(wlat)), float(np.max(wlon)), float(np.max(wlat)))
    with db.cursor() as cur:
        cells = store.cells(cur, name, version, box)
    codes = np.array([c["code"] for c in cells], dtype=object)
    geoms = np.array([shapely.from_wkb(c["wkb"]) for c in cells], dtype=object)
    owner = assign_points(geoms, code_rank(codes), np.asarray(wlon), np.asarray(wlat)) if len(cells) else None
    out: list[answers.PointRekeyed] = []
    for k in range(len(xy)):
        cell: answers.NamedCode | None = None
        if owner is not None and owner[k] != OUTSIDE:
            cell = {"code": codes[owner[k]], "name": cells[owner[k]]["name"]}
        code = grids[k]
        grid: answers.NamedCode | None = None if code is None else {"code": code, "name": names.get(code)}
        out.append({"lon": float(wlon[k]), "lat": float(wlat[k]), "cell": cell, "grid": grid})
    return out
