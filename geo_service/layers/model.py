"""The layer model: one ``layers/*.yaml`` file is one :class:`Layer` (the format is documented in
``layers/README.md``), read by :func:`load_layers`.

Pure data and validation: no database here (the SQL is :mod:`geo_service.layers.sql`, the live catalogue
:mod:`geo_service.layers.catalogue`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from geo_service.auth import ROLES, Principal

log = logging.getLogger(__name__)

IDENTIFIER = r"^[a-z][a-z0-9_]*$"
RESERVED_IDS = frozenset({"style", "catalogue"})  # fixed routes under /tiles/
# Bound by the tile server in every tile query: the tile address and its padded box in degrees.
BOUND_PARAMS = frozenset({"z", "x", "y", "west", "south", "east", "north"})


class Temporal(BaseModel):
    """Columns that give a feature's time: an interval (``start``/``end``) or an ``instant``."""

    model_config = ConfigDict(extra="forbid")

    instant: str | None = Field(default=None, pattern=IDENTIFIER)
    start: str | None = Field(default=None, pattern=IDENTIFIER)
    end: str | None = Field(default=None, pattern=IDENTIFIER)

    @model_validator(mode="after")
    def _one_kind(self) -> Temporal:
        if (self.instant is None) == (self.start is None):
            raise ValueError("give either `instant` or `start` (with an optional `end`)")
        if self.instant is not None and self.end is not None:
            raise ValueError("`end` goes with `start`, not with `instant`")
        return self


class FeaturesSpec(BaseModel):
    """How the layer is served as an OGC API – Features collection."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = None
    description: str | None = None
    sql: str | None = Field(default=None, description="defaults to the layer's `sql`")
    id_column: str = Field(default="id", pattern=IDENTIFIER)
    version_column: str | None = Field(default=None, pattern=IDENTIFIER)
    temporal: Temporal | None = None
    filters: list[str] = Field(default_factory=list, description="properties usable as ?name=value")
    properties: dict[str, str] | None = Field(default=None, description="defaults to the layer's")

    @field_validator("filters")
    @classmethod
    def _identifiers(cls, names: list[str]) -> list[str]:
        return _check_identifiers(names)


MEMBER_SEPARATOR = ":"
# A MapLibre style layer as a layer file writes it (paint, layout, filter ...: the style spec's, open by design)
StyleLayer = dict[str, Any]


class FamilySpec(BaseModel):
    """A layer that is also served once per member: ``<id>:<member>`` is the layer's rows whose ``column``
    equals the member (``networks:police``), with its own tiles, TileJSON and OGC collection."""

    model_config = ConfigDict(extra="forbid")

    column: str = Field(pattern=IDENTIFIER, description="the column naming each row's member")
    members: str = Field(description="SELECT yielding `member` and `title`, one row per member (trusted)")
    member_pattern: str = Field(default=r"^[a-z][a-z0-9_-]{0,39}$", description="what a member name may be")


class Layer(BaseModel):
    """One catalogued layer (see ``layers/README.md`` for every field)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=IDENTIFIER)
    title: str
    title_zh: str | None = None
    description: str = ""
    group: Literal["basemap", "overlay"] = "overlay"
    # Required, so that a new layer cannot forget who may read it: `public`, or the roles that may (admin
    # always may). Every route serving the layer (tiles, TileJSON, style, OGC) applies it.
    access: Literal["public"] | tuple[str, ...]
    order: int = 100
    attribution: str | None = None
    relations: list[str] = Field(min_length=1)
    revisions: list[str] = Field(min_length=1)
    sql: str
    geometry_column: str = Field(default="geom", pattern=IDENTIFIER)
    id_column: str | None = Field(default="id", pattern=IDENTIFIER)
    properties: dict[str, str] = Field(default_factory=dict)
    params: dict[str, dict[int, Any]] = Field(default_factory=dict)
    minzoom: int = Field(default=0, ge=0, le=24)
    maxzoom: int = Field(default=22, ge=0, le=24)
    extent: int = Field(default=4096, ge=256, le=16384)
    buffer: int = Field(default=64, ge=0, le=4096)
    simplify: float = Field(default=0.0, ge=0)
    max_features: int = Field(default=10_000, ge=1, le=1_000_000)
    style: list[StyleLayer] = Field(default_factory=list)
    features: FeaturesSpec | None = None
    family: FamilySpec | None = None

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_IDS:
            raise ValueError(f"`{value}` is reserved")
        return value

    @field_validator("access", mode="before")
    @classmethod
    def _access(cls, value: Any) -> Any:
        if isinstance(value, str) and value != "public":
            value = [value]
        if isinstance(value, list | tuple):
            unknown = [role for role in value if role not in ROLES]
            if not value or unknown:
                raise ValueError(f"`access` is `public` or a list of roles among {', '.join(ROLES)}")
            return tuple(value)
        return value

    @field_validator("properties")
    @classmethod
    def _property_names(cls, value: dict[str, str]) -> dict[str, str]:
        _check_identifiers(value)
        if "geom" in value:
            raise ValueError("`geom` is the tile's geometry and cannot be a property")
        return value

    @field_validator("params")
    @classmethod
    def _param_steps(cls, value: dict[str, dict[int, Any]]) -> dict[str, dict[int, Any]]:
        _check_identifiers(value)
        for name, steps in value.items():
            if name in BOUND_PARAMS:
                raise ValueError(f"param `{name}` is bound by the tile server")
            if 0 not in steps:
                raise ValueError(f"param `{name}` needs a value at zoom 0")
        return value

    @field_validator("style")
    @classmethod
    def _style_layers(cls, value: list[StyleLayer]) -> list[StyleLayer]:
        for entry in value:
            if not isinstance(entry.get("id"), str) or not isinstance(entry.get("type"), str):
                raise ValueError("every style layer needs an `id` and a `type`")
            if "source" in entry or "source-layer" in entry:
                raise ValueError(
                    "style layers get `source`/`source-layer` from the catalogue; leave them out"
                )
        return value

    @model_validator(mode="after")
    def _zoom_range(self) -> Layer:
        if self.minzoom > self.maxzoom:
            raise ValueError("minzoom is above maxzoom")
        return self

    def params_at(self, zoom: int) -> dict[str, Any]:
        """The zoom-stepped parameters in force at ``zoom``: each one's value at the highest step ≤ zoom."""
        return {
            name: steps[max(step for step in steps if step <= zoom)] for name, steps in self.params.items()
        }

    def default_params(self) -> dict[str, Any]:
        """Parameters for the layer's SQL outside a tile request (extent, features): bound at ``maxzoom``."""
        return {"z": self.maxzoom, "x": 0, "y": 0, **self.params_at(self.maxzoom)}

    def member(self, name: str, title: str | None = None) -> Layer:
        """The layer of one member of this family (see :class:`FamilySpec`): the same SQL filtered on the
        family column with the bound parameter ``family_member``."""
        if self.family is None:
            raise ValueError(f"layer {self.id} is not a family")
        column = self.family.column

        def only(source: str) -> str:
            return f"SELECT * FROM ({source}) AS family_rows WHERE family_rows.{column} = %(family_member)s"

        label = title or name
        features = None
        if self.features is not None:
            features = self.features.model_copy(
                update={
                    "sql": only(self.features.sql) if self.features.sql else None,
                    "title": f"{self.features.title or self.title}: {label}",
                }
            )
        return self.model_copy(
            update={
                "id": f"{self.id}{MEMBER_SEPARATOR}{name}",
                "title": f"{self.title}: {label}",
                "title_zh": f"{self.title_zh}：{label}" if self.title_zh else None,
                "sql": only(self.sql),
                "params": {**self.params, "family_member": {0: name}},
                "features": features,
                "family": None,
                "style": [{**entry, "id": f"{entry['id']}{MEMBER_SEPARATOR}{name}"} for entry in self.style],
            }
        )

    @property
    def public(self) -> bool:
        return self.access == "public"

    def readable_by(self, caller: Principal | None) -> bool:
        """Whether ``caller`` (None: anonymous) may read this layer's data."""
        if self.access == "public":
            return True
        return caller is not None and caller.has_role(*self.access)

    @property
    def feature_properties(self) -> dict[str, str]:
        if self.features is not None and self.features.properties is not None:
            return self.features.properties
        return self.properties


