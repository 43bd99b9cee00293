"""Area files in and out: GeoJSON, GeoPackage and zipped Shapefile, in any CRS pyproj knows.

Reading returns GeoJSON Feature dicts in WGS-84, ready for :mod:`geo_service.grids.service`. Input may be
in GCJ-02 or BD-09 (drawn over AMap or Baidu tiles): those vertices are shifted back to WGS-84 with the exact
inverse of :mod:`geo_service.coords`. CGCS2000 Gauss–Krüger zones (EPSG:4491–4554) and any other projected CRS
are transformed with pyproj.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from geo_service.coords import known_crs, to_wgs84_arrays
from geo_service.errors import BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from geo_service.feature_input import parse_json
from geo_service.settings import grid_settings

log = logging.getLogger(__name__)

FORMATS = {
    "geojson": ("application/geo+json", "geojson"),
    "gpkg": ("application/geopackage+sqlite3", "gpkg"),
    "shp": ("application/zip", "zip"),
}
# Shapefile field names stop at 10 characters; these are the names our export writes and reads back.
_SHP_FIELDS = {"parent_code": "parent_cod", "closed_change": "closed_cha"}
_SHP_BACK = {short: full for full, short in _SHP_FIELDS.items()}


def _source_crs(crs: str | None) -> str | CRS | None:
    """``None`` (as the file says), a lon/lat name (wgs84, gcj02, bd09, cgcs2000) or a pyproj CRS."""
    if crs is None or str(crs).strip() == "":
        return None
    canonical = known_crs(crs)
    if canonical is not None:
        return canonical
    try:
        return CRS.from_user_input(str(crs).strip())
    except CRSError:
        raise InvalidInput("grid.unknown_crs", crs=str(crs)[:100]) from None


def _transform_fn(source: str | CRS | None) -> Any:
    """A function (N, 2) → (N, 2) taking ``source`` coordinates to WGS-84 lon/lat, or None for identity."""
    if source is None or source in ("wgs84", "cgcs2000"):
        return None
    if isinstance(source, str):
        return lambda xy: np.column_stack(to_wgs84_arrays(xy[:, 0], xy[:, 1], source))
    if source.equals(CRS.from_epsg(4326)) or source.equals(CRS.from_epsg(4490)):
        return None
    transformer = Transformer.from_crs(source, 4326, always_xy=True)
    return lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))


def _transform_positions(coords: Any, fn: Any, depth: int = 0) -> Any:
    """Apply ``fn`` to every position of a nested GeoJSON coordinate list (leaving malformed parts alone for
    the geometry checks to report; nothing deeper than a MultiPolygon's positions is walked)."""
    if depth > 4:
        return coords
    if (
        isinstance(coords, list | tuple)
        and coords
        and all(isinstance(v, int | float) for v in coords[:2])
        and len(coords) >= 2
    ):
        xy = fn(np.array([[float(coords[0]), float(coords[1])]]))
        return [float(xy[0, 0]), float(xy[0, 1])]
    if isinstance(coords, list | tuple):
        if coords and all(isinstance(p, list | tuple) and len(p) >= 2 and all(isinstance(v, int | float) for v in p[:2])
                          for p in coords):  # fmt: skip
            xy = fn(np.array([[float(p[0]), float(p[1])] for p in coords]))
            return xy.tolist()
        return [_transform_positions(c, fn, depth + 1) for c in coords]
    return coords


def _geojson_crs(obj: dict[str, Any]) -> str | None:
    """The legacy GeoJSON ``crs`` member (``{"type": "name", "properties": {"name": "EPSG:4547"}}``), if any."""
    crs = obj.get("crs")
    if isinstance(crs, dict) and isinstance(crs.get("properties"), dict):
        name = crs["properties"].get("name")
        if isinstance(name, str) and "CRS84" not in name.upper():
            return name
    return None


def parse_geojson(data: bytes) -> Any:
    """A GeoJSON body parsed, after a check that costs one pass over the bytes: every position opens a
    bracket, so a body with far more opening brackets than the per-request vertex limit (10 % and a
    thousand spare for rings, parts and list properties) holds more positions than may be sent and is
    refused before the parser builds millions of objects."""
    limit = grid_settings().max_vertices_per_request
    if data.count(b"[") > limit + limit // 10 + 1_000:
        raise InvalidInput("grid.too_many_vertices.body", limit=limit)
    return parse_json(data)


def features_from_geojson(obj: Any, crs: str | None = None) -> list[dict[str, Any]]:
    """Features of a GeoJSON FeatureCollection, Feature or list of Features, in WGS-84."""
    features: Any
    if isinstance(obj, list):
        features = obj
    elif isinstance(obj, dict) and obj.get("type") == "FeatureCollection":
        features = obj.get("features")
        if not isinstance(features, list):
            raise InvalidInput("grid.features_not_list")
    elif isinstance(obj, dict) and obj.get("type") == "Feature":
        features = [obj]
    else:
        raise InvalidInput("grid.collection_expected")
    source = _source_crs(crs if crs is not None else (_geojson_crs(obj) if isinstance(obj, dict) else None))
    fn = _transform_fn(source)
    if fn is None:
        return features
    out = []
    for feature in features:
        if isinstance(feature, dict) and isinstance(feature.get("geometry"), dict):
            geometry = dict(feature["geometry"])
            with contextlib.suppress(TypeError, ValueError):  # malformed: the checks will say where
                geometry["coordinates"] = _transform_positions(geometry.get("coordinates"), fn)
            feature = {**feature, "geometry": geometry}
        out.append(feature)
    return out


def _sniff(data: bytes, filename: str | None) -> str:
    suffix = Path(filename or "").suffix.lower()
    if data[:16] == b"SQLite format 3\x00" or suffix == ".gpkg":
        return "gpkg"
    if data[:4] == b"PK\x03\x04" or suffix == ".zip":
        return "zip"
    if data.lstrip()[:1] in (b"{", b"[") or suffix in (".json", ".geojson"):
        return "geojson"
    raise UnsupportedMediaType("grid.unsupported_file")


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _read_ogr(path: str, crs: str | None) -> list[dict[str, Any]]:
    import pyogrio

    try:
        info = pyogrio.read_info(path)
        table = pyogrio.read_dataframe(path)
    except Exception as exc:  # pyogrio raises several DataSourceError kinds for unreadable files
        log.info("unreadable upload: %s", exc)
        raise BadRequest("grid.unreadable_file") from None
    source = (
        _source_crs(crs)
        if crs is not None
        else (CRS.from_user_input(info["crs"]) if info.get("crs") else None)
    )
    if source is None and crs is None:
        raise BadRequest("grid.file_without_crs")
    fn = _transform_fn(source)
    geoms = table.geometry.to_numpy()
    vertices = int(shapely.get_num_coordinates(geoms).sum()) if len(geoms) else 0
    limit = grid_settings().max_vertices_per_request
    if vertices > limit:  # before anything is projected or turned into GeoJSON
        raise InvalidInput("grid.too_many_vertices.request", count=vertices, limit=limit)
    if fn is not None:
        geoms = shapely.transform(geoms, fn)
    columns = [c for c in table.columns if c != table.geometry.name]
    features = []
    for i, geom in enumerate(geoms):
        props = {_SHP_BACK.get(c, c): _cell(table[c].iloc[i]) for c in columns}
        geometry = None if geom is None or shapely.is_empty(geom) else json.loads(shapely.to_geojson(geom))
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    return features


def read_features(data: bytes, filename: str | None = None, crs: str | None = None) -> list[dict[str, Any]]:
    """Features (WGS-84 GeoJSON dicts) of an uploaded GeoJSON, GeoPackage or zipped Shapefile.

    Parameters
    ----------
    crs
        Overrides the file's own CRS: ``wgs84``, ``gcj02``, ``bd09``, ``cgcs2000`` or anything pyproj reads
        (``EPSG:4547`` for CGCS2000 / 3-degree Gauss–Krüger CM 114°E). Needed for files that state none.
    """
    kind = _sniff(data, filename)
    if kind == "geojson":
        return features_from_geojson(parse_geojson(data), crs)
    with tempfile.TemporaryDirectory(prefix="geo-service-import-") as tmp:
        if kind == "gpkg":
            path = Path(tmp) / "upload.gpkg"
            path.write_bytes(data)
            return _read_ogr(str(path), crs)
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile:
            raise BadRequest("grid.zip_damaged") from None
        shps = [n for n in archive.namelist() if n.lower().endswith(".shp") and not n.startswith("__MACOSX")]
        if len(shps) != 1:
            raise BadRequest("grid.zip_shp_count", found=len(shps))
        for name in archive.namelist():
            target = (Path(tmp) / name).resolve()
            if not str(target).startswith(str(Path(tmp).resolve())):
                raise BadRequest("grid.zip_unsafe_paths")
        unpacked = sum(info.file_size for info in archive.infolist())
        limit = grid_settings().max_upload_unpacked_bytes
        if unpacked > limit:  # a zip bomb, or a whole province in one upload
            raise PayloadTooLarge("grid.zip_too_large", size=unpacked, limit=limit)
        archive.extractall(tmp)
        return _read_ogr(str(Path(tmp) / shps[0]), crs)


def write_features(features: list[dict[str, Any]], fmt: str) -> bytes:
    """``features`` (WGS-84) as GeoJSON, GeoPackage or a zipped Shapefile (EPSG:4326, UTF-8)."""
    if fmt not in FORMATS:
        raise InvalidInput("grid.bad_format", format=fmt[:40], allowed=list(FORMATS))
    if fmt == "geojson":
        return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()
    import geopandas as gpd
    import pyogrio

    rows = []
    for f in features:
        props = dict(f["properties"])
        props["workers"] = json.dumps(props.get("workers") or [], ensure_ascii=False)
        for key, value in list(props.items()):
            if isinstance(value, dict | list):
                props[key] = json.dumps(value, ensure_ascii=False)
        rows.append(props)
    geoms = [shapely.from_geojson(json.dumps(f["geometry"])) for f in features]
    frame = gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")
    with tempfile.TemporaryDirectory(prefix="geo-service-export-") as tmp:
        if fmt == "gpkg":
            path = Path(tmp) / "areas.gpkg"
            pyogrio.write_dataframe(frame, path, layer="areas", driver="GPKG", promote_to_multi=True)
            return path.read_bytes()
        frame = frame.rename(columns=_SHP_FIELDS)
        frame.columns = [c[:10] if c != "geometry" else c for c in frame.columns]
        frame = frame.loc[:, ~frame.columns.duplicated()]
        pyogrio.write_dataframe(frame, Path(tmp) / "areas.shp", driver="ESRI Shapefile", encoding="UTF-8",
                                promote_to_multi=True)  # fmt: skip
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for part in sorted(Path(tmp).iterdir()):
                archive.write(part, part.name)
        return buffer.getvalue()
