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
    scores = {
        name: match_score(query, name)
        for name in (
            "中山路12号",
            "中山路21号",
            "中山路120号",
            "中山路",
            "中山北路12号",
            "北京市东城区中山路12号",
        )
    }
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


def test_fold_and_keys() -> None:
    from geo_service.geocode.text import fold, name_key, pinyin_keys

    assert name_key("赫爾辛基 中央車站") == "赫尔辛基中央车站"  # traditional → simplified, spaces dropped
    assert name_key("幸福里小區３棟２單元") == "幸福里小区3栋2单元"  # full-width digits, traditional counters
    assert name_key("天河路12—3號") == "天河路12-3号"  # a dash between numbers stays one hyphen
    assert name_key("朝霞三巷") == "朝霞三巷"  # a lane's numeral is part of its name
    assert fold("中山路三百八十五号") == "中山路385号"
    assert fold("中山路三百八十五号", numerals=False) == "中山路三百八十五号"
    assert pinyin_keys("重庆路12号") == ("chongqinglu12hao", "cql12h")  # phrase-aware: 重庆 is chong qing
    assert pinyin_keys("mannerheimintie5") == (None, None)


def test_parse_the_structure_of_chinese_addresses() -> None:
    from geo_service.geocode.parse import parse

    full = parse("广东省广州市天河区石牌街道华师社区天河路385号幸福里小区3栋2单元1201室")
    assert full.admin == ("广东省", "广州市", "天河区")
    assert (full.subdistrict, full.community, full.road, full.number) == (
        "石牌街道",
        "华师社区",
        "天河路",
        "385",
    )
    assert (full.compound, full.building, full.unit, full.room) == ("幸福里", "3", "2", "1201")
    assert parse("中山路12号").admin == ()  # 中山 is a city only where the text says 中山市
    assert parse("中山市中山路12号").admin == ("中山市",)
    assert parse("广州天河区天河路385号").admin == ("广州市", "天河区")  # 广州 counts: a district follows
    assert parse("员村大街41号").road == "员村大街"  # not the village 员村 and a road called 大街
    assert (parse("幸福里3栋").compound, parse("幸福里3栋").building) == ("幸福里", "3")
    assert parse("中山大道西8号").road == "中山大道西"
    assert parse("人民公园对面").place == "人民公园"
    latin = parse("Mannerheimintie 5")
    assert (latin.road, latin.number, latin.latin) == ("mannerheimintie", "5", True)
    assert (parse("tian he lu 385 hao").road, parse("tian he lu 385 hao").number) == ("tianhelu", "385")


def test_precision_of_entries() -> None:
    from geo_service.geocode.keys import keys_for

    assert keys_for("gazetteer", "address", "天河路385号").precision == "house_number"
    assert keys_for("gazetteer", "building", "幸福里小区3栋").precision == "building"
    assert keys_for("gazetteer", "building", "赫爾辛基中央車站").precision == "poi"  # a named building
    assert keys_for("gazetteer", "street", "天河路").precision == "street"
    assert keys_for("gazetteer", "place:city", "赫爾辛基").precision == "city"
    assert keys_for("gazetteer", "place:suburb", "天河区").precision == "area"
    assert keys_for("area", "street", "石牌街道").precision == "area"  # a 街道 area, not a road
    osm = keys_for(
        "gazetteer", "address", "Kaivokatu 1", {"addr:street": "Kaivokatu", "addr:housenumber": "1"}
    )
    assert (osm.road, osm.house_number) == ("kaivokatu", "1")


def test_admin_prefix_without_cpca() -> None:
    """The fallback when cpca cannot load: only divisions written in full with their suffixes."""
    from geo_service.geocode.parse import _admin_prefix_by_suffix

    assert _admin_prefix_by_suffix("广东省广州市天河区天河路385号") == (("广东省", "广州市", "天河区"), 9)
    assert _admin_prefix_by_suffix("中山路12号") == ((), 0)
