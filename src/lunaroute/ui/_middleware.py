"""Middlewares of the UI listener: bearer-token auth, and JSON error bodies for every failure.

Errors are `{"error": {"status": n, "message": "..."}}`. A bad parameter is 400, an unreadable store 503;
aiohttp's own 404/405 get the same JSON shape. Every response carries `Cache-Control: no-store` and
`X-Content-Type-Options: nosniff`; no CORS header is ever sent, so browsers keep other origins out.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time

import msgspec
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from lunaroute.hosts import HostCheck
from lunaroute.recording.query import InvalidSessionId, StoreUnavailable
from lunaroute.ui._params import BadParam

__all__ = [
    "AUTH_COOKIE",
    "auth_middleware",
    "cookie_credential",
    "error_middleware",
    "host_middleware",
    "json_error",
    "request_log_middleware",
]

AUTH_COOKIE = "lunaroute_ui"
"""The cookie the web pages set (`?token=`) and that `auth_middleware` accepts instead of the bearer header."""

_log = logging.getLogger("lunaroute.ui")


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = msgspec.json.encode({"error": {"status": status, "message": message}})
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


def _secure(response: web.StreamResponse) -> web.StreamResponse:
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into a JSON error response (outermost middleware)."""
    try:
        return _secure(await handler(request))
    except (BadParam, InvalidSessionId) as exc:
        return _secure(json_error(400, str(exc)))
    except StoreUnavailable as exc:
        _log.warning("session store unavailable: %s", exc)
        return _secure(json_error(503, "the session store is unavailable"))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _secure(
            json_error(exc.status, exc.reason, {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None)
        )


def host_middleware(check: HostCheck) -> Middleware:
    """Answer 400 to a request whose `Host` is not one the UI is known by (a DNS-rebinding page), before auth."""

    @web.middleware
    async def host(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not check.allows(request.headers.get("Host")):
            return json_error(400, "the Host header names a host this UI is not configured to answer")
        return await handler(request)

    return host


def cookie_credential(token: str) -> str:
    """The `AUTH_COOKIE` value for `token`: a digest of it, so the cookie never holds the token itself."""
    return hashlib.sha256(b"lunaroute-ui-cookie\x00" + token.encode("utf-8", "surrogateescape")).hexdigest()


def auth_middleware(token: str) -> Middleware:
    """Require `Authorization: Bearer <token>` or the `AUTH_COOKIE` on every request (constant-time)."""
    expected = token.encode("utf-8")
    expected_cookie = cookie_credential(token).encode("ascii")

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode("utf-8", "surrogateescape"), expected
        )
        ok = ok or hmac.compare_digest(request.cookies.get(AUTH_COOKIE, "").encode("utf-8", "replace"), expected_cookie)
        if not ok:
            return json_error(401, "missing or wrong bearer token", {"WWW-Authenticate": 'Bearer realm="lunaroute"'})
        return await handler(request)

    return check


def request_log_middleware() -> Middleware:
    """`ui.log_requests`: one info line per UI request (method, path, status, milliseconds); the query string
    is left out, since `?token=` may carry the UI's credential."""

    @web.middleware
    async def log_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            ms = (time.perf_counter() - started) * 1000.0
            _log.info(
                "ui request %s %s %d %.1fms",
                request.method,
                request.path,
                status,
                ms,
                extra={"method": request.method, "path": request.path, "status": status, "duration_ms": ms},
            )

    return log_requests
