"""Answers of the department network routes (``/api/networks``): the service's typed dicts
(:mod:`geo_service.networks.answers`), named here for ``/openapi.json``; those holding GeoJSON name the HTTP
layer's GeoJSON models, so that ``Feature`` and ``FeatureCollection`` keep one schema each."""

from __future__ import annotations

from pydantic import BaseModel

from geo_service.api.models.geojson import FeatureCollection
from geo_service.api.models.typed import extending
from geo_service.networks import answers
from geo_service.networks.answers import DepartmentNetwork, NetworkImport, Networks, Rekeyed, RekeyedMany

__all__ = [
    "Crosswalk",
    "DepartmentNetwork",
    "NetworkCells",
    "NetworkImport",
    "NetworkProposal",
    "Networks",
    "Rekeyed",
    "RekeyedMany",
]

NetworkCells = extending(answers.NetworkCells, FeatureCollection, __name__)
NetworkProposal = extending(answers.NetworkProposal, FeatureCollection, __name__)
Crosswalk = extending(answers.Crosswalk, BaseModel, __name__, mismatches=FeatureCollection)
