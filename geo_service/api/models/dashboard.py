"""Answers of the leaders' dashboard (``/api/stats/dashboard``): the service's typed dicts, named here for
``/openapi.json``; definitions in :mod:`geo_service.stats.dashboard`. Rates are to 4 places and null when their
denominator is 0."""

from __future__ import annotations

from geo_service.stats.dashboard import Dashboard as Dashboard
from geo_service.stats.dashboard import DashboardAreas as DashboardAreas
