"""Messages people read, in their language: gettext catalogues keyed by stable codes.

Every text the service shows a person (API errors, validation problems, notes, CLI errors) is a
:class:`Message`: a stable dotted ``code`` (``grid.overlap``) and the values that fill its placeholders. The
words live in gettext catalogues under ``geo_service/i18n/locale/<lang>/LC_MESSAGES/<domain>.po`` (read with
Babel), one file per domain (``common``, ``grids``, ``incidents`` ...) and language: ``msgid`` is the code,
``msgstr`` the text with ``{name}`` placeholders. Services
raise and return messages; the HTTP layer renders them in the language the caller negotiated
(``Accept-Language``, deployment default ``zh-CN``), the CLI in ``GEO_SERVICE_LANGUAGE``.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
LOCALE_DIR = Path(__file__).with_name("locale")
CODE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_FOLDER = {"zh-CN": "zh_CN", "en": "en"}
_LIST_SEPARATOR = {"zh-CN": "、", "en": ", "}


@cache
def catalogue(language: str) -> dict[str, str]:
    """code → message template of one language, from every domain's catalogue (read once per process)."""
    templates: dict[str, str] = {}
    for path in sorted((LOCALE_DIR / _FOLDER[language] / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as handle:
            po = read_po(handle, locale=_FOLDER[language], domain=path.stem)
        templates.update({str(m.id): str(m.string) for m in po if m.id and m.string})
    return templates


def placeholders(template: str) -> set[str]:
    """The ``{name}`` fields of a template."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def known(code: object) -> bool:
    """Whether ``code`` names a message of the catalogues."""
    return isinstance(code, str) and code in catalogue(DEFAULT_LANGUAGE)


class _Fill(dict[str, Any]):
    """Placeholder values; a missing one stays visible as ``{name}`` instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _value(value: Any, language: str) -> Any:
    if isinstance(value, Message):
        return value.render(language)
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return _LIST_SEPARATOR[language].join(str(_value(v, language)) for v in items)
    return value


def translate(code: str, language: str = DEFAULT_LANGUAGE, params: Mapping[str, Any] | None = None) -> str:
    """The text of ``code`` in ``language`` with ``params`` filled in; the code itself when no catalogue has it."""
    language = language if language in LANGUAGES else DEFAULT_LANGUAGE
    template = catalogue(language).get(code) or catalogue("en").get(code)
    if template is None:
        return code
    fill = _Fill({k: _value(v, language) for k, v in (params or {}).items()})
    return template.format_map(fill)


@dataclass(frozen=True)
class Message:
    """A text for people: a catalogue ``code`` and the values of its placeholders."""

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def render(self, language: str = DEFAULT_LANGUAGE) -> str:
        return translate(self.code, language, self.params)

    def __str__(self) -> str:
        return self.render("en")

    # An answer's typed dict may hold messages (the HTTP layer renders them): /openapi.json shows the text.
    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.is_instance_schema(
            cls, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "description": "text in the negotiated language (Accept-Language)"}


def message(code: str, /, **params: Any) -> Message:
    return Message(code, params)


def negotiate(accept_language: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """The best of :data:`LANGUAGES` for an ``Accept-Language`` header (RFC 9110 quality values); any Chinese
    variant reads the zh-CN catalogue; ``default`` when nothing matches."""
    if not accept_language:
        return default
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")[:20]):
        tag, _, rest = part.strip().partition(";")
        quality = 1.0
        if rest.strip().startswith("q="):
            try:
                quality = float(rest.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag.strip().lower()))
    for negative_quality, _, tag in sorted(ranked):
        if negative_quality >= 0:
            break
        if tag == "*":
            return default
        primary = tag.split("-")[0]
        if primary == "zh":
            return "zh-CN"
        if primary == "en":
            return "en"
    return default


def render_all(value: Any, language: str) -> Any:
    """``value`` with every :class:`Message` inside it (dicts, lists) rendered as text."""
    if isinstance(value, Message):
        return value.render(language)
    if isinstance(value, dict):
        return {k: render_all(v, language) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [render_all(v, language) for v in value]
    return value


def cli_language() -> str:
    """The language of command-line messages: ``GEO_SERVICE_LANGUAGE``, else the locale (``LANG``), else zh-CN."""
    explicit = os.environ.get("GEO_SERVICE_LANGUAGE")
    if explicit:
        return negotiate(explicit)
    locale = os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG") or ""
    return (
        negotiate(locale.split(".")[0].replace("_", "-"))
        if locale not in ("", "C", "POSIX")
        else DEFAULT_LANGUAGE
    )


def cli_text(code: str, **params: object) -> str:
    """Catalogue message ``code`` in the command line's language: CLI output and progress-bar labels."""
    return translate(code, cli_language(), params)
