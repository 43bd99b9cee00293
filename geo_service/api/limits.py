"""Request limits, as plain ASGI middleware (no buffering, no per-request task): the body size (413 whether
the client declared a Content-Length or streamed a chunked body), and no NUL character in the path or the
query (PostgreSQL text cannot hold one; refused with 422 before any route sees it)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo_service.i18n import DEFAULT_LANGUAGE, negotiate, translate


class BodySizeLimit:
    """Answer 413 when Content-Length, or the bytes actually sent, exceed ``max_bytes``; 422 for a path or
    query string holding a NUL character (``%00``)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _has_nul(scope):
            await self._reject(scope, send, 422, "input.nul_in_url")
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await self._reject(scope, send, 400, "request.bad_content_length")
                    return
                if declared > self.max_bytes:
                    await self._reject(scope, send, 413, "request.too_large")
                    return
        received = 0
        started = rejected = False

        async def counted_receive() -> Message:
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Answer now, then tell the app the client is gone: it stops reading and whatever it
                    # answers (its body parser turns a disconnect into a 400) is dropped below.
                    rejected = True
                    if not started:
                        await self._reject(scope, send, 413, "request.too_large")
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted_receive, tracking_send)

    async def _reject(self, scope: Scope, send: Send, status: int, code: str) -> None:
        accept = next(
            (v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"accept-language"), None
        )
        settings = getattr(getattr(scope.get("app"), "state", None), "api_settings", None)
        language = negotiate(accept, getattr(settings, "language", DEFAULT_LANGUAGE))
        params = {"limit_bytes": f"{self.max_bytes:,}"}
        if scope.get("path", "").startswith("/open311/"):
            # GeoReport v2 clients read errors as [{"code", "description"}], bad input as 400
            status = 400 if status == 422 else status
            document: object = [{"code": status, "description": translate(code, "en", params)}]
        else:
            document = {
                "code": code,
                "message": translate(code, language, params),
                "detail": translate(code, "en", params),
            }
        body = json.dumps(document, ensure_ascii=False).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _has_nul(scope: Scope) -> bool:
    """Whether the decoded path or query string holds a NUL character."""
    if "\x00" in scope.get("path", ""):
        return True
    query: bytes = scope.get("query_string", b"")
    return b"%00" in query or b"\x00" in query
