"""Which OpenStreetMap features count as what: walkable ways, homes, facility categories.

Walking network rules (applied to every ``highway=*`` way pyrosm reads, areas excluded):

1. ``foot`` decides first: ``no``, ``private`` or ``use_sidepath`` excludes the way; ``yes``, ``designated``,
   ``permissive``, ``official`` or ``destination`` admits it whatever ``access`` says.
2. Otherwise ``access=no`` / ``access=private`` (also as one of several ``;`` values) excludes it, and so
   does ``service=private``.
3. Ways of the kinds in :data:`WALKABLE_HIGHWAYS` are admitted — footways (sidewalks and crossings, drawn
   as ``footway=sidewalk|crossing``), paths, steps, pedestrian streets, corridors, elevators, tracks,
   every street class from ``living_street`` to ``trunk``, and service roads.
4. Ways in :data:`FOOT_TAG_REQUIRED` — cycleways, motorways, busways — are admitted only with an explicit
   ``foot`` permission from rule 1 (in China and much of Europe cycleways are not for walking unless signed).
5. Planned, proposed, abandoned, under-construction ways and platforms are never part of the network.

Roads whose sidewalks are drawn separately (``sidewalk=separate``) stay: walking along the carriageway
edge is how people cross where no crossing is mapped, and dropping them cuts blocks off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

if TYPE_CHECKING:  # pandas is imported where a frame is read: the facility rules alone are needed at start
    import pandas as pd

WALKABLE_HIGHWAYS = frozenset(
    {
        "footway",
        "pedestrian",
        "path",
        "steps",
        "corridor",
        "elevator",
        "living_street",
        "residential",
        "service",
        "unclassified",
        "road",
        "track",
        "bridleway",
        "trail",
        "crossing",
        "tertiary",
        "tertiary_link",
        "secondary",
        "secondary_link",
        "primary",
        "primary_link",
        "trunk",
        "trunk_link",
    }
)
FOOT_TAG_REQUIRED = frozenset(
    {"cycleway", "motorway", "motorway_link", "busway", "bus_guideway", "escalator"}
)
FOOT_ALLOWED = frozenset({"yes", "designated", "permissive", "official", "destination"})
FOOT_DENIED = frozenset({"no", "private", "use_sidepath"})
ACCESS_CLOSED = frozenset({"no", "private"})

RESIDENTIAL_BUILDINGS = frozenset(
    {
        "residential",
        "apartments",
        "house",
        "detached",
        "semidetached_house",
        "terrace",
        "dormitory",
        "bungalow",
        "cabin",
        "farm",
        "houseboat",
        "static_caravan",
    }
)
SINGLE_HOUSEHOLD_BUILDINGS = frozenset(
    {"house", "detached", "bungalow", "cabin", "farm", "houseboat", "static_caravan"}
)
LOW_RISE_BUILDINGS = frozenset({"house", "detached", "semidetached_house", "terrace", "bungalow", "farm"})
# building=yes/block is taken as housing unless one of these says otherwise (a shop, an office, a church ...).
NON_RESIDENTIAL_MARKERS = (
    "amenity",
    "shop",
    "office",
    "tourism",
    "leisure",
    "craft",
    "healthcare",
    "historic",
)

DEFAULT_RULES_FILE = Path(__file__).resolve().parent.parent / "data" / "facility_rules.yaml"


def _first_values(series: pd.Series) -> pd.Series:
    """Lower-cased tag values; for ``a;b`` multi-values each part is kept for membership tests."""
    return series.fillna("").astype(str).str.lower().str.strip()


def _any_in(series: pd.Series, values: frozenset[str]) -> np.ndarray:
    parts = series.str.split(";")
    return np.fromiter(
        (any(p.strip() in values for p in row) for row in parts), dtype=bool, count=len(series)
    )


def walkable_mask(edges: pd.DataFrame) -> np.ndarray:
    """Boolean mask over pyrosm network rows: True where the way is open to pedestrians (rules above)."""
    import pandas as pd

    n = len(edges)
    empty = pd.Series([""] * n, index=edges.index)
    highway = _first_values(edges.get("highway", empty))
    foot = _first_values(edges.get("foot", empty))
    access = _first_values(edges.get("access", empty))
    service = _first_values(edges.get("service", empty))

    foot_yes = _any_in(foot, FOOT_ALLOWED) & ~_any_in(foot, FOOT_DENIED)
    foot_no = _any_in(foot, FOOT_DENIED)
    closed = (_any_in(access, ACCESS_CLOSED) | (service == "private").to_numpy()) & ~foot_yes
    walkable_kind = highway.isin(WALKABLE_HIGHWAYS).to_numpy()
    needs_permission = highway.isin(FOOT_TAG_REQUIRED).to_numpy()
    return ~foot_no & ~closed & (walkable_kind | (needs_permission & foot_yes))


_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SIGNED = re.compile(r"-?\d+(?:\.\d+)?")
# tunnel=* values that are below ground; building_passage and avalanche_protector run at street level
UNDERGROUND_TUNNELS = {"yes", "culvert", "flooded"}


def _below_zero(values: pd.Series) -> np.ndarray:
    """True where a layer/level tag (``-1``, ``-2;-1``) is below 0 throughout."""

    def below(value: Any) -> bool:
        numbers = (
            [float(x) for x in _SIGNED.findall(str(value))] if isinstance(value, str | int | float) else []
        )
        return bool(numbers) and max(numbers) < 0

    return np.array([below(v) for v in values], dtype=bool)


def underground_mask(edges: pd.DataFrame) -> np.ndarray:
    """Boolean mask over walkable network rows: True where the way runs below ground (``tunnel=yes``, or a
    negative ``layer`` or ``level``). Such edges route, but surface points do not snap to them first."""
    import pandas as pd

    n = len(edges)
    empty = pd.Series([""] * n, index=edges.index)
    tunnel = _first_values(edges.get("tunnel", empty)).isin(UNDERGROUND_TUNNELS).to_numpy()
    return tunnel | _below_zero(edges.get("layer", empty)) | _below_zero(edges.get("level", empty))


def parse_levels(value: Any) -> float | None:
    """Floors from ``building:levels`` (``"5"``, ``"4;5"``, ``"3-4"`` → the largest); None when absent."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    numbers = [float(x) for x in _NUMBER.findall(str(value))]
    numbers = [x for x in numbers if 0 < x <= 200]
    return max(numbers) if numbers else None


