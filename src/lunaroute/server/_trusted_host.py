"""The gateway's `Host` check: requests naming a host this listener is not known by get 400 (DNS rebinding)."""

from __future__ import annotations

from aiohttp import web

from lunaroute.dialects.errors import error_body, error_headers
from lunaroute.errors import InvalidRequest
from lunaroute.hosts import HostCheck
from lunaroute.server._admission import Handler, dialect_of

__all__ = ["host_checked"]


def host_checked(handler: Handler, check: HostCheck) -> Handler:
    """`handler`, answering 400 in the caller's dialect instead when the `Host` header is not one `check` allows."""

    async def checked(request: web.Request) -> web.StreamResponse:
        if check.allows(request.headers.get("host")):
            return await handler(request)
        error = InvalidRequest("the Host header names a host this gateway is not configured to answer")
        return web.Response(
            status=error.status, body=error_body(dialect_of(request), error), headers=error_headers(error)
        )

    return checked
