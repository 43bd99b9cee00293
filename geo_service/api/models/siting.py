"""Answer of ``POST /api/siting``: the service's typed dict (:mod:`geo_service.siting.model`), named here for
``/openapi.json``."""

from __future__ import annotations

from geo_service.siting.model import SitingAnswer as SitingAnswer
