"""What every admin route shares: the admin-key check, JSON answers and errors, bounded JSON bodies."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
from aiohttp import web

from lunaroute.server._gateway import GATEWAY

__all__ = ["MAX_BODY", "admin_only", "error", "json_response", "read_json"]

MAX_BODY = 64 * 1024
_encode = msgspec.json.Encoder().encode

_S = TypeVar("_S", bound=msgspec.Struct)
Handler = Callable[[web.Request], Awaitable[web.Response]]


def error(status: int, kind: str, message: str, **extra: object) -> web.Response:
    return web.Response(
        status=status,
        body=_encode({"error": {"type": kind, "message": message}, **extra}),
        content_type="application/json",
        headers={"cache-control": "no-store"},
    )


def json_response(value: object, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=_encode(value), content_type="application/json", headers={"cache-control": "no-store"}
    )


def admin_only(handler: Handler) -> Handler:
    """Answer 404 without an admin key configured, 401 without the right one; else run `handler`. Bad input
    (`ValueError`, a body that does not decode or validate) is a 400."""

    async def run(request: web.Request) -> web.Response:
        admin_key = request.app[GATEWAY].config.auth.admin_key
        if admin_key is None:
            return error(404, "not_found_error", "not found")
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), admin_key.encode()):
            return error(401, "authentication_error", "the admin API wants Authorization: Bearer <auth.admin_key>")
        try:
            return await handler(request)
        except (ValueError, msgspec.ValidationError, msgspec.DecodeError) as exc:
            return error(400, "invalid_request_error", str(exc))

    return run


async def read_json(request: web.Request, kind: type[_S], *, optional: bool = False) -> _S:
    """The body decoded as `kind` (at most `MAX_BODY` bytes); an empty body is `kind()` when `optional`."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ValueError(f"the body is larger than {MAX_BODY} bytes")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise ValueError(f"the body is larger than {MAX_BODY} bytes")
    if not raw.strip() and optional:
        return kind()
    return msgspec.json.decode(raw, type=kind)
