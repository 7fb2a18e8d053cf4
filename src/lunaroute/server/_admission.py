"""The global in-flight request cap: API requests past `http_server.max_in_flight_requests` get 503."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from lunaroute.dialects.errors import error_body, error_headers
from lunaroute.errors import Overloaded
from lunaroute.observability import Metrics
from lunaroute.types import Dialect

__all__ = ["RETRY_AFTER_SECS", "Handler", "admitted", "dialect_of"]

RETRY_AFTER_SECS = 1.0
"""The `retry-after` of a shed request: in-flight requests of an LLM gateway end within seconds to minutes, and
a client retrying after a second finds a free slot as soon as one is."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def dialect_of(request: web.Request) -> Dialect:
    """The dialect to answer in before the request is classified: Anthropic's paths or headers, else OpenAI's."""
    if request.path.startswith("/v1/messages") or "anthropic-version" in request.headers:
        return "anthropic"
    return "openai"


def admitted(handler: Handler, cap: int | None, metrics: Metrics) -> Handler:
    """`handler` with at most `cap` calls under way at once (streams count until they end); a call past the cap
    is answered 503 `overloaded` with `retry-after` in the caller's dialect, without running `handler`."""
    if cap is None:
        return handler
    in_flight = 0

    async def admit(request: web.Request) -> web.StreamResponse:
        nonlocal in_flight
        if in_flight >= cap:
            dialect = dialect_of(request)
            metrics.request_shed(dialect)
            error = Overloaded(
                f"the gateway is answering {cap} requests, its limit; retry shortly", retry_after=RETRY_AFTER_SECS
            )
            return web.Response(status=error.status, body=error_body(dialect, error), headers=error_headers(error))
        in_flight += 1
        try:
            return await handler(request)
        finally:
            in_flight -= 1

    return admit
