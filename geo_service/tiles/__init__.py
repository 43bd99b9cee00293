"""Vector tiles from PostGIS: the layer catalogue (``layers/*.yaml``), the SQL (``store``), the revision-keyed
cache, TileJSON and the MapLibre style."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from geo_service.db.pool import Database
from geo_service.settings import MapSettings
from geo_service.tiles.catalogue import Catalogue
from geo_service.tiles.service import TileServer

log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[2]
_build_lock = threading.Lock()


def layers_dir(settings: MapSettings) -> Path:
    """The catalogue folder: as configured (relative to the working directory), else under the repository."""
    configured = Path(settings.layers_dir)
    if configured.is_dir() or configured.is_absolute():
        return configured
    return REPO_ROOT / configured


def build_tile_server(db: Database, settings: MapSettings) -> TileServer:
    """Load the catalogue, probe every layer against ``db`` (logging those not served) and make the server."""
    with _build_lock:
        catalogue = Catalogue.from_directory(layers_dir(settings))
        status = catalogue.check(db)
        served = sorted(name for name, s in status.items() if s.available)
        log.info("map layers served: %s", ", ".join(served) or "none")
        return TileServer(catalogue, settings)
