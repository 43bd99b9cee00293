"""The documents of Open311 GeoReport v2 as :mod:`geo_service.open311.service` builds them, JSON form (the
``.xml`` answers carry the same members as elements). Messages (:class:`geo_service.i18n.Message`) are
rendered in the caller's language by the HTTP layer. Written once: ``/openapi.json`` documents these typed
dicts as they are (:mod:`geo_service.api.models.open311`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from typing_extensions import TypedDict

from geo_service.i18n import Message


class Endpoint(TypedDict):
    specification: str
    url: str
    changeset: str
    type: str
    formats: list[str]


class Discovery(TypedDict):
    """The service discovery document."""

    changeset: Annotated[str, Field(description="when the services or any request last changed")]
    contact: Message
    key_service: Message
    endpoints: list[Endpoint]


class Service(TypedDict):
    """A service: an incident category clients may request."""

    service_code: str
    service_name: str
    description: str
    metadata: Annotated[bool, Field(description="whether the service has attributes (see its definition)")]
    type: str
    keywords: str
    group: str


class AttributeValue(TypedDict):
    key: str
    name: str


class ServiceAttribute(TypedDict):
    """An extra field a request of the service takes (``attribute[code]`` in the form)."""

    variable: bool
    code: str
    datatype: Annotated[
        str, Field(description="string, number, datetime, text, singlevaluelist or multivaluelist")
    ]
    required: bool
    datatype_description: str | None
    order: int
    description: str
    values: list[AttributeValue]


class ServiceDefinition(TypedDict):
    service_code: str
    attributes: list[ServiceAttribute]


class ServiceRequest(TypedDict):
    """A request. The public form has ``description``, ``address``, ``status_notes`` and ``media_url`` null and
    ``lat``/``long`` at the centre of its H3 cell; a dispatcher's key gets them in full."""

    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | Message | None
    service_name: str
    service_code: str
    description: str | None
    agency_responsible: str | None
    service_notice: Message | None
    requested_datetime: str | None
    updated_datetime: str | None
    expected_datetime: str | None
    address: str | None
    address_id: None
    zipcode: None
    lat: float
    long: float
    media_url: str | None


class CreatedRequest(TypedDict):
    """What POST requests answers: the new request's id and the service's notice (its deadline)."""

    service_request_id: str
    service_notice: Message
    account_id: str | None


class Open311Error(TypedDict):
    code: Annotated[int, Field(description="the HTTP status")]
    description: str
