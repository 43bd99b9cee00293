"""What every incident service needs: the database, settings, the classification, a clock and a time zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import overload
from zoneinfo import ZoneInfo

from geo_service.clock import Clock, system_clock
from geo_service.db.pool import Database
from geo_service.incidents.categories import Classification, load_classification
from geo_service.settings import IncidentSettings, WalkingSettings


@dataclass(frozen=True)
class IncidentContext:
    db: Database
    settings: IncidentSettings
    classification: Classification
    clock: Clock
    timezone: tzinfo
    walking: WalkingSettings = field(default_factory=WalkingSettings)  # duplicates are measured on foot

    @classmethod
    def create(
        cls,
        db: Database,
        settings: IncidentSettings | None = None,
        clock: Clock | None = None,
        timezone: str = "Asia/Shanghai",
        walking: WalkingSettings | None = None,
    ) -> IncidentContext:
        settings = settings or IncidentSettings()
        return cls(
            db,
            settings,
            load_classification(settings.categories),
            clock or system_clock,
            ZoneInfo(timezone),
            walking or WalkingSettings(),
        )

    @overload
    def local(self, moment: datetime) -> str: ...
    @overload
    def local(self, moment: datetime | None) -> str | None: ...
    def local(self, moment: datetime | None) -> str | None:
        """ISO 8601 in the service's time zone, with its offset (``2024-05-01T09:30:00+08:00``)."""
        return None if moment is None else moment.astimezone(self.timezone).isoformat(timespec="seconds")

    def now(self) -> datetime:
        return self.clock()
