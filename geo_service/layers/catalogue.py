"""The live layer catalogue: the layers of ``layers/*.yaml`` and whether each can be served right now.

Only catalogued layers are served (tiles, TileJSON, style, OGC API – Features, ``/tiles/catalogue.json``).
A layer file names the relations its SQL reads; a layer whose relation does not exist yet (a table another
branch creates) or whose SQL does not run is reported at start-up and answers 404 until it works — never 500.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from geo_service.db.pool import Database
from geo_service.layers.model import Layer, LayerStatus, load_layers
from geo_service.layers.sql import probe_layer
from geo_service.settings import MapSettings

log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[2]


def layers_dir(settings: MapSettings) -> Path:
    """The catalogue folder: as configured (relative to the working directory), else under the repository."""
    configured = Path(settings.layers_dir)
    if configured.is_dir() or configured.is_absolute():
        return configured
    return REPO_ROOT / configured


@dataclass
class Catalogue:
    """The catalogued layers and whether each can be served against this database right now.

    Availability is checked at start-up (:meth:`check`) and re-checked on demand for layers that were not
    available (:meth:`refresh`), so a table created by a later migration starts being served without a
    restart.
    """

    layers: dict[str, Layer]
    file_errors: dict[str, str] = field(default_factory=dict)
    status: dict[str, LayerStatus] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_directory(cls, directory: Path) -> Catalogue:
        layers, errors = load_layers(directory)
        return cls({layer.id: layer for layer in layers}, errors)

    def check(self, db: Database) -> dict[str, LayerStatus]:
        """Probe every layer; log one line per layer that cannot be served."""
        found: dict[str, LayerStatus] = {}
        for layer in self.layers.values():
            found[layer.id] = probe_layer(db, layer)
            if not found[layer.id].available:
                log.warning("layer %s is not served: %s", layer.id, found[layer.id].reason)
        with self._lock:
            self.status = found
        return found

    def refresh(self, db: Database, layer_id: str) -> LayerStatus:
        """Re-probe one layer that was not available (a relation may have been created since)."""
        status = probe_layer(db, self.layers[layer_id])
        with self._lock:
            self.status[layer_id] = status
        return status

    def mark_unavailable(self, layer_id: str, reason: str) -> None:
        log.warning("layer %s stopped working: %s", layer_id, reason)
        with self._lock:
            self.status[layer_id] = LayerStatus(False, reason)

    def is_available(self, layer_id: str) -> bool:
        status = self.status.get(layer_id)
        return status is not None and status.available

    def available_layers(self) -> list[Layer]:
        return [layer for layer in self.layers.values() if self.is_available(layer.id)]
