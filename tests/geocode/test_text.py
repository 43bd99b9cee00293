"""Ranking text: normalisation, bigrams and house numbers (no database)."""

from __future__ import annotations

from geo_service.geocode.text import dice, match_score, normalize, search_text
from geo_service.settings import IncidentSettings


def test_normalize() -> None:
    assert normalize("  Ｍannerheimintie　５ ") == "mannerheimintie 5"  # full-width, ideographic space
    assert normalize("Töölönkatu") == "toolonkatu"
    assert normalize("中山路十二号") == "中山路12号"
    assert normalize("人民路一百零五号") == "人民路105号"
    assert normalize("第一中学") == "第一中学"  # numerals not before a counter are names, not numbers


def test_search_text_matches_names_as_stored() -> None:
    assert search_text(" 中山路 十二 号 ") == "中山路12号"  # what the gazetteer holds
    assert search_text("Töölönkatu  3") == "Töölönkatu 3"  # pg_trgm folds case, not accents: keep them


def test_dice() -> None:
    assert dice("中山路12号", "中山路12号") == 1.0
    assert dice("中山路", "人民路") == 0.0
    assert 0 < dice("中山路12号", "中山路21号") < 0.5


def test_short_chinese_addresses_rank_by_house_number() -> None:
    query = "中山路12号"
    scores = {name: match_score(query, name) for name in ("中山路12号", "中山路21号", "中山路120号", "中山路",
                                                            "中山北路12号", "北京市东城区中山路12号")}  # fmt: skip
    assert scores["中山路12号"] == 1.0
    # the right street without a number beats a wrong number on the same street
    assert scores["中山路"] > scores["中山路21号"]
    assert scores["中山路"] > scores["中山路120号"]
    # the same address written with its city and district in front still ranks high
    assert scores["北京市东城区中山路12号"] > scores["中山路"]
    assert max(scores, key=scores.get) == "中山路12号"
    # 中山北路 is another road: alike in text, but never good enough to place an incident on its own
    assert scores["中山北路12号"] < IncidentSettings().geocode_min_score


def test_query_with_city_prefix_and_chinese_numerals() -> None:
    assert match_score("北京市东城区中山路12号", "中山路12号") >= 0.7
    assert match_score("中山路十二号", "中山路12号") == 1.0


def test_latin_script() -> None:
    assert match_score("mannerheimintie 5", "Mannerheimintie 5") == 1.0
    assert match_score("Mannerheimintie 5", "Mannerheimintie") > match_score(
        "Mannerheimintie 5", "Mannerheimintie 50"
    )
    assert match_score("kaivokattu 2", "Kaivokatu 2") > 0.9  # a typo
    assert match_score("xyz", "Kaivokatu 2") < 0.2
