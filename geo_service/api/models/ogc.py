"""Answers of OGC API – Features (``/ogc``): the service's typed dicts (:mod:`geo_service.ogc.documents`),
named here for ``/openapi.json``; items and one item extend the GeoJSON models."""

from __future__ import annotations

from geo_service.api.models.geojson import Feature, FeatureCollection
from geo_service.api.models.typed import extending
from geo_service.ogc import documents
from geo_service.ogc.documents import Collection, Collections, Conformance, Landing, Queryables

__all__ = ["Collection", "Collections", "Conformance", "Item", "Items", "Landing", "Queryables"]

Items = extending(documents.Items, FeatureCollection, __name__)
Item = extending(documents.Item, Feature, __name__)
