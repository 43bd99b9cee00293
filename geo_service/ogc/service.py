"""OGC API – Features Part 1 documents: landing page, conformance, collections, items, one item.

Pure functions of the providers and the request's parameters; the router only picks JSON or HTML.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from urllib.parse import urlencode

from geo_service.auth import Principal
from geo_service.db.pool import Database
from geo_service.errors import BadRequest, NotFound
from geo_service.layers.features import Filter
from geo_service.ogc.documents import (
    Collection,
    CollectionExtent,
    Collections,
    Conformance,
    Item,
    Items,
    Landing,
    Link,
    Queryables,
)
from geo_service.ogc.providers import FeatureProvider, PostGISProvider, ProviderFailed
from geo_service.tiles.service import TileServer, parse_crs

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
_MAX_OFFSET = 2_147_483_647  # rows skipped, at most (PostgreSQL OFFSET is a bigint; no table has more rows)
RESERVED_PARAMS = frozenset({"f", "bbox", "bbox-crs", "datetime", "limit", "offset", "crs"})


@dataclass(frozen=True)
class ItemsRequest:
    """Parsed items parameters."""

    filter: Filter
    limit: int
    offset: int
    gcj02: bool = False


# -- parameters -----------------------------------------------------------------------------------------


def parse_bbox(text: str | None, bbox_crs: str | None = None) -> tuple[float, float, float, float] | None:
    """``minx,miny,maxx,maxy`` (or the 6-number 3-D form) in CRS84; 400 for anything else."""
    if bbox_crs not in (None, CRS84, "CRS84", "EPSG:4326", "http://www.opengis.net/def/crs/EPSG/0/4326"):
        raise BadRequest("ogc.bbox_crs_unsupported", bbox_crs=bbox_crs)
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise BadRequest("ogc.bbox_not_numbers", bbox=text) from None
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise BadRequest("ogc.bbox_count")
    west, south, east, north = values
    if not (-90 <= south <= north <= 90):
        raise BadRequest("ogc.bbox_latitudes")
    if not (-180 <= west <= 180 and -180 <= east <= 180) or west > east:
        raise BadRequest("ogc.bbox_longitudes")
    return (west, south, east, north)


def output_gcj02(crs: str | None) -> bool:
    """Whether geometries go out in GCJ-02 (``crs=gcj02``, for AMap); CRS84/WGS-84/CGCS2000 otherwise."""
    if crs in (None, CRS84):
        return False
    return parse_crs(crs) == "gcj02"


def _instant(text: str) -> dt.datetime | None:
    if text in ("..", ""):
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest("ogc.datetime_invalid", value=text) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def parse_datetime(text: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """An instant ``T`` → (T, T); an interval ``A/B`` (either end may be ``..``) → (A, B)."""
    if "/" in text:
        start_text, _, end_text = text.partition("/")
        start, end = _instant(start_text), _instant(end_text)
        if start is None and end is None:
            raise BadRequest("ogc.datetime_open_interval")
        if start is not None and end is not None and start > end:
            raise BadRequest("ogc.datetime_reversed")
        return start, end
    value = _instant(text)
    if value is None:
        raise BadRequest("ogc.datetime_dots")
    return value, value


def items_request(
    provider: FeatureProvider,
    params: dict[str, str],
    limit_default: int,
    limit_max: int,
) -> ItemsRequest:
    """Validate the query string of ``/items``; unknown parameters are a 400 (no silent full scans)."""
    flt = Filter(bbox=parse_bbox(params.get("bbox"), params.get("bbox-crs")))
    if "datetime" in params:
        if not provider.temporal:
            raise BadRequest("ogc.datetime_not_temporal", collection=provider.id)
        flt.time_start, flt.time_end = parse_datetime(params["datetime"])
        flt.has_time = True
    for name, value in params.items():
        if name in RESERVED_PARAMS:
            continue
        if name not in provider.filters:
            allowed = sorted(RESERVED_PARAMS | set(provider.filters))
            raise BadRequest("ogc.unknown_parameter", parameter=name, collection=provider.id, allowed=allowed)
        flt.equals[name] = value
    try:
        limit = int(params.get("limit", limit_default))
        offset = int(params.get("offset", 0))
    except ValueError:
        raise BadRequest("ogc.paging_not_integers") from None
    if limit < 1 or not 0 <= offset <= _MAX_OFFSET:
        raise BadRequest("ogc.paging_range")
    return ItemsRequest(flt, min(limit, limit_max), offset, output_gcj02(params.get("crs")))


# -- collections ----------------------------------------------------------------------------------------


def providers(db: Database, tiles: TileServer, caller: Principal | None) -> dict[str, FeatureProvider]:
    """A provider for every catalogued layer with a ``features`` section that can be served now and that
    ``caller`` (None: anonymous) may read; a family layer (networks) adds a collection for each member."""
    found: dict[str, FeatureProvider] = {}
    for layer in tiles.served_layers(db, caller=caller):
        if layer.features is not None:
            found[layer.id] = PostGISProvider(layer)
            found.update({m.id: PostGISProvider(m) for m in tiles.family_members(db, layer)})
    return found


def provider(
    db: Database, tiles: TileServer, collection_id: str, caller: Principal | None
) -> FeatureProvider:
    """The collection ``collection_id``: 404 when there is none (or its relations do not exist yet), 401/403
    when its layer's ``access`` does not admit ``caller``."""
    layer = tiles.catalogue.layers.get(collection_id) or tiles.member_layer(db, collection_id)
    if layer is None or layer.features is None:
        known = sorted(providers(db, tiles, caller))
        raise NotFound("ogc.unknown_collection", collection=collection_id, known=known)
    tiles.layer(db, collection_id, caller=caller)
    return PostGISProvider(layer)


