"""Answer of ``GET /api/geocode``: the service's typed dict, named here for ``/openapi.json``."""

from __future__ import annotations

from geo_service.geocode.service import Geocoded as Geocoded
