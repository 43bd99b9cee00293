from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from geo_service.osm import rules
from geo_service.osm.extract import format_address
from geo_service.osm.pbf import InvalidPBF, check_pbf


def _mask(rows: list[dict[str, str]]) -> list[bool]:
    return rules.walkable_mask(pd.DataFrame(rows)).tolist()


def test_walking_rules() -> None:
    assert _mask(
        [
            {"highway": "footway"},
            {"highway": "steps"},
            {"highway": "residential"},
            {"highway": "footway", "foot": "no"},
            {"highway": "service", "access": "private"},
            {"highway": "service", "access": "private", "foot": "yes"},
            {"highway": "path", "access": "no;delivery"},
            {"highway": "cycleway"},
            {"highway": "cycleway", "foot": "designated"},
            {"highway": "motorway"},
            {"highway": "primary", "foot": "use_sidepath"},
            {"highway": "service", "service": "private"},
            {"highway": "construction"},
        ]
    ) == [True, True, True, False, False, True, False, False, True, False, False, False, False]


def test_residence_rules_and_households() -> None:
    assert rules.is_residence({"building": "apartments"})
    assert rules.is_residence({"building": "yes"})
    assert not rules.is_residence({"building": "yes", "shop": "supermarket"})
    assert not rules.is_residence({"building": "church"})
    assert rules.estimate_households("house", 400.0, 3, 90.0, 3.0) == 1.0
    assert rules.estimate_households("apartments", 900.0, 5, 90.0, 3.0) == 50.0
    assert rules.estimate_households("yes", 900.0, None, 90.0, 3.0) == 30.0
    assert rules.parse_levels("4;6") == 6.0
    assert rules.parse_levels(None) is None


def test_facility_categories_from_the_rules_file() -> None:
    facility_rules = rules.FacilityRules.load()
    assert facility_rules.classify({"shop": "supermarket"}) == "grocery"
    assert facility_rules.classify({"amenity": "pharmacy"}) == "pharmacy"
    assert (
        facility_rules.classify({"amenity": "social_facility", "social_facility:for": "senior"})
        == "elderly_care"
    )
    assert (
        facility_rules.classify({"amenity": "social_facility", "social_facility": "soup_kitchen"})
        == "canteen"
    )
    assert facility_rules.classify({"highway": "bus_stop"}) == "bus_stop"
    assert facility_rules.classify({"amenity": "bench"}) is None
    selector = facility_rules.pyrosm_filter()
    assert selector["highway"] == ["bus_stop"]
    assert selector["shop"] != [] and "amenity" in selector


def test_custom_rules_file(tmp_path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "categories:\n  vending:\n    zh: 售货机\n    rules:\n      - {amenity: vending_machine}\n"
    )
    assert rules.FacilityRules.load(path).classify({"amenity": "vending_machine"}) == "vending"


def test_addresses_in_both_scripts() -> None:
    assert format_address({"addr:street": "中山路", "addr:housenumber": "12"}) == "中山路12号"
    assert format_address({"addr:street": "Mannerheimintie", "addr:housenumber": "5"}) == "Mannerheimintie 5"
    assert format_address({"addr:street": "Mannerheimintie"}) is None


def test_pbf_check_rejects_truncated_and_foreign_files(tmp_path, helsinki_pbf) -> None:
    assert check_pbf(helsinki_pbf) > 1
    data = Path(helsinki_pbf).read_bytes()
    truncated = tmp_path / "cut.osm.pbf"
    truncated.write_bytes(data[: len(data) // 3])
    with pytest.raises(InvalidPBF, match="truncated"):
        check_pbf(truncated)
    foreign = tmp_path / "text.osm.pbf"
    foreign.write_text("<osm version='0.6'></osm>")
    with pytest.raises(InvalidPBF, match="not an OpenStreetMap PBF"):
        check_pbf(foreign)


def test_underground_ways_are_flagged():
    import pandas as pd

    from geo_service.osm.rules import underground_mask

    ways = pd.DataFrame(
        {
            "tunnel": ["yes", "building_passage", None, None, None, "culvert"],
            "layer": [None, None, "-1", "1", None, None],
            "level": [None, None, None, None, "-2;-1", None],
        }
    )
    assert underground_mask(ways).tolist() == [True, False, True, False, True, True]
