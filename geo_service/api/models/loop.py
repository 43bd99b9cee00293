"""Answers of the 12345 loop routes: duplicates and merging (并案), callbacks (回访), photos, the rates, and the
inspections of rest stations (常态化巡查). Each is the service's typed dict, named here for ``/openapi.json``."""

from __future__ import annotations

from geo_service.incidents.callback import Callbacks as Callbacks
from geo_service.incidents.callback import FeedbackResult as FeedbackResult
from geo_service.incidents.duplicates import Duplicates as Duplicates
from geo_service.incidents.rates import Rates as Rates
from geo_service.incidents.rates import SettledAt as SettledAt
from geo_service.media.service import NewPhoto as NewPhoto
from geo_service.media.service import Photos as Photos
from geo_service.stations.inspections import Inspection as Inspection
from geo_service.stations.inspections import Inspections as Inspections
from geo_service.stations.inspections import OverdueInspections as OverdueInspections
