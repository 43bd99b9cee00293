"""Read an ``.osm.pbf`` with pyrosm into the frames the service stores.

Pure data in, pure data out: nothing here touches the database, so every rule is unit-testable.
All geometries are EPSG:4326; metric quantities (footprint area) use the extract's metric CRS
(:func:`geo_service.crs.metric_epsg` at the extract's centre).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyrosm
import shapely
from pyproj import CRS, Geod

from geo_service.crs import metric_epsg
from geo_service.geocode.keys import keys_for
from geo_service.osm import rules
from geo_service.settings import ImportSettings

if TYPE_CHECKING:  # the shape only: walking graphs are built later, from the database
    from geo_service.walking import Components

# Tags kept on imported facilities (the rest of a POI's tags are noise for this service).
_FACILITY_TAGS = (
    "amenity",
    "shop",
    "healthcare",
    "leisure",
    "social_facility",
    "social_facility:for",
    "opening_hours",
    "operator",
    "phone",
    "website",
    "wheelchair",
    "addr:street",
    "addr:housenumber",
    "name:zh",
    "name:en",
)
_WATER_LANDUSE = ["reservoir", "basin"]
_WATERWAYS = ["river", "riverbank", "canal", "stream", "dock"]
_GREEN_LANDUSE = [
    "grass",
    "forest",
    "meadow",
    "recreation_ground",
    "cemetery",
    "village_green",
    "park",
    "orchard",
]
_GREEN_NATURAL = ["wood", "scrub", "grassland", "heath"]
_GREEN_LEISURE = ["park", "garden", "playground", "nature_reserve", "pitch"]
_RAILWAYS = ["rail", "light_rail", "subway", "tram", "narrow_gauge", "monorail"]
_PLACES = [
    "city",
    "town",
    "suburb",
    "quarter",
    "neighbourhood",
    "village",
    "hamlet",
    "locality",
    "square",
    "isolated_dwelling",
    "city_block",
    "plot",
]
# every name a caller may use for a place: Chinese in both scripts, English, alternative and official names
_NAME_KEYS = (
    "name",
    "name:zh",
    "name:zh-Hans",
    "name:zh-Hant",
    "name:zh-CN",
    "name:zh-SG",
    "name:zh-TW",
    "name:zh-HK",
    "name:en",
    "alt_name",
    "alt_name:zh",
    "official_name",
    "official_name:zh",
    "short_name",
    "short_name:zh",
    "loc_name",
)
# address tags kept on gazetteer entries: the geocoder reads road and number, and the divisions they name
_ADDRESS_TAGS = (
    "addr:street",
    "addr:housenumber",
    "addr:place",
    "addr:province",
    "addr:state",
    "addr:city",
    "addr:district",
    "addr:county",
    "addr:subdistrict",
    "addr:suburb",
    "addr:town",
    "addr:village",
    "addr:neighbourhood",
)
# named stations and terminals, which callers name more than any other place (often with no address)
_STATION_FILTER = {
    "railway": ["station", "halt", "tram_stop"],
    "public_transport": ["station"],
    "amenity": ["bus_station", "ferry_terminal"],
    "aeroway": ["aerodrome", "terminal"],
}


@dataclass
class Extract:
    """Everything one import writes, as GeoDataFrames in EPSG:4326."""

    srid: int
    bbox: tuple[float, float, float, float]
    nodes: pd.DataFrame  # id, lon, lat
    edges: gpd.GeoDataFrame  # osm_id, u, v, length_m, highway, foot, steps, name
    residences: (
        gpd.GeoDataFrame
    )  # osm_type, osm_id, building, levels, footprint_m2, households_est, address, point
    facilities: gpd.GeoDataFrame  # osm_type, osm_id, name, category, tags
    areas: gpd.GeoDataFrame  # code, name, level, parent_code, properties
    gazetteer: gpd.GeoDataFrame  # kind, name, properties
    basemap: gpd.GeoDataFrame  # kind, class, name
    components: Components

    def counts(self) -> dict[str, int]:
        return {
            "walk_nodes": len(self.nodes),
            "walk_edges": len(self.edges),
            "residences": len(self.residences),
            "facilities": len(self.facilities),
            "areas": len(self.areas),
            "gazetteer": len(self.gazetteer),
            "basemap": len(self.basemap),
        }


Step = Callable[[str], None]
#: built once: geopandas parses ``crs=4326`` into a new pyproj CRS per frame (~20 ms each, dozens a run)
_EPSG_4326 = CRS.from_epsg(4326)


def read_extract(
    path: Path,
    settings: ImportSettings,
    facility_rules: rules.FacilityRules,
    step: Step | None = None,
    phase: Step | None = None,
) -> Extract:
    """Parse ``path`` into an :class:`Extract`; ``step(label)`` is called as each stage of the progress bar
    starts, ``phase(label)`` as each finer phase starts (``parse …``: pyrosm reading a layer into frames with
    geometries; ``derive …``: what the import makes of them), for the import's time breakdown."""
    step = step or (lambda _label: None)
    phase = phase or (lambda _label: None)
    phase("parse: pyrosm")
    osm = _pyrosm_osm()(str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyrosm warns for every empty layer; empty layers are normal
        step("walking network")
        phase("parse: walkable ways and nodes")
        nodes_raw, ways_raw = _read_network(osm)
        step("buildings")
        phase("parse: buildings")
        buildings = osm.get_buildings()
        step("facilities")
        phase("parse: POIs")
        pois = osm.get_pois(custom_filter=facility_rules.pyrosm_filter())
        step("admin boundaries")
        phase("parse: admin boundaries")
        boundaries = osm.get_boundaries()
        step("places and addresses")
        phase("parse: places, addresses, stations")
        places = _safe(lambda: osm.get_data_by_custom_criteria({"place": _PLACES}, keep_relations=False))
        address_nodes = _safe(
            lambda: osm.get_data_by_custom_criteria(
                {"addr:housenumber": True}, keep_ways=False, keep_relations=False
            )
        )
        stations = _safe(lambda: osm.get_data_by_custom_criteria(_STATION_FILTER, keep_relations=False))
        step("water, green and rail")
        phase("parse: water, green, rail")
        water = _concat(
            _safe(
                lambda: osm.get_natural(custom_filter={"natural": ["water", "bay", "coastline", "wetland"]})
            ),
            _safe(lambda: osm.get_data_by_custom_criteria({"waterway": _WATERWAYS}, keep_nodes=False)),
            _safe(lambda: osm.get_landuse(custom_filter={"landuse": _WATER_LANDUSE})),
        )
        green = _concat(
            _safe(lambda: osm.get_landuse(custom_filter={"landuse": _GREEN_LANDUSE})),
            _safe(lambda: osm.get_natural(custom_filter={"natural": _GREEN_NATURAL})),
            _safe(lambda: osm.get_data_by_custom_criteria({"leisure": _GREEN_LEISURE}, keep_nodes=False)),
        )
        rail = _safe(lambda: osm.get_data_by_custom_criteria({"railway": _RAILWAYS}, keep_nodes=False))

    step("classify")
    if ways_raw is None or nodes_raw is None or len(ways_raw) == 0:
        raise ValueError(f"{path} holds no streets or paths: nothing to walk on")
    bbox = tuple(float(v) for v in ways_raw.total_bounds)
    srid = metric_epsg((bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2)
    phase("derive: walking graph")
    nodes, edges = walking_network(nodes_raw, ways_raw)
    phase("derive: residences")
    residences = residences_from_buildings(buildings, srid, settings)
    phase("derive: facilities")
    facilities = facilities_from_pois(pois, facility_rules)
    phase("derive: admin areas")
    areas = areas_from_boundaries(boundaries, settings.admin_levels, srid)
    phase("derive: gazetteer and geocoder keys")
    gazetteer = gazetteer_entries(buildings, _concat(address_nodes, stations), places, edges, facilities)
    phase("derive: basemap")
    basemap = basemap_features(ways_raw, buildings, water, green, rail)
    phase("derive: walking graph pieces")
    return Extract(
        srid=srid,
        bbox=bbox,  # type: ignore[arg-type]
        nodes=nodes,
        edges=edges,
        residences=residences,
        facilities=facilities,
        areas=areas,
        gazetteer=gazetteer,
        basemap=basemap,
        components=network_components(edges),
    )


#: pyrosm's optional graph exporters, imported by ``pyrosm.OSM``'s module though an import never exports a graph:
#: pandana alone pulls in scikit-learn and scipy.stats, seconds before the first byte is read
_GRAPH_BACKENDS = ("pandana", "pandarm", "networkx", "igraph")


def _pyrosm_osm() -> type[pyrosm.OSM]:
    """``pyrosm.OSM``, its module imported with the graph exporters it probes for left out (the ones this
    process has not imported already; they stay importable afterwards)."""
    if "pyrosm.pyrosm" not in sys.modules:
        hidden = [name for name in _GRAPH_BACKENDS if name not in sys.modules]
        for name in hidden:
            sys.modules[name] = None  # type: ignore[assignment]  # `import name` raises ImportError
        try:
            importlib.import_module("pyrosm.pyrosm")
        finally:
            for name in hidden:
                if sys.modules.get(name, 0) is None:
                    del sys.modules[name]
    return pyrosm.OSM


def _safe(read: Callable[[], gpd.GeoDataFrame | None]) -> gpd.GeoDataFrame | None:
    """pyrosm returns None (or raises on some empty layers); both mean 'nothing of that here'."""
    try:
        frame = read()
    except (KeyError, ValueError, AttributeError, TypeError):
        return None
    return frame if frame is not None and len(frame) else None


def _concat(*frames: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    present = [f for f in frames if f is not None and len(f)]
    if not present:
        return None
    return gpd.GeoDataFrame(pd.concat(present, ignore_index=True), geometry="geometry", crs=_EPSG_4326)


def _read_network(osm: pyrosm.OSM) -> tuple[pd.DataFrame | None, gpd.GeoDataFrame | None]:
    result = osm.get_network(
        network_type="all", nodes=True, extra_attributes=["area", "level", "indoor", "layer"]
    )
    if result is None:
        return None, None
    nodes, ways = result
    return nodes, ways


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def row_tags(row: pd.Series, columns: list[str]) -> dict[str, Any]:
    """All OSM tags of a pyrosm row: its tag columns merged with its JSON ``tags`` column."""
    tags = _json_tags(row.get("tags"))
    for column in columns:
        value = _text(row.get(column))
        if value is not None:
            tags[column] = value
    return tags


def frame_tags(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """:func:`row_tags` of every row of ``frame``, read column by column (a pandas Series per row, as
    ``iterrows`` makes, cost most of an import's time on building and address rows)."""
    n = len(frame)
    raw = frame["tags"].to_numpy(dtype=object) if "tags" in frame else np.full(n, None, dtype=object)
    tags = [_json_tags(value) for value in raw]
    for column in _tag_columns(frame):
        values = frame[column].to_numpy(dtype=object)
        for i in np.flatnonzero(pd.notna(values)).tolist():  # None and NaN are no tag, as in _text
            value = _text(values[i])
            if value is not None:
                tags[i][column] = value
    return tags


def _json_tags(raw: Any) -> dict[str, Any]:
    tags: dict[str, Any] = {}
    if isinstance(raw, str) and raw:
        with contextlib.suppress(json.JSONDecodeError):
            tags.update(json.loads(raw))
    elif isinstance(raw, dict):
        tags.update(raw)
    return tags


def _points(geoms: np.ndarray) -> np.ndarray:
    """Each geometry as a point: points stay, anything else becomes a point on its (valid) surface."""
    geoms = np.asarray(geoms, dtype=object)
    out = geoms.copy()
    other = ~shapely.is_missing(geoms) & (shapely.get_type_id(geoms) != 0)
    if other.any():
        out[other] = shapely.point_on_surface(shapely.make_valid(geoms[other]))
    return out


_NON_TAG_COLUMNS = {
    "id",
    "timestamp",
    "version",
    "tags",
    "osm_type",
    "geometry",
    "visible",
    "changeset",
    "u",
    "v",
    "length",
    "lon",
    "lat",
    "uid",
    "user",
}


def _tag_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in _NON_TAG_COLUMNS]


# -- walking network --------------------------------------------------------------------------------------


_WGS84 = Geod(ellps="WGS84")


def geodesic_lengths_m(lines: np.ndarray) -> np.ndarray:
    """Length of each WGS-84 LineString on the WGS-84 ellipsoid, metres (pyproj.Geod's inverse problem per
    segment, summed per line).

    pyrosm's own ``length`` is a spherical (haversine) estimate, 0.1–0.2 % off the ellipsoid at these
    latitudes; walking times and distance thresholds are built on these lengths, so they are geodesic.
    """
    lines = np.asarray(lines, dtype=object)
    out = np.zeros(lines.shape[0])
    if not lines.shape[0]:
        return out
    coords, which = shapely.get_coordinates(lines, return_index=True)
    if coords.shape[0] < 2:
        return out
    same = which[1:] == which[:-1]  # consecutive vertices of one line form a segment
    _, _, seg = _WGS84.inv(
        coords[:-1, 0][same], coords[:-1, 1][same], coords[1:, 0][same], coords[1:, 1][same]
    )
    np.add.at(out, which[1:][same], np.asarray(seg, float))
    return out


def walking_network(nodes_raw: pd.DataFrame, ways: gpd.GeoDataFrame) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Walkable edges (by :func:`rules.walkable_mask`) and the nodes they use."""
    keep = rules.walkable_mask(ways)
    walk = ways.loc[keep].copy()
    geoms = walk.geometry.values
    if (
        shapely.get_type_id(geoms) != 1
    ).any():  # split ways should be LineStrings; merge any stray multi-parts
        merged = shapely.line_merge(geoms)
        walk = walk.set_geometry(merged)
        walk = walk.loc[shapely.get_type_id(walk.geometry.values) == 1]
    highway = walk["highway"].astype(str)
    edges = gpd.GeoDataFrame(
        {
            "osm_id": walk["id"].astype("int64").to_numpy(),
            "u": walk["u"].astype("int64").to_numpy(),
            "v": walk["v"].astype("int64").to_numpy(),
            "length_m": geodesic_lengths_m(walk.geometry.values),
            "highway": highway.to_numpy(),
            "foot": walk.get("foot", pd.Series(index=walk.index, dtype=object)).to_numpy(),
            "steps": (highway == "steps").to_numpy(),
            "underground": rules.underground_mask(walk),
            "name": walk.get("name", pd.Series(index=walk.index, dtype=object)).to_numpy(),
        },
        geometry=walk.geometry.to_numpy(),
        crs=_EPSG_4326,
    )
    edges = edges.loc[edges["u"] != edges["v"]].reset_index(drop=True)  # a closed loop way piece goes nowhere
    used = np.union1d(edges["u"].to_numpy(), edges["v"].to_numpy())
    nodes = nodes_raw.loc[nodes_raw["id"].isin(used), ["id", "lon", "lat"]].drop_duplicates("id")
    return nodes.reset_index(drop=True), edges


def network_components(edges: pd.DataFrame) -> Components:
    """Connected pieces of the undirected walking network: count, largest share of nodes, sizes."""
    if len(edges) == 0:
        return {"count": 0, "largest_share": 0.0, "sizes": []}
    ids, inverse = np.unique(
        np.concatenate([edges["u"].to_numpy(), edges["v"].to_numpy()]), return_inverse=True
    )
    n = len(ids)
    labels = component_labels(n, inverse[: len(edges)], inverse[len(edges) :])
    sizes = np.sort(np.bincount(labels))[::-1]
    sizes = sizes[sizes > 0]
    return {"count": len(sizes), "largest_share": float(sizes[0] / n), "sizes": sizes[:10].tolist()}


def component_labels(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Per node ``0..n-1`` of the undirected edges ``u``–``v``, the smallest node of its connected piece.

    Array-at-a-time union–find: every root hooks under the smallest root it shares an edge with, then the
    trees are flattened; a few rounds on street networks. numpy only: scipy.sparse's ``connected_components``
    gives the same pieces, but importing it cost an import more time than this whole step."""
    parent = np.arange(n)
    while True:
        pu, pv = parent[u], parent[v]  # roots: the trees are flat at the top of each round
        split = pu != pv
        if not split.any():
            return parent
        lo, hi = np.minimum(pu[split], pv[split]), np.maximum(pu[split], pv[split])
        np.minimum.at(parent, hi, lo)  # a root only ever hooks under a smaller one: no cycles
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand


# -- residences -------------------------------------------------------------------------------------------


def residences_from_buildings(
    buildings: gpd.GeoDataFrame | None, srid: int, settings: ImportSettings
) -> gpd.GeoDataFrame:
    """Homes among the buildings, each with footprint, levels and estimated households."""
    columns = [
        "osm_type",
        "osm_id",
        "building",
        "levels",
        "footprint_m2",
        "households_est",
        "address",
        "footprint",
    ]
    if buildings is None or len(buildings) == 0:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=_EPSG_4326)
    polys = buildings.loc[buildings.geometry.geom_type.isin(["Polygon", "MultiPolygon"])].copy()
    polys = polys.set_geometry(shapely.make_valid(polys.geometry.values))
    tags = frame_tags(polys)
    is_home = np.fromiter((rules.is_residence(t) for t in tags), dtype=bool, count=len(tags))
    area_m2 = polys.geometry.to_crs(srid).area.to_numpy()
    keep = is_home & (area_m2 >= settings.min_residence_m2)
    homes = polys.loc[keep]
    home_tags = [t for t, k in zip(tags, keep, strict=True) if k]
    levels = [rules.parse_levels(t.get("building:levels")) for t in home_tags]
    households = [
        rules.estimate_households(t.get("building", ""), a, lv, settings.dwelling_m2, settings.default_levels)
        for t, a, lv in zip(home_tags, area_m2[keep], levels, strict=True)
    ]
    footprints = _as_multipolygons(homes.geometry.values)
    return gpd.GeoDataFrame(
        {
            "osm_type": homes["osm_type"].astype(str).to_numpy(),
            "osm_id": homes["id"].astype("int64").to_numpy(),
            "building": [t.get("building") for t in home_tags],
            "levels": levels,
            "footprint_m2": area_m2[keep],
            "households_est": households,
            "address": [format_address(t) for t in home_tags],
            "footprint": footprints,
        },
        geometry=shapely.point_on_surface(footprints),
        crs=_EPSG_4326,
    )


def _as_multipolygons(geoms: np.ndarray) -> np.ndarray:
    """Polygonal parts of each geometry as one MultiPolygon (GeometryCollections from make_valid included)."""
    out = []
    for geom in geoms:
        parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
        polys = [p for part in parts for p in (part.geoms if part.geom_type == "MultiPolygon" else [part])]
        out.append(shapely.MultiPolygon(polys) if polys else None)
    return np.array(out, dtype=object)


_CJK = ("\u4e00", "\u9fff")


def _has_cjk(text: str) -> bool:
    return any(_CJK[0] <= ch <= _CJK[1] for ch in text)


def format_address(tags: dict[str, Any]) -> str | None:
    """A one-line address from ``addr:*`` tags: ``中山路12号`` in Chinese, ``Mannerheimintie 5`` elsewhere."""
    if _text(tags.get("addr:full")):
        return _text(tags.get("addr:full"))
    street = _text(tags.get("addr:street")) or _text(tags.get("addr:place"))
    number = _text(tags.get("addr:housenumber"))
    if not street or not number:
        return None
    if _has_cjk(street):
        return f"{street}{number}" if number.endswith("号") else f"{street}{number}号"
    return f"{street} {number}"


# -- facilities -------------------------------------------------------------------------------------------


def facilities_from_pois(
    pois: gpd.GeoDataFrame | None, facility_rules: rules.FacilityRules
) -> gpd.GeoDataFrame:
    """POIs that match a facility category, as points (a polygon POI becomes a point inside it)."""
    columns = ["osm_type", "osm_id", "name", "category", "tags"]
    if pois is None or len(pois) == 0:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=_EPSG_4326)
    geoms = pois.geometry.values
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    rows, points = [], []
    for geom, tags, osm_type, osm_id in zip(
        geoms[present],
        frame_tags(pois.loc[present]),
        (pois["osm_type"] if "osm_type" in pois else pd.Series(None, index=pois.index)).to_numpy(object)[
            present
        ],
        pois["id"].to_numpy()[present],
        strict=True,
    ):
        category = facility_rules.classify(tags)
        if category is None:
            continue
        kept = {k: tags[k] for k in _FACILITY_TAGS if k in tags}
        rows.append((str(osm_type), int(osm_id), _text(tags.get("name")), category, kept))
        points.append(
            geom if geom.geom_type == "Point" else shapely.point_on_surface(shapely.make_valid(geom))
        )
    frame = pd.DataFrame(rows, columns=columns)
    result = gpd.GeoDataFrame(frame, geometry=points, crs=_EPSG_4326)
    return result.drop_duplicates(["osm_type", "osm_id"]).reset_index(drop=True)


# -- areas ------------------------------------------------------------------------------------------------

_LEVEL_RANK = {"district": 0, "street": 1, "community": 2, "grid": 3}


def areas_from_boundaries(
    boundaries: gpd.GeoDataFrame | None, admin_levels: dict[str, str], srid: int
) -> gpd.GeoDataFrame:
    """Administrative boundaries mapped to area levels, each with the smallest coarser area that holds it.

    Codes are ``osm-r<relation id>`` (``osm-w<way id>``); the boundary's ``ref`` is kept in properties.
    """
    columns = ["code", "name", "level", "parent_code", "properties"]
    if boundaries is None or len(boundaries) == 0:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=_EPSG_4326)
    frame = boundaries.loc[boundaries.geometry.geom_type.isin(["Polygon", "MultiPolygon"])].copy()
    frame["level"] = frame["admin_level"].astype(str).map(admin_levels)
    frame = frame.loc[frame["level"].notna()].copy()
    if frame.empty:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=_EPSG_4326)
    geoms = _as_multipolygons(shapely.make_valid(frame.geometry.values))
    frame = frame.set_geometry(geoms).loc[[g is not None for g in geoms]]
    prefix = frame["osm_type"].astype(str).str[0].fillna("x")
    frame["code"] = "osm-" + prefix + frame["id"].astype("int64").astype(str)
    metric = frame.geometry.to_crs(srid).values
    areas_m2 = shapely.area(metric)
    parents: list[str | None] = []
    ranks = frame["level"].map(_LEVEL_RANK).to_numpy()
    codes = frame["code"].to_numpy()
    for i in range(len(frame)):
        best, best_rank, best_area = None, -1, math.inf
        for j in range(len(frame)):
            if ranks[j] >= ranks[i] or areas_m2[i] == 0:
                continue
            share = shapely.area(shapely.intersection(metric[i], metric[j])) / areas_m2[i]
            # the nearest coarser level wins; among equals the smaller area
            if share >= 0.5 and (ranks[j] > best_rank or (ranks[j] == best_rank and areas_m2[j] < best_area)):
                best, best_rank, best_area = codes[j], ranks[j], areas_m2[j]
        parents.append(best)
    properties = [
        {
            "admin_level": _text(r.get("admin_level")),
            "ref": _text(r.get("ref")) if "ref" in frame else None,
            "osm_id": int(r["id"]),
            "osm_type": r.get("osm_type"),
        }
        for _, r in frame.iterrows()
    ]
    return gpd.GeoDataFrame(
        {
            "code": codes,
            "name": [(_text(n) or c) for n, c in zip(frame.get("name", codes), codes, strict=True)],
            "level": frame["level"].to_numpy(),
            "parent_code": parents,
            "properties": properties,
        },
        geometry=frame.geometry.to_numpy(),
        crs=_EPSG_4326,
    )


