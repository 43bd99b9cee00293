"""Life-circle profiles: a planning standard as a data file (YAML), one file a profile.

A profile has levels (5, 10, 15 minutes ...), each with its threshold — a walking distance
(``threshold: distance``, ``max_distance_m``) or a walking time (``threshold: time``, the level's minutes at
the profile's ``speed_kmh``) — and the facility categories it requires. Levels are not nested: each level's
own list is required at its own threshold. Bundled: ``gb50180`` (GB 50180-2018, distances), ``walk45``
(time at 4.5 km/h) and ``elderly`` (time at 3.0 km/h). Users add files in ``GEO_SERVICE_LIFE_CIRCLE_PROFILES_DIR``
without touching code; a file there with a bundled id replaces it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from geo_service.life_circle.answers import ProfileSummary

BUNDLED_DIR = Path(__file__).resolve().parents[1] / "data" / "profiles"


class Level(BaseModel):
    """One life-circle level: its nominal minutes, threshold and required categories."""

    minutes: float = Field(gt=0, le=120)
    max_distance_m: float | None = Field(default=None, gt=0, le=20_000)
    name: dict[str, str] = Field(default_factory=dict)
    categories: list[str] = Field(min_length=1)

    @field_validator("categories")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a category is listed twice in one level")
        return value


class Profile(BaseModel):
    """A life-circle profile (see the module docstring)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    name: dict[str, str] = Field(default_factory=dict)
    threshold: Literal["distance", "time"]
    speed_kmh: float = Field(default=4.5, gt=0, le=30)
    levels: list[Level] = Field(min_length=1)

    @model_validator(mode="after")
    def _thresholds(self) -> Profile:
        for level in self.levels:
            if self.threshold == "distance" and level.max_distance_m is None:
                raise ValueError(f"level {level.minutes:g} min needs max_distance_m (threshold: distance)")
        return self

    @property
    def speed_mps(self) -> float:
        return self.speed_kmh / 3.6

    def limit_m(self, level: Level) -> float:
        """The level's threshold in the search's cost unit: metres (distance) or effective metres (time)."""
        if self.threshold == "distance":
            return float(level.max_distance_m or 0)
        return level.minutes * 60.0 * self.speed_mps

    def max_distance_m(self, level: Level) -> float:
        """The distance the API reports for a level (for time thresholds: minutes × speed)."""
        return round(
            level.max_distance_m
            if self.threshold == "distance" and level.max_distance_m
            else level.minutes * 60.0 * self.speed_mps,
            1,
        )

    @property
    def kind(self) -> str:
        """Which network cost the profile searches: ``distance`` (metres) or ``time`` (steps slower)."""
        return self.threshold

    @property
    def categories(self) -> list[str]:
        seen: dict[str, None] = {}
        for level in self.levels:
            for c in level.categories:
                seen.setdefault(c)
        return list(seen)

    def tightest_level(self, category: str) -> Level:
        """The level with the smallest threshold among those requiring ``category``."""
        levels = [lv for lv in self.levels if category in lv.categories]
        return min(levels, key=self.limit_m)

    def summary(self) -> ProfileSummary:
        return {
            "id": self.id,
            "name": self.name,
            "threshold": self.threshold,
            "speed_kmh": self.speed_kmh,
            "levels": [
                {
                    "minutes": lv.minutes,
                    "max_distance_m": self.max_distance_m(lv),
                    "name": lv.name,
                    "categories": lv.categories,
                }
                for lv in self.levels
            ],
        }


def _read(path: Path) -> Profile:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        profile = Profile.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ValueError(f"profile file {path}: {exc}") from None
    if profile.id != path.stem:
        raise ValueError(f"profile file {path}: id {profile.id!r} must equal the file name")
    return profile


def load_profiles(extra_dir: Path | None, categories: set[str]) -> dict[str, Profile]:
    """Bundled profiles plus those in ``extra_dir``; every category must be a known facility category."""
    profiles: dict[str, Profile] = {}
    for folder in (BUNDLED_DIR, extra_dir):
        if folder is None or not Path(folder).is_dir():
            continue
        for path in sorted(Path(folder).glob("*.yaml")):
            profile = _read(path)
            unknown = sorted(set(profile.categories) - categories)
            if unknown:
                raise ValueError(f"profile file {path}: unknown facility categories {unknown}")
            profiles[profile.id] = profile
    return profiles
