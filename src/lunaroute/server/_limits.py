"""Inbound limits: header count and size, body size; read the body within them."""

from __future__ import annotations

import asyncio

from aiohttp import web

from lunaroute.config import HttpServerConfig
from lunaroute.errors import BodyTooLarge, HeadersTooLarge, InvalidRequest, UriTooLong

__all__ = ["check_headers", "read_body"]


def check_headers(request: web.Request, limits: HttpServerConfig) -> list[tuple[str, str]]:
    """Enforce the request-line length (414) and the header count and size limits (431); return the headers as lower-cased `(name, value)` pairs."""
    if len(request.raw_path) + len(request.method) + 11 > limits.max_line_bytes:
        raise UriTooLong(f"the request line is longer than {limits.max_line_bytes} bytes")
    raw = request.raw_headers
    if len(raw) > limits.max_header_count:
        raise HeadersTooLarge(f"more than {limits.max_header_count} request headers")
    total = 0
    line_limit = limits.max_line_bytes
    headers = []
    for name, value in raw:
        size = len(name) + len(value) + 4
        if size > line_limit:
            raise HeadersTooLarge(f"a request header is longer than {line_limit} bytes")
        total += size
        headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))
    if total > limits.max_header_bytes:
        raise HeadersTooLarge(f"request headers exceed {limits.max_header_bytes} bytes")
    return headers


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole request body, refused with 413 as soon as it passes `limit` (before reading, when declared)."""
    declared = request.content_length
    if declared is not None:
        if declared > limit:
            raise BodyTooLarge(f"the request body exceeds {limit} bytes")
        try:
            return await request.content.readexactly(declared)
        except asyncio.IncompleteReadError:
            raise InvalidRequest("the request body ended before its declared length") from None
    parts = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the request body exceeds {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)
