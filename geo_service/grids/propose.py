"""Grid proposals: partition an area into contiguous grids that follow streets and balance households.

1. Blocks: the street network inside the parent, noded together with the parent's boundary, is polygonised;
   each face is a block (a piece of land bounded by streets or by the parent's edge).
2. Weights: each home (residence point) adds its households to the block it lies in.
3. Partition: METIS (``pymetis``) cuts the block-adjacency graph (edge weight = shared street length, so
   grids come out compact) into ``k`` parts of balanced households, ``k`` chosen so that the mean falls in
   the band ``[households_min, households_max]``.
4. Repair: every part is made contiguous (stray pieces join the neighbour they share most boundary with),
   then blocks on part edges move from parts above the band to neighbours below it while both stay
   contiguous, until every grid is in the band or no move helps (a single block heavier than the band's top
   cannot be split: that grid is reported out of band).

The result is a FeatureCollection for the planner to edit and then import; nothing is written.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import pymetis
import shapely
from pydantic import Field
from shapely.geometry.base import BaseGeometry
from typing_extensions import TypedDict  # pydantic documents the proposal on Python 3.11

from geo_service.crs import metric_epsg_for
from geo_service.db.pool import Database
from geo_service.errors import InvalidInput, NotFound
from geo_service.geojson import Feature, FeatureCollection
from geo_service.grids import codes
from geo_service.grids.geometry import as_multipolygon, to_geojson, to_metric
from geo_service.settings import GridSettings
from geo_service.store import planning


class PartitionSummary(TypedDict):
    """How a partition went: households and blocks shared out, grids made and how many are in the band."""

    households: float
    blocks: int
    grids: int
    grids_in_band: int
    households_min: float
    households_max: float
    feasible: Annotated[bool, Field(description="the band can be met (no block above its top, a count fits)")]
    seconds: float


class ProposalSummary(PartitionSummary):
    parent_code: str


class ProposalProperties(TypedDict):
    code: str
    name: str
    level: str
    parent_code: str
    households: int
    residences: int
    blocks: int
    area_m2: float
    in_band: Annotated[bool, Field(description="households within the band asked for")]


class Proposal(FeatureCollection):
    """Proposed grids to edit and import; nothing is written."""

    summary: ProposalSummary


# Indoor ways are not boundaries on the ground.
_NOT_BOUNDARIES = ("corridor", "elevator")
_MIN_SHARED_M = 0.05
_CRUMB_M2 = 5.0
_CRUMB_WIDTH_M = 2.0  # thinner faces (between a road and its sidewalk) join a neighbour


@dataclass
class Part:
    """One proposed piece: geometry (WGS-84), households, homes and blocks in it."""

    geom: BaseGeometry
    households: float
    residences: int
    blocks: int


def _blocks(parent: BaseGeometry, lines: list[BaseGeometry], epsg: int) -> np.ndarray:
    """Faces of the street lines clipped to ``parent`` plus the parent's boundary (degrees)."""
    clipped = [shapely.intersection(line, parent) for line in lines]
    linework = [g for g in clipped if not g.is_empty] + [shapely.boundary(parent)]
    noded = shapely.union_all(np.array(linework, dtype=object))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    if len(faces) == 0:
        return np.array(shapely.get_parts(parent), dtype=object)
    faces = faces[shapely.covers(parent, shapely.point_on_surface(faces))]
    # Noding lines that run along the parent's edge can nudge vertices a hair outside it: clip them back.
    faces = np.array(
        [
            p
            for f in faces
            for p in shapely.get_parts(as_multipolygon(shapely.intersection(f, parent)))
            if p.area > 0
        ],
        dtype=object,
    )
    # Land the faces miss (a parent whose boundary the lines do not close) stays in as blocks of its own.
    rest = as_multipolygon(shapely.difference(parent, shapely.union_all(faces)))
    faces = np.array(list(faces) + [p for p in shapely.get_parts(rest) if p.area > 0], dtype=object)
    return _merge_crumbs(faces, epsg)


