"""Answers of the department network routes (``/api/networks``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from geo_service.api.models.geojson import FeatureCollection


class NetworkSummary(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    department: str | None
    cells: int
    version: int
    imported_at: str | None
    bbox: list[float] | None = Field(description="[west, south, east, north]")


class ListedNetwork(NetworkSummary):
    links: dict[str, str]


class Networks(BaseModel):
    networks: list[ListedNetwork]


class NetworkImport(BaseModel):
    """What an import did: 201 for a network's first version, 200 for the next ones."""

    model_config = ConfigDict(extra="allow")

    name: str
    department: str | None
    version: int
    previous_version: int | None
    cells: int
    imported_at: str
    added: list[str]
    removed: list[str]
    changed: int
    unchanged: int
    links: dict[str, str]


class NetworkCells(FeatureCollection):
    """The network's cells, with the network's summary and versions."""

    network: dict[str, Any]


class Crosswalk(BaseModel):
    """Per cell its unified grids by area and households, and the mismatched boundary lines."""

    model_config = ConfigDict(extra="allow")

    network: dict[str, Any]
    unified_grids: int
    summary: dict[str, Any]
    cells: list[dict[str, Any]]
    mismatches: Any


class NetworkProposal(FeatureCollection):
    """Proposed unified grids (nothing written), with a ``summary`` of how they follow the networks."""

    summary: dict[str, Any]


class Rekeyed(BaseModel):
    """The unified grid of one cell code (``cell``, ``grid``, ``candidates``) or of one point (``point``)."""

    model_config = ConfigDict(extra="allow")

    network: str
    version: int
    by: str


class RekeyedMany(Rekeyed):
    """``cells`` and ``points`` in the order asked."""
