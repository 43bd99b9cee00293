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
import sqlite3
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from geo_service.coords import known_crs, to_wgs84_arrays
from geo_service.errors import BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from geo_service.feature_input import UncheckedJson, parse_json
from geo_service.geojson import Feature
from geo_service.grids import fields
from geo_service.grids.geometry import as_multipolygon
from geo_service.settings import GridSettings

log = logging.getLogger(__name__)

FORMATS = {
    "geojson": ("application/geo+json", "geojson"),
    "gpkg": ("application/geopackage+sqlite3", "gpkg"),
    "shp": ("application/zip", "zip"),
}
# Shapefile field names stop at 10 bytes; the core names a Shapefile cuts, read back without a sidecar too.
_SHP_BACK = {short: full for full, short in fields.SHAPEFILE_NAMES.items()}
LAYER = "areas"


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
        if coords and all(
            isinstance(p, list | tuple) and len(p) >= 2 and all(isinstance(v, int | float) for v in p[:2])
            for p in coords
        ):
            xy = fn(np.array([[float(p[0]), float(p[1])] for p in coords]))
            return xy.tolist()
        return [_transform_positions(c, fn, depth + 1) for c in coords]
    return coords


def _geojson_crs(obj: dict[str, UncheckedJson]) -> str | None:
    """The legacy GeoJSON ``crs`` member (``{"type": "name", "properties": {"name": "EPSG:4547"}}``), if any."""
    crs = obj.get("crs")
    if isinstance(crs, dict) and isinstance(crs.get("properties"), dict):
        name = crs["properties"].get("name")
        if isinstance(name, str) and "CRS84" not in name.upper():
            return name
    return None


def parse_geojson(data: bytes, settings: GridSettings | None = None) -> UncheckedJson:
    """A GeoJSON body parsed, after a check that costs one pass over the bytes: every position opens a
    bracket, so a body with far more opening brackets than the per-request vertex limit (10 % and a
    thousand spare for rings, parts and list properties) holds more positions than may be sent and is
    refused before the parser builds millions of objects."""
    limit = (settings or GridSettings()).max_vertices_per_request
    if data.count(b"[") > limit + limit // 10 + 1_000:
        raise InvalidInput("grid.too_many_vertices.body", limit=limit)
    return parse_json(data)


def features_from_geojson(obj: UncheckedJson, crs: str | None = None) -> list[UncheckedJson]:
    """Features of a GeoJSON FeatureCollection, Feature or list of Features, in WGS-84 (each as sent: only
    the collection is read here, the features are checked as drafts)."""
    features: list[UncheckedJson]
    if isinstance(obj, list):
        features = obj
    elif isinstance(obj, dict) and obj.get("type") == "FeatureCollection":
        listed = obj.get("features")
        if not isinstance(listed, list):
            raise InvalidInput("grid.features_not_list")
        features = listed
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


def _read_columns(path: str) -> tuple[dict[str, Any], Any, list[Any], list[str]]:
    """(meta, WKB geometries, column arrays, column names) of the file's first layer. Names a Shapefile cut in
    the middle of a character (GDAL cuts at 10 bytes) are read byte for byte and lose the broken character."""
    import pyogrio.raw

    with warnings.catch_warnings():
        # GDAL keeps a date-time's offset in a GeoPackage (its default) and then notes that the standard says UTC
        warnings.filterwarnings("ignore", "Non-conformant content", RuntimeWarning)
        try:
            meta, _, geometry, data = pyogrio.raw.read(path, datetime_as_string=True)
            return meta, geometry, list(data), [str(n) for n in meta["fields"]]
        except UnicodeDecodeError:
            meta, _, geometry, data = pyogrio.raw.read(path, datetime_as_string=True, encoding="latin1")

    def utf8(value: Any, errors: str = "strict") -> Any:
        return value.encode("latin1").decode("utf-8", errors) if isinstance(value, str) else value

    names = [utf8(str(n), "ignore") for n in meta["fields"]]
    data = [
        np.array([utf8(v, "replace") for v in column], dtype=object) if column.dtype == object else column
        for column in data
    ]
    return meta, geometry, data, names


