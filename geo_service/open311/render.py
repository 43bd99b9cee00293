"""Open311 documents as XML (the spec's base format) or JSON (its Spark-convention mapping).

XML is schemaless and without a namespace, UTF-8 with the XML declaration; lists are wrapped in their plural
element (``<services><service>…``), booleans are ``true``/``false``, missing values are empty elements.
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

from fastapi.responses import Response

from geo_service.open311.documents import Open311Error

FORMATS = ("json", "xml")
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'  # as the spec writes it
MEDIA_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# plural element → element of each item
ITEM_NAMES = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(element: ElementTree.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(ElementTree.SubElement(element, key), child)
    elif isinstance(value, list):
        item_name = ITEM_NAMES.get(element.tag, "item")
        for item in value:
            _fill(ElementTree.SubElement(element, item_name), item)
    else:
        element.text = _text(value)


def to_xml(root: str, value: Any) -> bytes:
    """``value`` (a list or a dict) under a ``root`` element, with the XML declaration."""
    element = ElementTree.Element(root)
    _fill(element, value)
    return XML_DECLARATION + ElementTree.tostring(element, encoding="unicode").encode("utf-8")


def render(fmt: str, root: str, value: Any, status_code: int = 200, private: bool | None = None) -> Response:
    """A response in ``fmt``; ``root`` names the XML root element (the JSON is the bare value). ``private``
    (what a token unlocked) is marked so that no shared cache keeps it; ``private=False`` marks a public answer
    that another token would change (``Vary``)."""
    headers = None if private is None else {"Vary": "Authorization"}
    if private:
        headers = {"Cache-Control": "private, no-cache", "Vary": "Authorization"}
    if fmt == "xml":
        return Response(
            to_xml(root, value), status_code=status_code, media_type=MEDIA_TYPES["xml"], headers=headers
        )
    body = json.dumps(value, ensure_ascii=False).encode("utf-8")
    return Response(body, status_code=status_code, media_type=MEDIA_TYPES["json"], headers=headers)


def render_errors(fmt: str, status_code: int, descriptions: list[str]) -> Response:
    """The spec's error document: ``[{"code", "description"}]`` / ``<errors><error>…``."""
    errors: list[Open311Error] = [{"code": status_code, "description": text} for text in descriptions]
    return render(fmt if fmt in FORMATS else "json", "errors", errors, status_code)