def _check_identifiers(names: Iterable[str]) -> Any:
    for name in names:
        if not re.match(IDENTIFIER, name):
            raise ValueError(f"`{name}` is not a plain lower-case identifier")
    return names


def load_layers(directory: Path) -> tuple[list[Layer], dict[str, str]]:
    """Every ``*.yaml`` in ``directory`` as a :class:`Layer` (sorted by id), and the files that failed.

    A bad file (YAML error, unknown field, duplicate id) is logged and skipped so that one broken layer
    does not take the others down; ``errors`` maps its file name to the reason.
    """
    layers: dict[str, Layer] = {}
    errors: dict[str, str] = {}
    if not directory.is_dir():
        log.error("no layer catalogue at %s: no map layer is served", directory)
    for path in sorted(directory.glob("*.yaml")):
        try:
            layer = Layer.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (yaml.YAMLError, ValidationError, OSError) as exc:
            errors[path.name] = str(exc)
        else:
            if layer.id in layers:
                errors[path.name] = f"layer id `{layer.id}` is defined twice"
            elif path.stem != layer.id:
                errors[path.name] = f"file name and layer id `{layer.id}` differ"
            else:
                layers[layer.id] = layer
    for name, reason in errors.items():
        log.error("layer file %s skipped: %s", name, reason)
    return [layers[name] for name in sorted(layers)], errors


@dataclass
class LayerStatus:
    """Whether a layer can be served now, and if not why (for the log and the 404's ``reason``)."""

    available: bool
    reason: str | None = None
