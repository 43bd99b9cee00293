"""Answers of Open311 GeoReport v2 (``/open311/v2``), JSON form (``.xml`` answers the same in XML)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel


class Endpoint(BaseModel):
    model_config = ConfigDict(extra="allow")

    specification: str
    url: str
    formats: list[str]


class Discovery(BaseModel):
    model_config = ConfigDict(extra="allow")

    changeset: str
    contact: str
    key_service: str
    endpoints: list[Endpoint]


class Service(BaseModel):
    model_config = ConfigDict(extra="allow")

    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class Services(RootModel[list[Service]]):
    """Every service (incident category) clients may request."""


class ServiceDefinition(BaseModel):
    service_code: str
    attributes: list[dict[str, Any]] = Field(description="the extra fields a request of this service takes")


class ServiceRequest(BaseModel):
    """A request; the fields of GeoReport v2 (description and reporter only for the key's holder)."""

    model_config = ConfigDict(extra="allow")

    service_request_id: str


class ServiceRequests(RootModel[list[ServiceRequest]]):
    """Requests (or the one created: its id and notice)."""


def georeport(model: type[BaseModel], status: int = 200) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of an Open311 route: ``model`` for ``.json``, the same document in XML for ``.xml``."""
    return {status: {"model": model, "content": {"text/xml": {"schema": {"type": "string"}}}}}
