"""The command line speaks the user's language: zh-CN unless the locale or GEO_SERVICE_LANGUAGE says otherwise,
and its output comes from the catalogues, not from English literals."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from geo_service.i18n import cli_language, cli_text

CLI_SOURCE = Path(__file__).resolve().parents[2] / "geo_service" / "cli.py"


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, "zh-CN"),
        ({"LANG": "C.UTF-8"}, "zh-CN"),
        ({"LANG": "POSIX"}, "zh-CN"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "zh_TW.UTF-8"}, "zh-CN"),
        ({"LC_ALL": "en_GB.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"LANG": "en_US.UTF-8", "GEO_SERVICE_LANGUAGE": "zh-CN"}, "zh-CN"),
    ],
)
def test_cli_language_follows_the_locale(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], expected: str
) -> None:
    for name in ("GEO_SERVICE_LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert cli_language() == expected


def test_cli_text_renders_in_the_cli_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEO_SERVICE_LANGUAGE", "zh-CN")
    assert cli_text("cli.escalate.done", escalated=2, top=1) == "升级 2 件，已在最高层级仍超期 1 件。"
    monkeypatch.setenv("GEO_SERVICE_LANGUAGE", "en")
    assert cli_text("cli.escalate.done", escalated=2, top=1) == "2 escalated, 1 overdue at the top level"


def test_cli_prints_no_english_literals() -> None:
    """Every line the command line prints goes through the catalogue (placeholders and padding aside)."""
    printed = re.findall(r"typer\.s?echo\(\s*f?\"([^\"]*)\"", CLI_SOURCE.read_text(encoding="utf-8"))
    words = [text for text in printed if re.search(r"[A-Za-z]{2,}", re.sub(r"\{[^}]*\}", "", text))]
    assert words == []
