"""Feature providers behind one interface (pygeoapi style): a collection is a provider with ``query``,
``get``, ``extent`` and ``queryables``. The one implementation here reads PostGIS through a catalogued
layer's ``features`` section; another backend (a file, a remote service) would subclass
:class:`FeatureProvider` and register the same way.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from geo_service.db.pool import Database
from geo_service.geojson import Feature
from geo_service.layers import features as store
from geo_service.layers.model import Layer
from geo_service.layers.sql import LayerQueryFailed

VERSION_SEPARATOR = "@v"


@dataclass(frozen=True)
class Extent:
    bbox: tuple[float, float, float, float] | None
    interval: tuple[dt.datetime | None, dt.datetime | None] | None


@dataclass(frozen=True)
class FeaturePage:
    features: list[Feature]
    number_matched: int


class ProviderFailed(RuntimeError):
    """The provider's backend cannot answer for a reason of the collection (e.g. its table went away)."""


class FeatureProvider(ABC):
    """One OGC API – Features collection."""

    id: str
    title: str
    description: str
    temporal: bool  # whether `datetime` applies
    public: bool = False  # anyone may read it (otherwise its access rule was checked before it was made)
    filters: tuple[str, ...]  # properties usable as ?name=value

    @abstractmethod
    def query(
        self, db: Database, query: store.Filter, limit: int, offset: int, gcj02: bool = False
    ) -> FeaturePage:
        """Features matching ``query``, ``limit`` of them from ``offset``, and how many match in all;
        geometries shifted to GCJ-02 when ``gcj02``."""

    @abstractmethod
    def get(self, db: Database, fid: str, gcj02: bool = False) -> Feature | None:
        """One feature by id, or None."""

    @abstractmethod
    def extent(self, db: Database) -> Extent: ...

    @abstractmethod
    def queryables(self) -> dict[str, str]:
        """Property name → description."""


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


class PostGISProvider(FeatureProvider):
    """A collection read from PostGIS with the SQL of a catalogued layer (``features`` section)."""

    def __init__(self, layer: Layer) -> None:
        spec = layer.features
        if spec is None:
            raise ValueError(f"layer {layer.id} has no `features` section")
        self.layer = layer
        self.id = layer.id
        self.title = spec.title or layer.title
        self.description = (spec.description or layer.description).strip()
        self.filters = tuple(spec.filters)
        self.public = layer.public
        self._properties = layer.feature_properties
        temporal = spec.temporal
        self.temporal = temporal is not None
        self.versioned = spec.version_column is not None and temporal is not None and temporal.end is not None
        self.source = store.Source(
            sql=spec.sql or layer.sql,
            params=layer.default_params(),
            geometry_column=layer.geometry_column,
            id_column=spec.id_column,
            properties=tuple(p for p in self._properties if p != spec.id_column),
            version_column=spec.version_column,
            instant_column=temporal.instant if temporal else None,
            start_column=temporal.start if temporal else None,
            end_column=temporal.end if temporal else None,
        )

    # A versioned collection (grids) gives the current version the plain id (the code) and a past one
    # `CODE@vN`, so every row has its own id and the plain id always means "as it is now".
    def _feature(self, row: dict[str, Any]) -> Feature:
        raw_id = row[self.source.id_column]
        fid: Any = raw_id
        if self.versioned and row.get(self.source.end_column or "") is not None:
            fid = f"{raw_id}{VERSION_SEPARATOR}{row[self.source.version_column or '']}"
        properties = {name: _json_value(row[name]) for name in self.source.properties}
        if self.source.id_column in self._properties:
            properties[self.source.id_column] = _json_value(raw_id)
        return {"type": "Feature", "id": fid, "geometry": row["geometry"], "properties": properties}

    def query(
        self, db: Database, query: store.Filter, limit: int, offset: int, gcj02: bool = False
    ) -> FeaturePage:
        query.current_only = self.versioned or (self.source.end_column is not None)
        try:
            with db.cursor() as cur:
                matched = store.count(cur, self.source, query)
                rows = store.select(cur, self.source, query, limit, offset, gcj02) if limit > 0 else []
        except LayerQueryFailed as exc:
            raise ProviderFailed(str(exc)) from exc
        return FeaturePage([self._feature(row) for row in rows], matched)

    def get(self, db: Database, fid: str, gcj02: bool = False) -> Feature | None:
        flt = store.Filter(fid=fid)
        if self.versioned:
            code, sep, version = fid.rpartition(VERSION_SEPARATOR)
            if sep and version.isdigit():
                flt = store.Filter(fid=code, version=int(version))
            else:
                flt.current_only = True
        try:
            with db.cursor() as cur:
                rows = store.select(cur, self.source, flt, 1, 0, gcj02)
        except LayerQueryFailed as exc:
            raise ProviderFailed(str(exc)) from exc
        return self._feature(rows[0]) if rows else None

    def extent(self, db: Database) -> Extent:
        try:
            with db.cursor() as cur:
                bbox, times = store.extent(cur, self.source)
        except LayerQueryFailed as exc:
            raise ProviderFailed(str(exc)) from exc
        if times is not None and self.source.end_column is not None:
            times = (times[0], None)  # current versions are open-ended
        return Extent(bbox, times)

    def queryables(self) -> dict[str, str]:
        return dict(self._properties)
