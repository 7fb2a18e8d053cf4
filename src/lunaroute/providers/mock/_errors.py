"""Error wire in each dialect: JSON error bodies and the mid-stream error events."""

from __future__ import annotations

from typing import Literal

from ._sse import encode_json, sse

__all__ = [
    "anthropic_error",
    "anthropic_stream_error",
    "default_error_type",
    "openai_error",
    "openai_stream_error",
    "responses_stream_error",
]

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def default_error_type(dialect: Literal["openai", "anthropic"], status: int) -> str:
    """The error `type` the real API sends with `status` (server errors: `server_error` / `api_error`)."""
    if dialect == "openai":
        return _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def openai_error(message: str, error_type: str, *, param: str | None = None, code: str | None = None) -> bytes:
    """`{"error": {"message", "type", "param", "code"}}`."""
    return encode_json({"error": {"message": message, "type": error_type, "param": param, "code": code}})


def anthropic_error(error_type: str, message: str) -> bytes:
    """`{"type": "error", "error": {"type", "message"}}`."""
    return encode_json({"type": "error", "error": {"type": error_type, "message": message}})


def anthropic_stream_error(error_type: str, message: str) -> bytes:
    """The mid-stream `event: error` an Anthropic stream ends with when it fails after the head."""
    return sse({"type": "error", "error": {"type": error_type, "message": message}}, "error")


def openai_stream_error(message: str, error_type: str = "server_error", *, code: str | None = None) -> bytes:
    """The mid-stream `data: {"error": {...}}` event of a chat/completions stream (no `event:` line)."""
    return sse({"error": {"message": message, "type": error_type, "param": None, "code": code}})


def responses_stream_error(message: str, code: str = "server_error", *, sequence_number: int = 0) -> bytes:
    """The Responses API mid-stream `event: error` (`{"type": "error", "code", "message", "param", ...}`)."""
    payload = {
        "type": "error",
        "code": code,
        "message": message,
        "param": None,
        "sequence_number": sequence_number,
    }
    return sse(payload, "error")
