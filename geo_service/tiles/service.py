"""Tiles and TileJSON: the catalogue, the cache and the store put together.

``TileServer`` is made once per app. A request names one layer or several joined by commas (a composite
tile: the MVT layers concatenated, one request for the whole basemap). Each request reads the data
revisions first (one small query), then serves from the cache or renders, so a change committed by any
process shows on the next request.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg2.extensions
from psycopg2 import sql

from geo_service.auth import Principal
from geo_service.db.pool import Database
from geo_service.db.revisions import watch_of
from geo_service.errors import BadRequest, Forbidden, NotFound, Unauthorized
from geo_service.i18n import message
from geo_service.layers import sql as store
from geo_service.layers.catalogue import Catalogue
from geo_service.layers.model import MEMBER_SEPARATOR, Layer
from geo_service.settings import MapSettings
from geo_service.tiles.cache import TileCache

log = logging.getLogger(__name__)

MAX_ZOOM = 24
CRS_VALUES = ("wgs84", "gcj02")
MAX_LAYERS_PER_REQUEST = 16


@dataclass(frozen=True)
class TileAddress:
    z: int
    x: int
    y: int


@dataclass(frozen=True)
class Tile:
    """A rendered tile: ``body`` is empty when no feature falls in it (served as 204)."""

    body: bytes
    etag: str
    revision: int


def parse_tile_address(z: str, x: str, y: str) -> TileAddress:
    """Validate a z/x/y address (XYZ scheme, origin top left); 400 for anything that is not a tile."""
    try:
        zi, xi, yi = int(z), int(x), int(y)
    except ValueError:
        raise BadRequest("tile.bad_address", z=z, x=x, y=y) from None
    if not 0 <= zi <= MAX_ZOOM:
        raise BadRequest("tile.zoom_out_of_range", zoom=zi, max_zoom=MAX_ZOOM)
    side = 1 << zi
    if not (0 <= xi < side and 0 <= yi < side):
        raise BadRequest("tile.does_not_exist", z=zi, x=xi, y=yi, max_index=side - 1)
    return TileAddress(zi, xi, yi)


def parse_crs(crs: str | None) -> str:
    value = (crs or "wgs84").lower()
    if value in ("wgs84", "epsg:4326", "cgcs2000", "epsg:4490"):
        return "wgs84"  # CGCS2000 and WGS-84 agree to centimetres at map scales
    if value == "gcj02":
        return "gcj02"
    raise BadRequest("tile.unknown_crs", crs=crs)


def check_access(layer: Layer, caller: Principal | None) -> None:
    """401 for an anonymous caller and 403 for a role that may not read ``layer`` (its catalogue ``access``)."""
    if layer.readable_by(caller):
        return
    allowed = [message(f"role.{role}") for role in ("admin", *layer.access)]
    if caller is None:
        raise Unauthorized("layer.token_required", layer=layer.id, allowed=allowed)
    raise Forbidden(
        "layer.role_not_allowed", layer=layer.id, role=message(f"role.{caller.role}"), allowed=allowed
    )


def etag_of(body: bytes) -> str:
    """A strong validator: a digest of the exact bytes served."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def _revisions(db: Database, layers: list[Layer]) -> dict[str, int]:
    """The data revisions ``layers`` are drawn from (in memory: :mod:`geo_service.db.revisions`)."""
    return watch_of(db).revisions(tuple(sorted({e for layer in layers for e in layer.revisions})))


