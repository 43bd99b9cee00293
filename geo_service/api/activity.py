"""Requests in flight, for the start-up warm-up (:class:`geo_service.background.StartUp`): the part of it that
is not needed to answer waits until the process is quiet. Plain ASGI middleware; once the warm-up is over (or
in a process without one) it only passes requests on."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

# probes are not traffic: an orchestrator polling /readyz must not hold the warm-up back
NOT_COUNTED = frozenset({"/healthz", "/readyz"})


class RequestActivity:
    """Tell ``app.state.start_up`` (when set and still waiting) when each HTTP request starts and ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start_up = getattr(scope["app"].state, "start_up", None) if scope["type"] == "http" else None
        if start_up is None or start_up.finished or scope["path"] in NOT_COUNTED:
            await self.app(scope, receive, send)
            return
        start_up.request_started()
        try:
            await self.app(scope, receive, send)
        finally:
            start_up.request_ended()
