"""Domain errors. Services raise these; the API maps each to one HTTP status in one table
(:mod:`geo_service.api.errors`), so no service knows about HTTP."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base of every error that a caller caused and can fix."""

    def __init__(self, detail: Any, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail if isinstance(detail, str) else repr(detail))
        self.detail = detail
        self.extra = extra or {}  # more top-level fields for the error body, beside "detail"


class InvalidInput(ServiceError):
    """The request is well-formed but its content is wrong (422)."""


class BadRequest(ServiceError):
    """The request itself is malformed: bad parameters, unreadable file (400)."""


class Forbidden(ServiceError):
    """The caller's role may not do this (403)."""


class NotFound(ServiceError):
    """No such thing (404)."""


class Conflict(ServiceError):
    """The change clashes with the current state (409)."""


class PreconditionFailed(ServiceError):
    """If-Match names a version that is no longer current (412)."""


class PayloadTooLarge(ServiceError):
    """The request body or file exceeds the configured limit (413)."""


class UnsupportedMediaType(ServiceError):
    """The body is not in a format we read (415)."""


class ServiceUnavailable(ServiceError):
    """Something the service needs is missing on this machine, e.g. a font package (503)."""