@contextlib.contextmanager
def _statement_cursor(db: Database) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor whose statements each run on their own (autocommit): a tile is one read-only SELECT per layer,
    so it needs no BEGIN and COMMIT, which would cost two more round trips to the server per tile."""
    with db.connection() as conn:
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                yield cur
        finally:
            if not conn.closed:
                conn.autocommit = False  # back to the pool as every other connection is


class TileServer:
    """Serves the catalogue's layers as tiles and TileJSON against one database."""

    def __init__(self, catalogue: Catalogue, settings: MapSettings) -> None:
        self.catalogue = catalogue
        self.settings = settings
        self.cache = TileCache(settings.tile_cache_bytes)
        self._extents: dict[str, tuple[int, tuple[float, float, float, float] | None]] = {}
        self._extent_lock = threading.Lock()
        self._members: dict[str, tuple[int, list[Layer]]] = {}

    # -- layers ---------------------------------------------------------------------------------------

    def layers(self, db: Database, names: str, *, caller: Principal | None) -> list[Layer]:
        """The layers of a path segment such as ``grids`` or ``roads,water``; 404 for one not served, 401/403
        for one ``caller`` may not read."""
        ids = [name.strip() for name in names.split(",")]
        if not ids or len(ids) > MAX_LAYERS_PER_REQUEST or len(set(ids)) != len(ids):
            raise BadRequest("layer.bad_list", max_layers=MAX_LAYERS_PER_REQUEST)
        return [self.layer(db, layer_id, caller=caller) for layer_id in ids]

    def layer(self, db: Database, layer_id: str, *, caller: Principal | None) -> Layer:
        """Catalogued layer ``layer_id`` if ``caller`` (None: anonymous) may read it and it can be served."""
        layer = self.catalogue.layers.get(layer_id)
        if layer is None and (member := self.member_layer(db, layer_id)) is not None:
            check_access(member, caller)
            return member
        if layer is None:
            raise NotFound("layer.unknown", layer=layer_id, known=sorted(self.catalogue.layers))
        check_access(layer, caller)
        if not self.catalogue.is_available(layer_id):
            status = self.catalogue.refresh(db, layer_id)
            if not status.available:
                raise NotFound("layer.unavailable", layer=layer_id, reason=status.reason or "")
        return layer

    def family_members(self, db: Database, layer: Layer) -> list[Layer]:
        """The member layers of a family layer (see ``FamilySpec``), read by its ``members`` SQL and kept
        until the layer's data revisions move."""
        if layer.family is None:
            return []
        revision = sum(watch_of(db).revisions(tuple(layer.revisions)).values())
        with self._extent_lock:
            cached = self._members.get(layer.id)
        if cached is not None and cached[0] == revision:
            return cached[1]
        with db.cursor(dict_rows=False) as cur:
            try:
                store.execute_layer_sql(cur, sql.SQL(layer.family.members), layer.default_params())
            except store.LayerQueryFailed:
                return []
            pattern = re.compile(layer.family.member_pattern)
            members = [
                layer.member(str(name), title) for name, title in cur.fetchall() if pattern.match(str(name))
            ]
        with self._extent_lock:
            self._members[layer.id] = (revision, members)
        return members

    def member_layer(self, db: Database, layer_id: str) -> Layer | None:
        """The member layer ``<family>:<member>``, or None when ``layer_id`` names none."""
        base, sep, _ = layer_id.partition(MEMBER_SEPARATOR)
        family = self.catalogue.layers.get(base) if sep else None
        if family is None or family.family is None:
            return None
        if not self.catalogue.is_available(base) and not self.catalogue.refresh(db, base).available:
            return None
        return next((m for m in self.family_members(db, family) if m.id == layer_id), None)

    def served_layers(self, db: Database, *, caller: Principal | None) -> list[Layer]:
        """Every catalogued layer that can be served now and that ``caller`` may read (layers not available
        before are re-probed); restricted layers are simply absent for anyone else."""
        for layer_id in self.catalogue.layers:
            if not self.catalogue.is_available(layer_id):
                self.catalogue.refresh(db, layer_id)
        return [layer for layer in self.catalogue.available_layers() if layer.readable_by(caller)]

    def bounds(self, db: Database, layers: list[Layer]) -> tuple[float, float, float, float] | None:
        """West, south, east, north around every feature of ``layers``; None when all are empty."""
        revs = _revisions(db, layers)
        boxes = [
            box
            for layer in layers
            if (box := self.extent(db, layer, sum(revs[e] for e in layer.revisions))) is not None
        ]
        if not boxes:
            return None
        return (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )

    # -- tiles ----------------------------------------------------------------------------------------

    def tile(self, db: Database, layers: list[Layer], address: TileAddress, crs: str) -> Tile:
        """Tile ``address`` of ``layers``, from the cache when the data has not changed since it was drawn.

        A composite tile leaves out the layers whose zoom range does not reach ``address.z`` (the basemap's
        buildings start at z14, its water at z4); 404 only when none does.
        """
        in_range = [layer for layer in layers if layer.minzoom <= address.z <= layer.maxzoom]
        if not in_range:
            ranges = [f"{layer.id} {layer.minzoom}–{layer.maxzoom}" for layer in layers]
            raise NotFound("tile.zoom_not_served", zoom=address.z, ranges=ranges)
        parts: list[bytes] = []
        revs = _revisions(db, layers)
        with contextlib.ExitStack() as stack:  # a connection only when some layer's tile is not cached
            cur = None
            for layer in in_range:
                revision = sum(revs[e] for e in layer.revisions)
                key = (layer.id, address.z, address.x, address.y, crs)
                body = self.cache.get(key, revision)
                if body is None:
                    if cur is None:
                        cur = stack.enter_context(_statement_cursor(db))
                    try:
                        body = store.render_tile(cur, layer, address.z, address.x, address.y, crs == "gcj02")
                    except store.LayerQueryFailed as exc:
                        self.catalogue.mark_unavailable(layer.id, str(exc))
                        raise NotFound("layer.unavailable", layer=layer.id, reason=str(exc)) from exc
                    self.cache.put(key, revision, body)
                parts.append(body)
        body = b"".join(parts)
        return Tile(body=body, etag=etag_of(body), revision=sum(revs.values()))

    # -- TileJSON -------------------------------------------------------------------------------------

    def extent(self, db: Database, layer: Layer, revision: int) -> tuple[float, float, float, float] | None:
        with self._extent_lock:
            cached = self._extents.get(layer.id)
        if cached is not None and cached[0] == revision:
            return cached[1]
        with db.cursor(dict_rows=False) as cur:
            try:
                found = store.extent(cur, layer)
            except store.LayerQueryFailed as exc:
                self.catalogue.mark_unavailable(layer.id, str(exc))
                raise NotFound("layer.unavailable", layer=layer.id, reason=str(exc)) from exc
        with self._extent_lock:
            self._extents[layer.id] = (revision, found)
        return found

    def tilejson(self, db: Database, layers: list[Layer], base_url: str, crs: str) -> dict[str, Any]:
        """TileJSON 3.0.0 for ``layers``; the tile URL carries the revision (``?v=``) so caches follow edits."""
        revision = sum(_revisions(db, layers).values())
        box = self.bounds(db, layers)
        names = ",".join(layer.id for layer in layers)
        query = f"v={revision}" + ("&crs=gcj02" if crs == "gcj02" else "")
        minzoom = min(layer.minzoom for layer in layers)
        maxzoom = max(layer.maxzoom for layer in layers)
        doc: dict[str, Any] = {
            "tilejson": "3.0.0",
            "name": names,
            "description": "; ".join(layer.description.strip() or layer.title for layer in layers),
            "version": "1.0.0",
            "scheme": "xyz",
            "tiles": [f"{base_url}/tiles/{names}/{{z}}/{{x}}/{{y}}.pbf?{query}"],
            "minzoom": minzoom,
            "maxzoom": maxzoom,
            "vector_layers": [
                {
                    "id": layer.id,
                    "description": layer.title + (f" ({layer.title_zh})" if layer.title_zh else ""),
                    "minzoom": layer.minzoom,
                    "maxzoom": layer.maxzoom,
                    "fields": dict(layer.properties),
                }
                for layer in layers
            ],
            "geo-service:revision": revision,
            "geo-service:crs": crs,
        }
        attributions = sorted({layer.attribution for layer in layers if layer.attribution})
        if attributions:
            doc["attribution"] = "; ".join(attributions)
        if box is not None:
            west, south, east, north = box
            doc["bounds"] = [west, south, east, north]
            doc["center"] = [(west + east) / 2, (south + north) / 2, max(minzoom, min(13, maxzoom))]
        return doc