def is_residence(tags: dict[str, Any]) -> bool:
    """Whether a building is a home (see :data:`RESIDENTIAL_BUILDINGS` and :data:`NON_RESIDENTIAL_MARKERS`)."""
    building = str(tags.get("building") or "").lower()
    if building in RESIDENTIAL_BUILDINGS:
        return True
    if building in ("yes", "block"):
        use = str(tags.get("building:use") or "").lower()
        if use and use not in ("residential", "apartments"):
            return False
        return not any(tags.get(key) for key in NON_RESIDENTIAL_MARKERS)
    return False


def estimate_households(
    building: str, footprint_m2: float, levels: float | None, dwelling_m2: float, default_levels: float
) -> float:
    """Households in a home: ``footprint_m2 × levels ÷ dwelling_m2``, at least 1.

    Single-family kinds (house, detached, cabin ...) are 1; low-rise kinds default to 2 floors and
    everything else to ``default_levels`` when ``building:levels`` is missing.
    """
    building = (building or "").lower()
    if building in SINGLE_HOUSEHOLD_BUILDINGS:
        return 1.0
    if levels is None:
        levels = 2.0 if building in LOW_RISE_BUILDINGS else default_levels
    return max(1.0, round(footprint_m2 * levels / dwelling_m2, 1))


@dataclass(frozen=True)
class Category:
    id: str
    zh: str
    en: str
    rules: tuple[dict[str, Any], ...]


class FacilityRules:
    """OSM tag → facility category rules from a YAML file (first matching category wins)."""

    def __init__(self, categories: list[Category]) -> None:
        self.categories = categories

    @classmethod
    def load(cls, path: Path | None = None) -> FacilityRules:
        return _load_rules(str(path or DEFAULT_RULES_FILE))

    def classify(self, tags: dict[str, Any]) -> str | None:
        for category in self.categories:
            for rule in category.rules:
                if all(_tag_matches(tags.get(key), wanted) for key, wanted in rule.items()):
                    return category.id
        return None

    def pyrosm_filter(self) -> dict[str, Any]:
        """A pyrosm ``custom_filter`` (keep) that reads every element a rule could match.

        The first key of each rule is its selector; the other keys only narrow it down.
        """
        selected: dict[str, Any] = {}
        for category in self.categories:
            for rule in category.rules:
                key, wanted = next(iter(rule.items()))
                if wanted is True or selected.get(key) is True:
                    selected[key] = True
                else:
                    values = wanted if isinstance(wanted, list) else [wanted]
                    selected[key] = sorted(set(selected.get(key, [])) | {str(v) for v in values})
        return selected

    def labels(self, lang: str = "zh") -> dict[str, str]:
        return {c.id: (c.zh if lang == "zh" else c.en) for c in self.categories}


def _tag_matches(value: Any, wanted: Any) -> bool:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return False
    if wanted is True:
        return True
    values = [str(v).lower() for v in (wanted if isinstance(wanted, list) else [wanted])]
    return any(part.strip().lower() in values for part in str(value).split(";"))


@lru_cache(maxsize=8)
def _load_rules(path: str) -> FacilityRules:
    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    categories = []
    for cat_id, spec in (raw or {}).get("categories", {}).items():
        rules = tuple(dict(rule) for rule in spec.get("rules", []))
        if not rules:
            raise ValueError(f"facility category {cat_id!r} in {path} has no rules")
        categories.append(Category(cat_id, spec.get("zh", cat_id), spec.get("en", cat_id), rules))
    if not categories:
        raise ValueError(f"{path} defines no facility categories")
    return FacilityRules(categories)