def _merge_crumbs(faces: np.ndarray, epsg: int) -> np.ndarray:
    """Faces under ``_CRUMB_M2`` or thinner than ``_CRUMB_WIDTH_M`` (between nearly parallel lines) join the
    neighbour they share the most boundary with, so no grid ends up with a sliver for a part."""
    metric = to_metric(faces, epsg)
    areas, perimeters = shapely.area(metric), shapely.length(metric)
    thin = 2 * areas / np.maximum(perimeters, 1e-9) < _CRUMB_WIDTH_M
    crumbs = set(np.flatnonzero((areas < _CRUMB_M2) | thin).tolist())
    if not crumbs:
        return faces
    faces = faces.copy()
    tree = shapely.STRtree(faces)
    alive = np.ones(len(faces), dtype=bool)
    for i in sorted(crumbs, key=lambda k: areas[k]):
        candidates = [int(j) for j in tree.query(faces[i], predicate="intersects") if j != i and alive[j]]
        if candidates:
            shared = shapely.length(
                shapely.intersection(shapely.boundary(faces[i]), shapely.boundary(faces[candidates]))
            )
            target = candidates[int(np.argmax(shared))]
            faces[target] = shapely.union(faces[target], faces[i])
        alive[i] = False
    return faces[alive]


def tidy_union(blocks: np.ndarray, parent: BaseGeometry, epsg: int) -> BaseGeometry:
    """The union of a part's blocks, clipped to the parent (when blocks are not perfectly noded the overlay
    falls back to snapping, which can push the boundary a little outside), without crumbs."""
    union = as_multipolygon(shapely.intersection(shapely.union_all(blocks), parent))
    pieces = shapely.get_parts(union)
    if len(pieces) <= 1:
        return pieces[0] if len(pieces) else union
    metric = to_metric(pieces, epsg)
    areas, perimeters = shapely.area(metric), shapely.length(metric)
    keep = (areas >= _CRUMB_M2) & (2 * areas / np.maximum(perimeters, 1e-9) >= _CRUMB_WIDTH_M)
    kept = pieces[keep] if keep.any() else pieces[[int(np.argmax(areas))]]
    return kept[0] if len(kept) == 1 else shapely.MultiPolygon(list(kept))


