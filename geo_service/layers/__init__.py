"""The layer catalogue, in one place: the model of a layer (``layers/*.yaml``), its SQL (tiles and OGC
features) and the probing that decides whether it is served.

Modules, each importing only those before it (``tests/layers/test_imports.py`` checks there is no cycle):

- :mod:`~geo_service.layers.model` — :class:`Layer` and its validation, :func:`load_layers`; no database.
- :mod:`~geo_service.layers.sql` — running a layer's SQL, probing it, one MVT tile, a layer's extent.
- :mod:`~geo_service.layers.features` — filtered, paged feature rows for OGC API – Features.
- :mod:`~geo_service.layers.catalogue` — the live :class:`Catalogue`: which layers can be served now.

Every route that serves a layer (tiles, TileJSON, style, ``/tiles/catalogue.json``, OGC API) takes it from
here and applies its ``access`` rule (:meth:`Layer.readable_by`).
"""

from geo_service.layers.catalogue import Catalogue, layers_dir
from geo_service.layers.model import MEMBER_SEPARATOR, Layer, LayerStatus, load_layers
from geo_service.layers.sql import LayerQueryFailed

__all__ = [
    "MEMBER_SEPARATOR",
    "Catalogue",
    "Layer",
    "LayerQueryFailed",
    "LayerStatus",
    "layers_dir",
    "load_layers",
]
