"""Domain errors. Services raise these; the API maps each to one HTTP status in one table
(:mod:`geo_service.api.errors`), so no service knows about HTTP.

Every error names its message by a stable catalogue code and passes the values of the placeholders::

    raise InvalidInput("station.unknown_amenities", unknown=["jacuzzi"])

The API answers ``{"code", "message", "detail"}``: ``message`` in the caller's language, ``detail`` the English
text (kept for clients written against the first round of the API) or the structured list it was given.
"""

from __future__ import annotations

from typing import Any, ClassVar

from geo_service.i18n import Message, known, translate


class ServiceError(Exception):
    """Base of every error that a caller caused and can fix.

    ``code`` names the message in the catalogues (:mod:`geo_service.i18n`) and ``params`` fill it in.
    ``detail`` replaces the English text in the body's ``detail`` (e.g. a list of problems); ``extra`` adds
    top-level fields beside it (e.g. ``candidates``).
    """

    default_code: ClassVar[str] = "request.invalid"

    def __init__(
        self, code: str, /, detail: Any = None, *, extra: dict[str, Any] | None = None, **params: Any
    ) -> None:
        if not known(code):
            # not a catalogue code: free text from code written before the catalogues (or a bad code)
            detail, params, code = (code if detail is None else detail), {}, self.default_code
        self.code = code
        self.params = params
        self.message = Message(code, params)
        self.detail = detail if detail is not None else translate(code, "en", params)
        self.extra = extra or {}
        super().__init__(self.detail if isinstance(self.detail, str) else f"{code}: {self.detail!r}")


class InvalidInput(ServiceError):
    """The request is well-formed but its content is wrong (422)."""

    default_code = "request.invalid"


class BadRequest(ServiceError):
    """The request itself is malformed: bad parameters, unreadable file (400)."""

    default_code = "request.malformed"


class Unauthorized(ServiceError):
    """No credentials, or credentials that are unknown, revoked or expired (401)."""

    default_code = "auth.invalid_token"


class Forbidden(ServiceError):
    """The caller's role may not do this (403)."""

    default_code = "auth.forbidden"


class NotFound(ServiceError):
    """No such thing (404)."""

    default_code = "request.not_found"


class Conflict(ServiceError):
    """The change clashes with the current state (409)."""

    default_code = "request.conflict"


class PreconditionFailed(ServiceError):
    """If-Match names a version that is no longer current (412)."""

    default_code = "request.stale_version"


class PreconditionRequired(ServiceError):
    """A versioned write came without If-Match (428)."""

    default_code = "request.if_match_required"


class PayloadTooLarge(ServiceError):
    """The request body or file exceeds the configured limit (413)."""

    default_code = "request.too_large"


class UnsupportedMediaType(ServiceError):
    """The body is not in a format we read (415)."""

    default_code = "request.unsupported_media_type"


class TooManyRequests(ServiceError):
    """The caller exceeded a rate limit (429); ``retry_after_s`` says when to come back."""

    default_code = "request.rate_limited"

    def __init__(self, code: str, /, *, retry_after_s: float, **params: Any) -> None:
        super().__init__(code, retry_after_s=int(retry_after_s + 0.999), **params)
        self.retry_after_s = retry_after_s


class ServerBusy(TooManyRequests):
    """All slots for this kind of work are taken (503); ``retry_after_s`` says when to come back."""

    default_code = "request.busy"


class ServiceUnavailable(ServiceError):
    """Something the service needs is missing on this machine, e.g. a font package (503)."""

    default_code = "service.unavailable"
