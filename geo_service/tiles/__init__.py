"""Vector tiles from PostGIS: the revision-keyed cache, tiles and TileJSON (``service``) and the MapLibre style,
over the layer catalogue of :mod:`geo_service.layers` (model, SQL, probing)."""

from __future__ import annotations

import logging
import threading

from geo_service.db.pool import Database
from geo_service.layers import Catalogue, layers_dir
from geo_service.settings import MapSettings
from geo_service.tiles.service import TileServer

log = logging.getLogger(__name__)
_build_lock = threading.Lock()


def build_tile_server(db: Database, settings: MapSettings) -> TileServer:
    """Load the catalogue, probe every layer against ``db`` (logging those not served) and make the server.
    The probes are reads: a hot standby answers them (so a server started while the primary is away serves
    tiles)."""
    with _build_lock:
        catalogue = Catalogue.from_directory(layers_dir(settings))
        status = catalogue.check(db.for_reading())
        served = sorted(name for name, s in status.items() if s.available)
        log.info("map layers served: %s", ", ".join(served) or "none")
        return TileServer(catalogue, settings)