# -- gazetteer --------------------------------------------------------------------------------------------


def _names(tags: dict[str, Any]) -> list[str]:
    seen: list[str] = []
    for key in _NAME_KEYS:
        value = _text(tags.get(key))
        for name in (value or "").split(";"):  # alt_name=A;B
            name = name.strip()
            if name and name not in seen:
                seen.append(name)
    return seen


def _address_tags(tags: dict[str, Any]) -> dict[str, str]:
    return {key: str(tags[key]) for key in _ADDRESS_TAGS if _text(tags.get(key))}


def gazetteer_entries(
    buildings: gpd.GeoDataFrame | None,
    address_nodes: gpd.GeoDataFrame | None,
    places: gpd.GeoDataFrame | None,
    edges: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    """Addresses, named places, named buildings and streets (one entry per street name)."""
    rows: list[tuple[str, str, dict[str, Any], Any]] = []

    def add_frame(frame: gpd.GeoDataFrame | None, kind_of: Callable[[dict[str, Any]], str]) -> None:
        if frame is None or len(frame) == 0:
            return
        geoms = frame.geometry.values
        present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
        ids = frame["id"].to_numpy()[present].tolist()
        for point, tags, osm_id in zip(
            _points(geoms[present]), frame_tags(frame.loc[present]), ids, strict=True
        ):
            address = format_address(tags)
            address_tags = _address_tags(tags)
            if address:
                rows.append(("address", address, {"osm_id": int(osm_id), **address_tags}, point))
            names = _names(tags)
            admin = {k: v for k, v in address_tags.items() if k not in ("addr:street", "addr:housenumber")}
            for name in names:
                rows.append(
                    (kind_of(tags), name, {"osm_id": int(osm_id), "primary": names[0], **admin}, point)
                )

    add_frame(buildings, lambda _t: "building")
    add_frame(address_nodes, lambda _t: "poi")
    add_frame(places, lambda t: f"place:{t.get('place', 'place')}")
    for name, pieces, point in _street_groups(edges):
        rows.append(("street", name, {"edges": pieces}, point))
    frame = gpd.GeoDataFrame(
        pd.DataFrame([r[:3] for r in rows], columns=["kind", "name", "properties"]),
        geometry=[r[3] for r in rows],
        crs=_EPSG_4326,
    )
    # the same address drawn on a building and on its entrance node: keep one
    frame = frame.drop_duplicates(["kind", "name"]).reset_index(drop=True) if len(frame) else frame
    # what the geocoder matches: index key, pinyin, road and number, precision (geo_service.geocode.keys)
    frame["keys"] = [
        keys_for("gazetteer", kind, name, properties).as_row()
        for kind, name, properties in zip(frame["kind"], frame["name"], frame["properties"], strict=True)
    ]
    return frame


def _street_groups(edges: gpd.GeoDataFrame) -> Iterator[tuple[str, int, Any]]:
    """(name, pieces, point) per street name: the middle of the piece nearest the centre of all its pieces."""
    named = edges.loc[edges["name"].notna() & (edges["name"].astype(str).str.len() > 0)]
    if named.empty:
        return
    mids = shapely.line_interpolate_point(named.geometry.values, 0.5, normalized=True)
    xs, ys = shapely.get_x(mids), shapely.get_y(mids)
    for name, index in named.groupby("name").indices.items():
        cx, cy = np.median(xs[index]), np.median(ys[index])
        best = index[np.argmin((xs[index] - cx) ** 2 + (ys[index] - cy) ** 2)]
        yield str(name), len(index), mids[best]


# -- basemap ----------------------------------------------------------------------------------------------


def basemap_features(
    ways: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame | None,
    water: gpd.GeoDataFrame | None,
    green: gpd.GeoDataFrame | None,
    rail: gpd.GeoDataFrame | None,
) -> gpd.GeoDataFrame:
    """Roads, buildings, water, green and rail for our own basemap tiles and printed guide maps."""
    parts: list[gpd.GeoDataFrame] = []

    def add(
        frame: gpd.GeoDataFrame | None, kind: str, class_column: str | None, polygons_only: bool = False
    ) -> None:
        if frame is None or len(frame) == 0:
            return
        geoms = frame.geometry.values
        ok = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
        if polygons_only:
            ok &= np.isin(shapely.get_type_id(geoms), [3, 6])
        sub = frame.loc[ok]
        klass = (
            sub[class_column].astype(str)
            if class_column and class_column in sub
            else pd.Series([kind] * len(sub))
        )
        names = sub["name"] if "name" in sub else pd.Series([None] * len(sub))
        parts.append(
            gpd.GeoDataFrame(
                {"kind": kind, "class": klass.to_numpy(), "name": names.to_numpy()},
                geometry=shapely.make_valid(sub.geometry.values),
                crs=_EPSG_4326,
            )
        )

    add(ways, "road", "highway")
    add(buildings, "building", "building", polygons_only=True)
    if water is not None:
        water = water.assign(
            klass=water.get("natural", pd.Series(index=water.index, dtype=object))
            .fillna(water.get("waterway", pd.Series(index=water.index, dtype=object)))
            .fillna(water.get("landuse", pd.Series(index=water.index, dtype=object)))
        )
    add(water, "water", "klass")
    if green is not None:
        green = green.assign(
            klass=green.get("leisure", pd.Series(index=green.index, dtype=object))
            .fillna(green.get("landuse", pd.Series(index=green.index, dtype=object)))
            .fillna(green.get("natural", pd.Series(index=green.index, dtype=object)))
        )
    add(green, "green", "klass", polygons_only=True)
    add(rail, "rail", "railway")
    if not parts:
        return gpd.GeoDataFrame({"kind": [], "class": [], "name": []}, geometry=[], crs=_EPSG_4326)
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=_EPSG_4326)
