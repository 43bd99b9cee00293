"""Settings: every one documented, and the generated reference in docs/ current."""

from __future__ import annotations

from pathlib import Path

from geo_service.settings import all_settings, reference_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_every_setting_is_described() -> None:
    missing = [
        f"{cls.__name__}.{name}"
        for cls in all_settings()
        for name, info in cls.model_fields.items()
        if not (info.description or "").strip()
    ]
    assert missing == []


def test_reference_is_current() -> None:
    assert DOCS.read_text(encoding="utf-8") == reference_markdown(), (
        "docs/configuration.md is stale: run `geo-service config reference > docs/configuration.md`"
    )
