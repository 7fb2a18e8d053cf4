"""Render the gateway's own errors in the calling dialect's wire shape.

OpenAI: `{"error": {"message", "type", "param", "code"}}`.
Anthropic: `{"type": "error", "error": {"type", "message"}}`.
Errors an upstream sent are never rendered here: they pass through unchanged.
"""

from __future__ import annotations

import msgspec

from lunaroute.errors import LunaRouteError
from lunaroute.types import Dialect

__all__ = ["error_body", "error_headers", "stream_error_event"]

_encode = msgspec.json.Encoder().encode


def error_body(dialect: Dialect, error: LunaRouteError) -> bytes:
    """The JSON body of an error response for a client speaking `dialect`."""
    if dialect == "anthropic":
        return _encode({"type": "error", "error": {"type": error.anthropic_type, "message": error.message}})
    return _encode(
        {
            "error": {
                "message": error.message,
                "type": error.openai_type,
                "param": error.param,
                "code": error.code,
            }
        }
    )


def error_headers(error: LunaRouteError) -> dict[str, str]:
    """`content-type`, `retry-after` when the error has one, and `x-should-retry: false` for 401 and 403: the
    official SDKs (and Claude Code) honour it and do not repeat a request that a bad key cannot make good."""
    headers = {"content-type": "application/json"}
    if error.retry_after is not None:
        headers["retry-after"] = str(max(0, round(error.retry_after)))
    if error.status in (401, 403):
        headers["x-should-retry"] = "false"
    return headers


def stream_error_event(dialect: Dialect, error: LunaRouteError) -> bytes:
    """An SSE event that ends a stream already under way with `error`, in the client's dialect."""
    body = error_body(dialect, error)
    if dialect == "anthropic":
        return b"event: error\ndata: " + body + b"\n\n"
    return b"data: " + body + b"\n\n"
