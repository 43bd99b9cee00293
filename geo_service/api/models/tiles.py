"""Answers of the tile routes: the layer catalogue, TileJSON and the MapLibre style (tiles are MVT)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from geo_service.tiles.style import Style as Style


class CatalogueLayer(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    available: bool
    reason: str | None = Field(description="why the layer is not served")
    minzoom: int
    maxzoom: int
    tilejson: str
    features: str | None = Field(description="its OGC API collection, if any")


class Catalogue(BaseModel):
    layers: list[CatalogueLayer]
    file_errors: dict[str, str] = Field(description="layer file → why it was not read")
    style: str
    basemaps: list[str]


class VectorLayer(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    fields: dict[str, str]


class TileJSON(BaseModel):
    """TileJSON 3.0.0."""

    model_config = ConfigDict(extra="allow")

    tilejson: str
    tiles: list[str]
    minzoom: int
    maxzoom: int
    vector_layers: list[VectorLayer]
