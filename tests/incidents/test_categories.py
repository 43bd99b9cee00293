"""The classification data file: codes, names in two languages, deadlines per level, and bad files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from geo_service.errors import InvalidInput
from geo_service.incidents.categories import LEVELS, Classification, load_classification


def test_bundled_classification_has_events_and_components_with_deadlines() -> None:
    classes = load_classification()
    majors = {c.name for c in classes if c.is_major}
    assert {"市容环境", "宣传广告", "施工管理", "突发事件", "街面秩序", "公用设施"} <= majors
    assert {c.kind for c in classes} == {"event", "component"}
    for category in classes:
        assert set(category.deadline_hours) == set(LEVELS)
        assert category.deadline("grid") <= category.deadline("district")


def test_resolve_by_code_chinese_and_english_name() -> None:
    classes = load_classification()
    assert classes.resolve("E0102").name == "暴露垃圾"
    assert classes.resolve(" 暴露垃圾 ").code == "E0102"
    assert classes.resolve("exposed RUBBISH").code == "E0102"
    assert classes.resolve("e0102").code == "E0102"
    # 市容环境 is both an event and a component class: events come first (hotline reports are events)
    assert classes.resolve("市容环境").kind == "event"
    with pytest.raises(InvalidInput, match="unknown category"):
        classes.resolve("飞碟降落")


def test_minor_classes_inherit_and_override_deadlines() -> None:
    classes = load_classification()
    emergency = classes.resolve("突发事件")
    gas = classes.resolve("燃气管道破裂")
    collapse = classes.resolve("路面塌陷")
    assert collapse.deadline_hours == emergency.deadline_hours  # inherited
    assert gas.deadline("grid") == timedelta(minutes=30)  # its own, stricter
    exposed = classes.resolve("E0102")  # overrides grid/community/street, inherits district
    assert exposed.deadline("grid") == timedelta(hours=4)
    assert exposed.deadline("district") == classes.resolve("E01").deadline("district")


HOURS = "{grid: 1, community: 1, street: 1, district: 1}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("classes: [{code: E01, kind: event, name: x}]", "no deadline"),
        (f"classes: [{{code: E01, kind: rumour, name: x, deadline_hours: {HOURS}}}]", "kind must be"),
        ("classes: [{code: E01, kind: event, name: x, deadline_hours: {grid: -1}}]", "positive"),
        ("classes: [{code: E01, kind: event, name: x, deadline_hours: {city: 1}}]", "unknown level"),
        (
            f"classes: [{{code: E01, kind: event, name: x, deadline_hours: {HOURS}, subclasses: [{{code: E01, "
            "name: y}]}]",
            "used twice",
        ),
        ("just text", "expected a mapping"),
    ],
)
def test_bad_classification_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "classes.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        Classification.load(path)


def test_a_city_can_use_its_own_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "classes:\n  - {code: X1, kind: event, name: 井盖丢失, name_en: Missing cover,\n"
        "     deadline_hours: {grid: 1, community: 2, street: 3, district: 4}}\n",
        encoding="utf-8",
    )
    mine = Classification.load(path)
    assert len(mine) == 1 and mine.resolve("missing cover").deadline("street") == timedelta(hours=3)