def _read_ogr(
    path: str, crs: str | None, settings: GridSettings, sidecar: fields.Sidecar | None = None
) -> list[Feature]:
    try:
        meta, wkb, data, names = _read_columns(path)
    except Exception as exc:  # pyogrio raises several DataSourceError kinds for unreadable files
        log.info("unreadable upload: %s", exc)
        raise BadRequest("grid.unreadable_file") from None
    source = (
        _source_crs(crs)
        if crs is not None
        else (CRS.from_user_input(meta["crs"]) if meta.get("crs") else None)
    )
    if source is None and crs is None:
        raise BadRequest("grid.file_without_crs")
    fn = _transform_fn(source)
    geoms = shapely.from_wkb(wkb) if wkb is not None else np.full(len(data[0]) if data else 0, None)
    vertices = int(shapely.get_num_coordinates(geoms).sum()) if len(geoms) else 0
    limit = settings.max_vertices_per_request
    if vertices > limit:  # before anything is projected or turned into GeoJSON
        raise InvalidInput("grid.too_many_vertices.request", count=vertices, limit=limit)
    if fn is not None:
        geoms = shapely.transform(geoms, fn)
    known = sidecar.fields if sidecar is not None else {}
    # column → (property, type): the sidecar's, else the documented Shapefile abbreviations (unless the file
    # also has the full name)
    targets = [
        known.get(n) or (_SHP_BACK[n] if n in _SHP_BACK and _SHP_BACK[n] not in names else n, None)
        for n in names
    ]
    types = list(zip(meta["ogr_types"], meta["ogr_subtypes"], strict=True))
    features: list[Feature] = []
    for i, geom in enumerate(geoms):
        props = {
            prop: fields.decode(column[i], ogr_type, subtype, kind)
            for (prop, kind), column, (ogr_type, subtype) in zip(targets, data, types, strict=True)
        }
        exact = sidecar.values.get(str(props.get("code"))) if sidecar is not None else None
        for prop, value in (exact or {}).items():
            if prop in props and fields.same_in_file(props[prop], value):
                props[prop] = value  # what the DBF could not hold, unless the cell was edited
        geometry = None if geom is None or shapely.is_empty(geom) else json.loads(shapely.to_geojson(geom))
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    return features


def read_features(
    data: bytes, filename: str | None = None, crs: str | None = None, settings: GridSettings | None = None
) -> list[UncheckedJson]:
    """Features (WGS-84 GeoJSON dicts) of an uploaded GeoJSON, GeoPackage or zipped Shapefile: a file's
    as read from it, a GeoJSON body's as sent (checked as drafts).

    Parameters
    ----------
    crs
        Overrides the file's own CRS: ``wgs84``, ``gcj02``, ``bd09``, ``cgcs2000`` or anything pyproj reads
        (``EPSG:4547`` for CGCS2000 / 3-degree Gauss–Krüger CM 114°E). Needed for files that state none.
    """
    settings = settings or GridSettings()
    kind = _sniff(data, filename)
    if kind == "geojson":
        return features_from_geojson(parse_geojson(data, settings), crs)
    with tempfile.TemporaryDirectory(prefix="geo-service-import-") as tmp:
        if kind == "gpkg":
            path = Path(tmp) / "upload.gpkg"
            path.write_bytes(data)
            return _read_ogr(str(path), crs, settings)
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
        limit = settings.max_upload_unpacked_bytes
        if unpacked > limit:  # a zip bomb, or a whole province in one upload
            raise PayloadTooLarge("grid.zip_too_large", size=unpacked, limit=limit)
        archive.extractall(tmp)
        return _read_ogr(
            str(Path(tmp) / shps[0]), crs, settings, _sidecar_of(Path(tmp), shps[0], archive.namelist())
        )


