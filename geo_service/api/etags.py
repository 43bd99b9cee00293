"""ETags carry a row's version: ``ETag: "3"``; writes send it back in ``If-Match`` (412 when stale)."""

from __future__ import annotations

import re

from geo_service.errors import BadRequest

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d+)"?\s*$')


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(value: str | None) -> int | None:
    """The version an ``If-Match`` header names (``"3"``, ``W/"3"`` or ``3``); None for absent or ``*``."""
    if value is None or value.strip() in ("", "*"):
        return None
    versions = []
    for part in value.split(","):
        match = _ETAG.match(part)
        if not match:
            raise BadRequest("input.bad_if_match", value=value[:100])
        versions.append(int(match.group(1)))
    return versions[0] if len(set(versions)) == 1 else max(versions)
