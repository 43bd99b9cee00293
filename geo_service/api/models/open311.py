"""Answers of Open311 GeoReport v2 (``/open311/v2``), JSON form (``.xml`` answers the same in XML): the
service's typed dicts (:mod:`geo_service.open311.documents`), named here for ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from pydantic import RootModel

from geo_service.open311.documents import (
    CreatedRequest,
    Discovery,
    Open311Error,
    ServiceDefinition,
    ServiceRequest,
)
from geo_service.open311.documents import (
    Service as Service,
)

__all__ = [
    "CreatedRequests",
    "Discovery",
    "Open311Errors",
    "ServiceDefinition",
    "ServiceRequests",
    "Services",
    "georeport",
]


class Services(RootModel[list[Service]]):
    """Every service (incident category) clients may request."""


class ServiceRequests(RootModel[list[ServiceRequest]]):
    """Requests (one for ``requests/{id}``)."""


class CreatedRequests(RootModel[list[CreatedRequest]]):
    """The request created: its id and the service's notice."""


class Open311Errors(RootModel[list[Open311Error]]):
    """GeoReport v2 errors"""


def georeport(model: type[Any], status: int = 200) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of an Open311 route: ``model`` for ``.json``, the same document in XML for ``.xml``."""
    return {status: {"model": model, "content": {"text/xml": {"schema": {"type": "string"}}}}}
