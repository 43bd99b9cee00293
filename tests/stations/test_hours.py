"""Opening hours: parsing errors, overnight ranges, public holidays, time zones."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from geo_service.errors import InvalidInput
from geo_service.stations import hours

SHANGHAI = "Asia/Shanghai"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(SHANGHAI))


def test_bad_syntax_names_the_error():
    with pytest.raises(InvalidInput, match="not valid OpenStreetMap syntax"):
        hours.check("Mo-Fx 08:00-18:00")
    assert hours.check("  Mo-Su 07:00-21:00 ") == "Mo-Su 07:00-21:00"
    assert hours.check("") is None


def test_overnight_range_runs_into_the_next_day():
    rule = "Mo-Fr 22:00-06:00"
    assert hours.is_open(rule, at("2026-12-04T23:30"), SHANGHAI, "CN") is True  # Friday night
    assert hours.is_open(rule, at("2026-12-05T03:00"), SHANGHAI, "CN") is True  # Saturday small hours
    assert hours.is_open(rule, at("2026-12-06T03:00"), SHANGHAI, "CN") is False  # Sunday small hours
    assert hours.is_open(rule, at("2026-12-02T12:00"), SHANGHAI, "CN") is False


def test_public_holidays_off():
    rule = "Mo-Su 08:00-20:00; PH off"
    assert hours.is_open(rule, at("2026-10-01T12:00"), SHANGHAI, "CN") is False  # National Day
    assert hours.is_open(rule, at("2026-10-09T12:00"), SHANGHAI, "CN") is True


def test_time_zone_of_the_deployment():
    utc_morning = datetime(2026, 12, 1, 1, 0, tzinfo=ZoneInfo("UTC"))  # 09:00 in Shanghai
    assert hours.is_open("Mo-Fr 08:00-18:00", utc_morning, SHANGHAI, "CN") is True
    assert hours.is_open("Mo-Fr 08:00-18:00", utc_morning, "Europe/Helsinki", None) is False  # 03:00 there


def test_unknown_hours():
    assert hours.is_open(None, at("2026-12-01T12:00"), SHANGHAI, "CN") is None
    assert hours.is_open("Mo-Su unknown", at("2026-12-01T12:00"), SHANGHAI, "CN") is None
