"""Answers of OGC API – Features (``/ogc``): standard documents, described by their required members."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from geo_service.api.models.geojson import Feature, FeatureCollection


class Link(BaseModel):
    model_config = ConfigDict(extra="allow")

    href: str
    rel: str


class Landing(BaseModel):
    model_config = ConfigDict(extra="allow")

    links: list[Link]


class Conformance(BaseModel):
    conformsTo: list[str]


class Collection(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    links: list[Link]


class Collections(BaseModel):
    model_config = ConfigDict(extra="allow")

    collections: list[Collection]
    links: list[Link]


class Queryables(BaseModel):
    """A JSON Schema of the properties usable as filters."""

    model_config = ConfigDict(extra="allow")

    properties: dict[str, Any] = Field(description="one JSON Schema per queryable property")


class Items(FeatureCollection):
    """One page of a collection, with ``numberMatched``/``numberReturned`` and ``next`` links."""


class Item(Feature):
    """One feature of a collection."""