def _link(href: str, rel: str, media_type: str, title: str | None = None) -> Link:
    link: Link = {"href": href, "rel": rel, "type": media_type}
    if title:
        link["title"] = title
    return link


def landing(base: str) -> Landing:
    root = f"{base}/ogc"
    return {
        "title": "geo-service OGC API – Features",
        "description": "Grids (with their history), rest stations, facilities and incidents as OGC API – Features.",
        "links": [
            _link(f"{root}?f=json", "self", JSON, "this document"),
            _link(f"{root}?f=html", "alternate", HTML, "this document as HTML"),
            _link(f"{base}/openapi.json", "service-desc", OPENAPI, "the API definition"),
            _link(f"{base}/docs", "service-doc", HTML, "the API documentation"),
            _link(f"{root}/conformance", "conformance", JSON, "conformance classes"),
            _link(f"{root}/conformance", "http://www.opengis.net/def/rel/ogc/1.0/conformance", JSON),
            _link(f"{root}/collections", "data", JSON, "collections"),
            _link(f"{root}/collections", "http://www.opengis.net/def/rel/ogc/1.0/data", JSON),
        ],
    }


def conformance() -> Conformance:
    return {"conformsTo": CONFORMANCE}


def collection_doc(db: Database, base: str, prov: FeatureProvider) -> Collection:
    root = f"{base}/ogc/collections/{prov.id}"
    try:
        ext = prov.extent(db)
    except ProviderFailed as exc:
        raise NotFound("ogc.collection_unavailable", collection=prov.id, reason=str(exc)) from exc
    extent: CollectionExtent = {"spatial": {"bbox": [list(ext.bbox or (-180, -90, 180, 90))], "crs": CRS84}}
    if ext.interval is not None:
        interval = [t.isoformat() if t else None for t in ext.interval]
        extent["temporal"] = {
            "interval": [interval],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        }
    return {
        "id": prov.id,
        "title": prov.title,
        "description": prov.description,
        "itemType": "feature",
        "crs": [CRS84],
        "extent": extent,
        "links": [
            _link(f"{root}?f=json", "self", JSON),
            _link(f"{root}?f=html", "alternate", HTML),
            _link(f"{root}/items?f=json", "items", GEOJSON, "items as GeoJSON"),
            _link(f"{root}/items?f=html", "items", HTML, "items as HTML"),
            _link(
                f"{root}/queryables",
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "application/schema+json",
            ),
            _link(f"{base}/tiles/{prov.id}.json", "tiles", JSON, "vector tiles (TileJSON)"),
        ],
    }


def collections_doc(db: Database, base: str, tiles: TileServer, caller: Principal | None) -> Collections:
    return {
        "links": [
            _link(f"{base}/ogc/collections?f=json", "self", JSON),
            _link(f"{base}/ogc/collections?f=html", "alternate", HTML),
        ],
        "collections": [collection_doc(db, base, prov) for prov in providers(db, tiles, caller).values()],
    }


def queryables_doc(base: str, prov: FeatureProvider) -> Queryables:
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": f"{base}/ogc/collections/{prov.id}/queryables",
        "type": "object",
        "title": prov.title,
        "properties": {
            name: {"description": desc} for name, desc in prov.queryables().items() if name in prov.filters
        },
    }


def items_doc(
    db: Database, base: str, prov: FeatureProvider, request: ItemsRequest, params: dict[str, str]
) -> Items:
    try:
        page = prov.query(db, request.filter, request.limit, request.offset, request.gcj02)
    except ProviderFailed as exc:
        raise NotFound("ogc.collection_unavailable", collection=prov.id, reason=str(exc)) from exc
    root = f"{base}/ogc/collections/{prov.id}/items"

    def page_url(offset: int, fmt: str = "json") -> str:
        query = {k: v for k, v in params.items() if k not in ("offset", "f")}
        query.update({"f": fmt, "limit": str(request.limit), "offset": str(offset)})
        return f"{root}?{urlencode(query)}"

    links = [
        _link(page_url(request.offset), "self", GEOJSON),
        _link(page_url(request.offset, "html"), "alternate", HTML),
        _link(f"{base}/ogc/collections/{prov.id}", "collection", JSON),
    ]
    if request.offset + len(page.features) < page.number_matched:
        links.append(_link(page_url(request.offset + request.limit), "next", GEOJSON, "next page"))
    if request.offset > 0:
        links.append(
            _link(page_url(max(0, request.offset - request.limit)), "prev", GEOJSON, "previous page")
        )
    return {
        "type": "FeatureCollection",
        "features": page.features,
        "numberMatched": page.number_matched,
        "numberReturned": len(page.features),
        "timeStamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "links": links,
    }


def item_doc(db: Database, base: str, prov: FeatureProvider, fid: str, crs: str | None = None) -> Item:
    try:
        feature = prov.get(db, fid, output_gcj02(crs))
    except ProviderFailed as exc:
        raise NotFound("ogc.collection_unavailable", collection=prov.id, reason=str(exc)) from exc
    if feature is None:
        raise NotFound("ogc.unknown_feature", feature=fid, collection=prov.id)
    root = f"{base}/ogc/collections/{prov.id}"
    own_id = feature.get("id")
    links = [
        _link(f"{root}/items/{own_id}?f=json", "self", GEOJSON),
        _link(f"{root}/items/{own_id}?f=html", "alternate", HTML),
        _link(root, "collection", JSON),
    ]
    return {**feature, "links": links}
