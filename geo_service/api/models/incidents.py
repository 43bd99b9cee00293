"""Answers of the incident routes (``/api/incidents``, ``/api/stats/incidents``). An incident, a new one, the
queue, a CSV import's report and the numbers per area are the service's typed dicts
(:mod:`geo_service.incidents.records`, :mod:`~geo_service.incidents.intake`,
:mod:`~geo_service.incidents.csv_import`, :mod:`~geo_service.incidents.stats`), named here for ``/openapi.json``."""

from __future__ import annotations

from geo_service.api.models.geojson import FeatureCollection
from geo_service.api.models.typed import extending
from geo_service.incidents import records
from geo_service.incidents.categories import IncidentCategories as IncidentCategories
from geo_service.incidents.csv_import import ImportReport as ImportReport
from geo_service.incidents.intake import NewIncident as NewIncident
from geo_service.incidents.records import Incident as Incident
from geo_service.incidents.records import IncidentHistory as IncidentHistory
from geo_service.incidents.stats import IncidentStats as IncidentStats

IncidentCollection = extending(records.IncidentCollection, FeatureCollection, __name__)