def _adjacency(blocks: np.ndarray, epsg: int) -> tuple[list[set[int]], dict[tuple[int, int], float]]:
    tree = shapely.STRtree(blocks)
    a, b = tree.query(blocks, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    neighbours: list[set[int]] = [set() for _ in range(len(blocks))]
    shared: dict[tuple[int, int], float] = {}
    if len(a):
        lines = shapely.intersection(shapely.boundary(blocks[a]), shapely.boundary(blocks[b]))
        lengths = shapely.length(to_metric(lines, epsg))
        for i, j, length in zip(a, b, lengths, strict=True):
            if length > _MIN_SHARED_M:
                neighbours[i].add(int(j))
                neighbours[j].add(int(i))
                shared[(int(i), int(j))] = float(length)
    return neighbours, shared


def _connected(members: set[int], neighbours: list[set[int]]) -> list[set[int]]:
    left, groups = set(members), []
    while left:
        start = left.pop()
        group, queue = {start}, deque([start])
        while queue:
            for n in neighbours[queue.popleft()]:
                if n in left:
                    left.remove(n)
                    group.add(n)
                    queue.append(n)
        groups.append(group)
    return groups


def _shared(i: int, j: int, shared: dict[tuple[int, int], float]) -> float:
    return shared.get((i, j) if i < j else (j, i), 0.0)


def _make_contiguous(
    label: np.ndarray, weights: np.ndarray, neighbours: list[set[int]], shared: dict[tuple[int, int], float]
) -> None:
    """Keep each part's heaviest connected piece; hand the other pieces to the neighbouring part they share
    the longest boundary with (repeat until every part is one piece)."""
    for _ in range(len(label)):
        changed = False
        for part in np.unique(label):
            pieces = _connected(set(np.flatnonzero(label == part).tolist()), neighbours)
            if len(pieces) <= 1:
                continue
            pieces.sort(key=lambda p: (weights[list(p)].sum(), len(p)), reverse=True)
            for piece in pieces[1:]:
                border: dict[int, float] = {}
                for i in piece:
                    for n in neighbours[i]:
                        if n not in piece:
                            border[int(label[n])] = border.get(int(label[n]), 0.0) + _shared(i, n, shared)
                border.pop(int(part), None)
                if border:
                    target = max(border.items(), key=lambda kv: (kv[1], -kv[0]))[0]
                    label[list(piece)] = target
                    changed = True
        if not changed:
            return


def _bisect(
    nodes: list[int],
    k: int,
    first_label: int,
    label: np.ndarray,
    vweights: np.ndarray,
    neighbours: list[set[int]],
    shared: dict[tuple[int, int], float],
) -> None:
    """Recursive bisection: split ``nodes`` into two connected sides weighted k//2 : k - k//2 (METIS), then
    recurse, so exactly ``k`` parts come out (k-way METIS leaves parts empty when a few blocks are heavy)."""
    if k <= 1 or len(nodes) <= 1:
        label[nodes] = first_label
        return
    k1 = k // 2
    position = {n: i for i, n in enumerate(nodes)}
    adjacency = [sorted(position[m] for m in neighbours[n] if m in position) for n in nodes]
    xadj = np.cumsum([0] + [len(a) for a in adjacency]).tolist()
    adjncy = [j for a in adjacency for j in a]
    eweights = [
        max(1, round(_shared(n, nodes[j], shared) * 10))
        for n, a in zip(nodes, adjacency, strict=True)
        for j in a
    ]
    connected = len(_connected(set(nodes), neighbours)) == 1
    if adjncy:
        _, membership = pymetis.part_graph(
            2,
            pymetis.CSRAdjacency(xadj, adjncy),
            vweights=vweights[nodes].tolist(),
            eweights=eweights,
            tpwgts=[k1 / k, (k - k1) / k],
            options=pymetis.Options(contig=int(connected)),
        )
        side = np.asarray(membership)
    else:
        side = np.zeros(len(nodes), dtype=np.int64)
    left = [n for n, s in zip(nodes, side, strict=True) if s == 0]
    right = [n for n, s in zip(nodes, side, strict=True) if s == 1]
    if not left or not right:  # METIS could not split (a single heavy block): split off the lightest block
        ordered = sorted(nodes, key=lambda n: vweights[n])
        left, right = ordered[:1], ordered[1:]
    _bisect(left, k1, first_label, label, vweights, neighbours, shared)
    _bisect(right, k - k1, first_label + k1, label, vweights, neighbours, shared)


def _deviation(load: float, low: float, high: float) -> float:
    return max(0.0, low - load) + max(0.0, load - high)


def _balance(
    label: np.ndarray,
    weights: np.ndarray,
    neighbours: list[set[int]],
    shared: dict[tuple[int, int], float],
    low: float,
    high: float,
    max_moves: int,
) -> None:
    """Move single edge blocks between neighbouring parts while (households out of band, spread around the
    band's middle) shrinks lexicographically and the giving part stays contiguous. The spread term lets
    households flow through in-band parts towards a part short of them."""
    mid = (low + high) / 2
    loads = {int(p): float(weights[label == p].sum()) for p in np.unique(label)}
    members = {p: set(np.flatnonzero(label == p).tolist()) for p in loads}

    def cost(load: float) -> tuple[float, float]:
        return _deviation(load, low, high), (load - mid) ** 2

    for _ in range(max_moves):
        best: tuple[float, float, float, int, int] | None = None
        for block in range(len(label)):
            source = int(label[block])
            w = float(weights[block])
            if w == 0:
                continue
            for target in {int(label[n]) for n in neighbours[block]} - {source}:
                (d1, s1), (d2, s2) = cost(loads[source]), cost(loads[target])
                (e1, t1), (e2, t2) = cost(loads[source] - w), cost(loads[target] + w)
                gain = (d1 + d2 - e1 - e2, s1 + s2 - t1 - t2)
                if gain[0] < -1e-9 or (abs(gain[0]) <= 1e-9 and gain[1] <= 1e-6):
                    continue
                border = sum(_shared(block, n, shared) for n in neighbours[block] if label[n] == target)
                key = (gain[0], gain[1], border, block, target)
                if best is None or key[:3] > best[:3]:
                    remaining = members[source] - {block}
                    if remaining and len(_connected(remaining, neighbours)) == 1:
                        best = key
        if best is None:
            return
        block, target = best[3], best[4]
        source = int(label[block])
        label[block] = target
        members[source].discard(block)
        members[target].add(block)
        loads[source] -= float(weights[block])
        loads[target] += float(weights[block])


def _merge_empty(
    label: np.ndarray, weights: np.ndarray, neighbours: list[set[int]], shared: dict[tuple[int, int], float]
) -> None:
    """Parts with no households join the neighbouring part they share the most boundary with."""
    for part in np.unique(label):
        members = np.flatnonzero(label == part)
        if weights[members].sum() > 0 or len(np.unique(label)) == 1:
            continue
        border: dict[int, float] = {}
        for i in members:
            for n in neighbours[i]:
                if label[n] != part:
                    border[int(label[n])] = border.get(int(label[n]), 0.0) + _shared(int(i), n, shared)
        if border:
            label[members] = max(border.items(), key=lambda kv: (kv[1], -kv[0]))[0]


def partition_area(
    parent: BaseGeometry,
    lines: list[BaseGeometry],
    homes: list[tuple[float, float, float]],
    *,
    households_min: float,
    households_max: float,
    parts: int | None = None,
    balance: bool = True,
    cut_cost: Callable[[np.ndarray, dict[tuple[int, int], float]], dict[tuple[int, int], float]]
    | None = None,
) -> tuple[list[Part], PartitionSummary]:
    """Split ``parent`` (WGS-84) along ``lines`` into contiguous parts with balanced households.

    Parameters
    ----------
    homes
        (lon, lat, households) of each home.
    parts
        Number of parts; by default chosen from the households band.
    balance
        Move edge blocks between parts towards the band after partitioning (off: METIS's cut as it is).
    cut_cost
        ``(blocks, shared) -> weights``: the cost of cutting between adjacent blocks, given the blocks (WGS-84)
        and their shared boundary lengths (m, keyed by block pairs i < j); default the shared length.

    Returns
    -------
    (parts, summary)
    """
    started = time.perf_counter()
    epsg = metric_epsg_for([parent])
    blocks = _blocks(parent, lines, epsg)
    weights = np.zeros(len(blocks))
    home_count = np.zeros(len(blocks), dtype=np.int64)
    if homes:
        xy = np.array(homes)
        tree = shapely.STRtree(blocks)
        pts, owner = tree.query(shapely.points(xy[:, 0], xy[:, 1]), predicate="intersects")
        first = np.unique(pts, return_index=True)[1]  # a home on a street line counts once
        np.add.at(weights, owner[first], xy[pts[first], 2])
        np.add.at(home_count, owner[first], 1)
    total = float(weights.sum())
    mid = (households_min + households_max) / 2
    # A block heavier than the band's top cannot be split: it is a grid of its own; the rest is shared out.
    heavy = int(np.count_nonzero(weights > households_max))
    rest = total - float(weights[weights > households_max].sum())
    k_low = math.ceil(rest / households_max) if rest else 0
    k_high = math.floor(rest / households_min) if rest else 0
    feasible = heavy == 0 and k_low <= k_high
    if parts is None:
        parts = heavy + (
            min(max(round(rest / mid), k_low), k_high) if k_low <= k_high else max(1, round(rest / mid))
        )
    parts = max(1, min(parts, len(blocks)))
    neighbours, shared = _adjacency(blocks, epsg)
    if cut_cost is not None:
        shared = cut_cost(blocks, shared)
    label = np.zeros(len(blocks), dtype=np.int64)
    if parts > 1:
        # households ×10 keeps tenths; +1 stops empty blocks from all landing in one part
        vweights = np.round(weights * 10).astype(np.int64) + 1
        _bisect(list(range(len(blocks))), parts, 0, label, vweights, neighbours, shared)
        _make_contiguous(label, weights, neighbours, shared)
        if total and balance:
            _balance(
                label,
                weights,
                neighbours,
                shared,
                households_min,
                households_max,
                max_moves=min(4 * len(blocks), 500),
            )
            _make_contiguous(label, weights, neighbours, shared)
            _merge_empty(label, weights, neighbours, shared)
    out = []
    for part in np.unique(label):
        members = np.flatnonzero(label == part)
        geom = tidy_union(blocks[members], parent, epsg)
        out.append(Part(geom, float(weights[members].sum()), int(home_count[members].sum()), len(members)))
    in_band = sum(households_min <= p.households <= households_max for p in out)
    summary: PartitionSummary = {
        "households": round(total, 1),
        "blocks": len(blocks),
        "grids": len(out),
        "grids_in_band": in_band,
        "households_min": households_min,
        "households_max": households_max,
        "feasible": feasible,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return out, summary


def propose(
    db: Database,
    parent_code: str,
    households_min: int | None = None,
    households_max: int | None = None,
    settings: GridSettings | None = None,
) -> Proposal:
    """Proposed grids for ``parent_code`` as a FeatureCollection (``summary`` says how many are in band).

    Raises
    ------
    NotFound
        No such current area.
    InvalidInput
        The parent is a grid, or the band is empty (min > max).
    """
    settings = settings or GridSettings()
    low = households_min if households_min is not None else settings.households_min
    high = households_max if households_max is not None else settings.households_max
    if low > high:
        raise InvalidInput("grid.propose_band", low=low, high=high)
    with db.cursor(dict_rows=False) as cur:
        parent = planning.area_geometry(cur, parent_code)
        if parent is None:
            raise NotFound("grid.not_found", code=parent_code)
        if parent["level"] == "grid":
            raise InvalidInput("grid.propose_grid", code=parent_code)
        lines = [(shapely.from_wkb(w), h) for w, h in planning.street_lines(cur, parent["wkb"])]
        homes = planning.homes(cur, parent["wkb"])
    geom = shapely.from_wkb(parent["wkb"])
    parts, summary = partition_area(
        geom,
        [g for g, h in lines if h not in _NOT_BOUNDARIES],
        homes,
        households_min=low,
        households_max=high,
    )
    return proposal_features(parent_code, parent["name"], parts, summary, settings)


def proposal_features(
    parent_code: str,
    parent_name: str,
    parts: list[Part],
    summary: PartitionSummary,
    settings: GridSettings,
    level: str = "grid",
) -> Proposal:
    """Parts as a FeatureCollection with GB/T codes in reading order (or ``<parent>-P001`` when the parent's
    code is not a GB/T code one level up)."""
    geoms = [p.geom for p in parts]
    try:
        assigned = codes.assign(parent_code, level, geoms, used=())
    except codes.NumberingError:
        assigned = [""] * len(parts)
        for number, i in enumerate(codes.reading_order(geoms), start=1):
            assigned[i] = f"{parent_code}-P{number:03d}"
    epsg = metric_epsg_for(geoms) if geoms else 3857
    features: list[Feature] = []
    for part, code in zip(parts, assigned, strict=True):
        serial = code[-3:]
        properties: ProposalProperties = {
            "code": code,
            "name": f"{parent_name} 网格{serial}",
            "level": level,
            "parent_code": parent_code,
            "households": round(part.households),
            "residences": part.residences,
            "blocks": part.blocks,
            "area_m2": round(float(shapely.area(to_metric(part.geom, epsg))), 1),
            "in_band": bool(summary["households_min"] <= part.households <= summary["households_max"]),
        }
        # a feature's properties are open (the networks' proposal adds ``networks``)
        features.append(
            {"type": "Feature", "geometry": to_geojson(part.geom), "properties": dict(properties)}
        )
    features.sort(key=lambda f: f["properties"]["code"])
    return {
        "type": "FeatureCollection",
        "features": features,
        "summary": {"parent_code": parent_code, **summary},
    }