def _sidecar_of(folder: Path, shp: str, names: list[str]) -> fields.Sidecar | None:
    """The ``<name>.fields.json`` beside ``<name>.shp`` (our export's column names and types), if any."""
    wanted = (shp[:-4] + fields.SIDECAR_SUFFIX).lower()
    found = [n for n in names if n.lower() == wanted]
    if not found:
        return None
    try:
        sidecar = fields.read_sidecar(json.loads((folder / found[0]).read_bytes()))
    except ValueError:
        sidecar = None
    if sidecar is None:
        raise BadRequest("grid_file.sidecar_invalid", name=Path(found[0]).name)
    return sidecar


def write_features(features: list[Feature], fmt: str) -> bytes:
    """``features`` (WGS-84) as GeoJSON, GeoPackage or a zipped Shapefile (EPSG:4326, UTF-8), with typed
    columns (:mod:`geo_service.grids.fields`)."""
    if fmt not in FORMATS:
        raise InvalidInput("grid.bad_format", format=fmt[:40], allowed=list(FORMATS))
    if fmt == "geojson":
        return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()
    import pyogrio.raw

    shapefile = fmt == "shp"
    properties = [f["properties"] for f in features]
    columns = fields.columns_for(properties, shapefile)
    data, masks, zones = [], [], {}
    for c in columns:
        values, mask, flags = fields.encode(c, [p.get(c.prop) for p in properties], shapefile)
        data.append(values)
        masks.append(mask)
        if flags is not None:
            zones[c.name] = flags
    geoms = [as_multipolygon(shapely.from_geojson(json.dumps(f["geometry"]))) for f in features]
    with tempfile.TemporaryDirectory(prefix="geo-service-export-") as tmp:
        path = Path(tmp) / ("areas.shp" if shapefile else "areas.gpkg")
        pyogrio.raw.write(
            str(path),
            shapely.to_wkb(np.array(geoms, dtype=object)),
            data,
            [c.name for c in columns],
            field_mask=masks,
            layer=LAYER,
            driver="ESRI Shapefile" if shapefile else "GPKG",
            geometry_type="MultiPolygon",
            crs="EPSG:4326",
            encoding="UTF-8" if shapefile else None,
            gdal_tz_offsets=zones,
        )
        if not shapefile:
            _mark_json(path, LAYER, [c.name for c in columns if c.kind == "json"])
            return path.read_bytes()
        sidecar = fields.sidecar(columns, properties)
        (Path(tmp) / f"areas{fields.SIDECAR_SUFFIX}").write_text(
            json.dumps(sidecar, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for part in sorted(Path(tmp).iterdir()):
                archive.write(part, part.name)
        return buffer.getvalue()


def _mark_json(path: Path, table: str, columns: list[str]) -> None:
    """Give ``columns`` of a GeoPackage the JSON subtype: ``mime_type`` application/json in
    ``gpkg_data_columns`` (the schema extension), which GDAL and QGIS read as JSON fields."""
    if not columns:
        return
    with contextlib.closing(sqlite3.connect(path)) as con, con:
        con.execute(
            "CREATE TABLE IF NOT EXISTS gpkg_data_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, "
            "name TEXT, title TEXT, description TEXT, mime_type TEXT, constraint_name TEXT, "
            "CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name), CONSTRAINT gdc_tn UNIQUE (table_name, name))"
        )
        con.execute(
            "INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition, scope) "
            "SELECT 'gpkg_data_columns', NULL, 'gpkg_schema', 'http://www.geopackage.org/spec/#extension_schema', "
            "'read-write' WHERE NOT EXISTS (SELECT 1 FROM gpkg_extensions WHERE extension_name = 'gpkg_schema' "
            "AND table_name = 'gpkg_data_columns')"
        )
        con.executemany(
            "INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, name, mime_type) "
            "VALUES (?, ?, ?, 'application/json')",
            [(table, c, c) for c in columns],
        )
