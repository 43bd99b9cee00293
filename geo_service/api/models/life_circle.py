"""Answers of the life-circle and coverage routes: the service's typed dicts
(:mod:`geo_service.life_circle.answers`), named here for ``/openapi.json``."""

from __future__ import annotations

from pydantic import RootModel

from geo_service.api.models.geojson import FeatureCollection
from geo_service.api.models.typed import extending
from geo_service.life_circle import answers
from geo_service.life_circle.answers import LifeCircle, ProfileSummary

__all__ = ["Coverage", "CoverageGaps", "LifeCircle", "ProfileSummary", "Profiles"]

Coverage = extending(answers.Coverage, FeatureCollection, __name__)
CoverageGaps = extending(answers.CoverageGaps, FeatureCollection, __name__)


class Profiles(RootModel[list[ProfileSummary]]):
    """Every life-circle profile."""
