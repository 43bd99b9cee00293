"""What the station services need besides the database: settings, vocabulary, time zone and clock (its own
module so that :mod:`~geo_service.stations.service` and :mod:`~geo_service.stations.inspections`, which both use
it, need not import each other)."""

from __future__ import annotations

from dataclasses import dataclass

from geo_service.clock import Clock, system_clock
from geo_service.settings import StationSettings, WalkingSettings
from geo_service.stations.vocabulary import Vocabulary, load_vocabulary


@dataclass(frozen=True)
class StationContext:
    """What the station services need besides the database: settings, vocabulary, time zone and the clock
    that says what "open now" means."""

    settings: StationSettings
    walking: WalkingSettings
    vocabulary: Vocabulary
    timezone: str
    clock: Clock = system_clock

    @classmethod
    def create(
        cls,
        timezone: str,
        settings: StationSettings | None = None,
        walking_cfg: WalkingSettings | None = None,
        clock: Clock | None = None,
    ) -> StationContext:
        settings = settings or StationSettings()
        return cls(
            settings,
            walking_cfg or WalkingSettings(),
            load_vocabulary(settings.vocabulary),
            timezone,
            clock or system_clock,
        )
