"""The documents of OGC API – Features Part 1 as :mod:`geo_service.ogc.service` builds them (JSON; CRS84
lon/lat). Written once: ``/openapi.json`` documents these typed dicts as they are
(:mod:`geo_service.api.models.ogc`)."""

from __future__ import annotations

from typing import Annotated, NotRequired

from pydantic import Field
from typing_extensions import TypedDict

from geo_service.geojson import Feature, FeatureCollection


class Link(TypedDict):
    href: str
    rel: str
    type: Annotated[str, Field(description="media type of the target")]
    title: NotRequired[str]


class Landing(TypedDict):
    """The landing page: links to the API definition, the conformance classes and the collections."""

    title: str
    description: str
    links: list[Link]


class Conformance(TypedDict):
    conformsTo: list[str]


class SpatialExtent(TypedDict):
    bbox: Annotated[list[list[float]], Field(description="one [west, south, east, north] in CRS84")]
    crs: str


class TemporalExtent(TypedDict):
    interval: Annotated[list[list[str | None]], Field(description="one [start, end]; null is open")]
    trs: str


class CollectionExtent(TypedDict):
    spatial: SpatialExtent
    temporal: NotRequired[TemporalExtent]


class Collection(TypedDict):
    """One feature collection: a catalogued layer with a ``features`` section (or a member of a family)."""

    id: str
    title: str
    description: str
    itemType: str
    crs: list[str]
    extent: CollectionExtent
    links: list[Link]


class Collections(TypedDict):
    links: list[Link]
    collections: list[Collection]


class Queryable(TypedDict):
    description: str


# "$schema" and "$id" are not names: the functional form
Queryables = TypedDict(
    "Queryables",
    {"$schema": str, "$id": str, "type": str, "title": str, "properties": dict[str, Queryable]},
)
Queryables.__doc__ = "A JSON Schema of the properties usable as filters (``?name=value`` on the items)."


class Items(FeatureCollection):
    """One page of a collection, with ``numberMatched``/``numberReturned`` and ``next``/``prev`` links."""

    numberMatched: int
    numberReturned: int
    timeStamp: str
    links: list[Link]


class Item(Feature):
    """One feature of a collection, with its links."""

    links: list[Link]
