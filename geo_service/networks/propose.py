"""Proposing unified grids from several departments' networks (多网合一).

For every community under the parent (the community hierarchy is kept: a proposed grid lies in exactly one
community), the grid proposal engine (:func:`geo_service.grids.propose.partition_area`) partitions the
community into contiguous grids with households in the band. Its block units are the faces of the overlay of
all the networks' cell boundaries inside the community (near-coincident boundaries leave slivers that the
engine folds into a neighbour), and cutting between two blocks costs the length of their shared boundary
times ``1 + N − k``, where ``k`` of the ``N`` networks have a boundary along it (within the mismatch
tolerance over at least half its length). So the cuts follow the boundaries most networks share.

The answer is a FeatureCollection for the planner to review and save with ``POST /api/grids/import``; nothing
is written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import shapely

from geo_service.crs import metric_epsg_for
from geo_service.db.pool import Database
from geo_service.errors import InvalidInput, NotFound
from geo_service.geojson import Feature
from geo_service.grids.geometry import to_metric
from geo_service.grids.propose import partition_area, proposal_features
from geo_service.networks.answers import CommunityProposal, NetworkProposal
from geo_service.networks.service import _network_row, check_name
from geo_service.settings import GridSettings, NetworkSettings
from geo_service.store import networks as store
from geo_service.store import planning

_AGREE_SHARE = 0.5  # a network "has" a boundary when it runs along at least this share of it


def agreement_cost(
    zones: list[Any], epsg: int
) -> Callable[[np.ndarray, dict[tuple[int, int], float]], dict[tuple[int, int], float]]:
    """The cut cost of :mod:`geo_service.grids.propose` weighted by agreement: shared length × (1 + N − k),
    with ``zones`` the metric buffers around each network's boundaries (N = len(zones))."""

    def cost(blocks: np.ndarray, shared: dict[tuple[int, int], float]) -> dict[tuple[int, int], float]:
        if not shared:
            return shared
        keys = list(shared)
        pairs = np.array(keys, dtype=np.int64)
        blocks_m = to_metric(blocks, epsg)
        lines = shapely.intersection(
            shapely.boundary(blocks_m[pairs[:, 0]]), shapely.boundary(blocks_m[pairs[:, 1]])
        )
        lengths = shapely.length(lines)
        agree = np.zeros(len(keys))
        for zone in zones:
            along = shapely.length(shapely.intersection(lines, zone))
            agree += along >= _AGREE_SHARE * np.maximum(lengths, 1e-9)
        return {key: shared[key] * (1 + len(zones) - agree[i]) for i, key in enumerate(keys)}

    return cost


def propose(
    db: Database,
    names: Sequence[str],
    parent_code: str,
    households_min: int | None = None,
    households_max: int | None = None,
    settings: NetworkSettings | None = None,
    grids: GridSettings | None = None,
) -> NetworkProposal:
    """Proposed unified grids for every community under ``parent_code`` from the current versions of the
    networks ``names`` (see the module docstring).

    Raises
    ------
    InvalidInput
        Fewer than two networks, an empty band, a grid as the parent, or a parent with no community.
    NotFound
        An unknown network or parent.
    """
    settings = settings or NetworkSettings()
    grids = grids or GridSettings()
    names = list(dict.fromkeys(names))
    if len(names) < 2:
        raise InvalidInput("network.propose_few")
    for name in names:
        check_name(name)
    low = households_min if households_min is not None else grids.households_min
    high = households_max if households_max is not None else grids.households_max
    if low > high:
        raise InvalidInput("network.band", low=low, high=high)
    # planning's SQL reads plain rows, ours named ones
    with db.cursor() as cur, db.cursor(dict_rows=False) as plain:
        versions = {name: int(_network_row(cur, name)["version"]) for name in names}
        parent = planning.area_geometry(plain, parent_code)
        if parent is None:
            raise NotFound("network.parent_not_found", code=parent_code)
        if parent["level"] == "grid":
            raise InvalidInput("network.parent_is_grid", code=parent_code)
        communities = store.communities_under(cur, parent_code)
        if not communities:
            raise InvalidInput("network.no_communities", code=parent_code)
        inputs = []
        for community in communities:
            geom = shapely.from_wkb(community["wkb"])
            west, south, east, north = (float(v) for v in shapely.bounds(geom))
            box = (west, south, east, north)
            lines = {
                name: [
                    shapely.boundary(shapely.from_wkb(c["wkb"]))
                    for c in store.cells(cur, name, versions[name], box)
                ]
                for name in names
            }
            inputs.append((community, geom, lines, planning.homes(plain, community["wkb"])))
    features: list[Feature] = []
    per_community: list[CommunityProposal] = []
    boundary_m = 0.0
    along_m = dict.fromkeys(names, 0.0)
    along_all_m = 0.0
    for community, geom, lines, homes in inputs:
        epsg = metric_epsg_for([geom])
        zones = []
        for name in names:
            clipped = shapely.intersection(shapely.union_all(lines[name]), geom) if lines[name] else None
            zone = (
                shapely.buffer(to_metric(clipped, epsg), settings.mismatch_tolerance_m)
                if clipped is not None and not clipped.is_empty
                else shapely.Polygon()
            )
            shapely.prepare(zone)
            zones.append(zone)
        all_lines = [line for name in names for line in lines[name]]
        parts, summary = partition_area(
            geom,
            all_lines,
            homes,
            households_min=low,
            households_max=high,
            cut_cost=agreement_cost(zones, epsg),
        )
        collection = proposal_features(community["code"], community["name"], parts, summary, grids)
        for feature in collection["features"]:
            feature["properties"]["networks"] = names
        features.extend(collection["features"])
        per_community.append({"code": community["code"], "name": community["name"], **summary})
        # how much of the proposed boundaries (inside the community) each network has too
        inner = shapely.difference(
            shapely.union_all([shapely.boundary(to_metric(p.geom, epsg)) for p in parts]),
            shapely.buffer(shapely.boundary(to_metric(geom, epsg)), settings.follow_tolerance_m),
        )
        boundary_m += float(shapely.length(inner))
        covered = inner
        for name, zone in zip(names, zones, strict=True):
            along_m[name] += float(shapely.length(shapely.intersection(inner, zone)))
            covered = shapely.intersection(covered, zone)
        along_all_m += float(shapely.length(covered))
    return {
        "type": "FeatureCollection",
        "features": features,
        "summary": {
            "parent_code": parent_code,
            "networks": names,
            "versions": versions,
            "households_min": low,
            "households_max": high,
            "communities": per_community,
            "grids": len(features),
            "grids_in_band": sum(bool(f["properties"]["in_band"]) for f in features),
            "households": round(sum(c["households"] for c in per_community), 1),
            "boundary_m": round(boundary_m, 1),
            "boundary_along_network_m": {name: round(v, 1) for name, v in along_m.items()},
            "boundary_along_all_networks_m": round(along_all_m, 1),
        },
    }
