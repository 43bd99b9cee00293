"""The message catalogues: every code in every language with the same placeholders, every error raised by a
code the catalogues know, and error bodies in the negotiated language."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from geo_service.i18n import LANGUAGES, catalogue, negotiate, placeholders, translate

PACKAGE = Path(__file__).resolve().parents[2] / "geo_service"
ERRORS = {
    "ServiceError",
    "InvalidInput",
    "BadRequest",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "Conflict",
    "PreconditionFailed",
    "PreconditionRequired",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "TooManyRequests",
    "ServiceUnavailable",
    "ServerBusy",
}
MESSAGE_FACTORIES = {"message", "Message"}
# Modules whose errors still carry English free text (being moved to catalogue codes). A module leaves this
# list when its last free-text error goes; the test fails if a listed module has none left.
FREE_TEXT_MODULES: set[str] = set()


def _calls(path: Path) -> list[tuple[str, ast.expr | None, int]]:
    """(callee, first argument, line) of every error or message construction in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name in ERRORS | MESSAGE_FACTORIES:
                found.append((name, node.args[0] if node.args else None, node.lineno))
    return found


def _literal_code(arg: ast.expr | None) -> str | None:
    return arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None


def test_every_code_in_every_language_with_the_same_placeholders() -> None:
    """Same codes everywhere; a translation may leave a value out (zh-CN shows no HTTP status) but never
    asks for one the English text does not, since the code passes what the English text needs."""
    codes = {language: set(catalogue(language)) for language in LANGUAGES}
    assert codes["zh-CN"] == codes["en"], {lang: sorted(codes[lang] - codes["en"]) for lang in LANGUAGES}
    for code in codes["en"]:
        assert placeholders(catalogue("zh-CN")[code]) <= placeholders(catalogue("en")[code]), code


def test_chinese_catalogue_is_chinese() -> None:
    """Every zh-CN text has Chinese characters in it (not an English text copied across)."""
    english = [
        c for c, text in catalogue("zh-CN").items() if not any("\u4e00" <= ch <= "\u9fff" for ch in text)
    ]
    assert english == []


def test_every_error_is_raised_by_a_known_code() -> None:
    unknown, free_text = [], set()
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for name, arg, line in _calls(path):
            code = _literal_code(arg)
            if code is not None and code in catalogue("en"):
                continue
            if name in ERRORS and rel in FREE_TEXT_MODULES:
                free_text.add(rel)
                continue
            if code is None and name in MESSAGE_FACTORIES:
                continue  # a code computed from data (role.{name}): checked where the data is defined
            if code is None and isinstance(arg, ast.Attribute) and arg.attr == "code":
                continue  # re-raising a Message (problem.code, **problem.params): checked where it is made
            unknown.append(f"{rel}:{line} {name}({ast.unparse(arg) if arg else ''})")
    assert unknown == [], "errors or messages with codes missing from the catalogues"
    assert free_text == FREE_TEXT_MODULES, (
        f"these modules have no free text left: {FREE_TEXT_MODULES - free_text}"
    )


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "zh-CN"),
        ("", "zh-CN"),
        ("en", "en"),
        ("en-US,en;q=0.9", "en"),
        ("zh-TW,zh;q=0.9", "zh-CN"),
        ("fr-FR, en;q=0.5", "en"),
        ("de", "zh-CN"),
        ("en;q=0, zh;q=0.5", "zh-CN"),
        ("*", "zh-CN"),
        ("en;q=abc", "zh-CN"),
    ],
)
def test_negotiation(header: str | None, language: str) -> None:
    assert negotiate(header) == language


def test_lists_and_missing_values() -> None:
    assert translate("auth.role_not_allowed", "zh-CN", {"role": "x", "allowed": ["a", "b"]}).endswith(
        "a、b。"
    )
    assert "a, b" in translate("auth.role_not_allowed", "en", {"role": "x", "allowed": ["a", "b"]})
    assert "{allowed}" in translate("auth.role_not_allowed", "en", {"role": "x"})
    assert translate("no.such_code", "en") == "no.such_code"


def test_geocoder_kinds_and_precisions_have_names() -> None:
    """Candidate kinds and precisions are shown by name (``kind_name``), computed from data: every one of them
    must be in the catalogues."""
    from geo_service.geocode.keys import PRECISIONS
    from geo_service.geocode.service import AREA_KINDS, KNOWN_KINDS, kind_name

    for language in LANGUAGES:
        texts = catalogue(language)
        assert all(f"geocode.precision.{p}" in texts for p in PRECISIONS)
        assert all(f"geocode.kind.{k}" in texts for k in KNOWN_KINDS)
        assert all(f"geocode.kind.area_{k}" in texts for k in AREA_KINDS)
    assert kind_name("gazetteer", "place:city").render("zh-CN") == "城市"
    assert kind_name("gazetteer", "place:nowhere").render("en") == "place"  # unknown kinds read as a place
    assert kind_name("area", "street").render("zh-CN") == "街道"
