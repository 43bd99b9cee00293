"""Request body size limit, as plain ASGI middleware (no buffering, no per-request task)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo_service.i18n import DEFAULT_LANGUAGE, negotiate, translate


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Answer 413 when Content-Length, or the bytes actually sent, exceed ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
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
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._reject(scope, send, 413, "request.too_large")

    async def _reject(self, scope: Scope, send: Send, status: int, code: str) -> None:
        accept = next(
            (v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"accept-language"), None
        )
        settings = getattr(getattr(scope.get("app"), "state", None), "api_settings", None)
        language = negotiate(accept, getattr(settings, "language", DEFAULT_LANGUAGE))
        params = {"limit_bytes": f"{self.max_bytes:,}"}
        body = json.dumps({"code": code, "message": translate(code, language, params),
                           "detail": translate(code, "en", params)}, ensure_ascii=False).encode()  # fmt: skip
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})
