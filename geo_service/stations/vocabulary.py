"""Station kinds and amenities, read from a data file (``geo_service/data/stations.yaml`` by default)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypedDict

import yaml

_BUNDLED = Path(__file__).resolve().parents[1] / "data" / "stations.yaml"
_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class TermNames(TypedDict):
    id: str
    name_zh: str
    name_en: str


class VocabularyTerms(TypedDict):
    """The answer of ``GET /api/stations/vocabulary`` (documented by ``StationVocabulary``)."""

    kinds: list[TermNames]
    amenities: list[TermNames]


@dataclass(frozen=True)
class Term:
    id: str
    name_zh: str
    name_en: str

    def as_dict(self) -> TermNames:
        return {"id": self.id, "name_zh": self.name_zh, "name_en": self.name_en}


@dataclass(frozen=True)
class Vocabulary:
    kinds: dict[str, Term]
    amenities: dict[str, Term]

    def as_dict(self) -> VocabularyTerms:
        return {
            "kinds": [t.as_dict() for t in self.kinds.values()],
            "amenities": [t.as_dict() for t in self.amenities.values()],
        }


def _terms(raw: Any, section: str, path: Path) -> dict[str, Term]:
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{path}: '{section}' must be a non-empty mapping of id → {{zh, en}}")
    out = {}
    for key, names in raw.items():
        if not _ID.match(str(key)) or not isinstance(names, dict):
            raise ValueError(f"{path}: {section} id {key!r} must be snake_case with {{zh, en}} names")
        out[str(key)] = Term(str(key), str(names.get("zh", key)), str(names.get("en", key)))
    return out


@lru_cache
def load_vocabulary(path: Path | None = None) -> Vocabulary:
    """The vocabulary in ``path`` (the bundled file when None); ValueError naming what is wrong."""
    path = Path(path) if path else _BUNDLED
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return Vocabulary(
        _terms(data.get("kinds"), "kinds", path), _terms(data.get("amenities"), "amenities", path)
    )
