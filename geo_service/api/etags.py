"""ETags carry a row's version: ``ETag: "3"``; writes send it back in ``If-Match`` (412 when stale). Reads
that send back an ETag they were given in ``If-None-Match`` get a 304 when it still holds (:func:`not_modified`).

Updates and deletes of versioned resources (grids, stations, facilities) must say which version they change:
without ``If-Match`` — or with ``*``, which names no version — the answer is 428, so that two editors can never
silently overwrite each other (a lost update is never the default).
"""

from __future__ import annotations

import re

from geo_service.errors import BadRequest, PreconditionRequired

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d+)"?\s*$')


def etag(version: int) -> str:
    return f'"{version}"'


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (or ``*``): the answer is then a 304. Weak comparison,
    as RFC 9110 asks for GET: ``W/"a"`` and ``"a"`` match each other."""
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag.removeprefix("W/") in tags


def parse_if_match(value: str | None) -> int | None:
    """The version an ``If-Match`` header names (``"3"``, ``W/"3"`` or ``3``); None for absent or ``*``."""
    if value is None or value.strip() in ("", "*"):
        return None
    versions = []
    for part in value.split(","):
        match = _ETAG.match(part)
        if not match:
            raise BadRequest("request.if_match_malformed", value=value)
        versions.append(int(match.group(1)))
    return versions[0] if len(set(versions)) == 1 else max(versions)


def require_if_match(value: str | None) -> int:
    """The version a versioned write names in ``If-Match``; 428 when it names none (absent, empty or ``*``)."""
    version = parse_if_match(value)
    if version is None:
        raise PreconditionRequired("request.if_match_required")
    return version
