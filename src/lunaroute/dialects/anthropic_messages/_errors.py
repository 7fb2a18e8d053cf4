"""Anthropic error bodies (`{"type": "error", "error": {"type", "message"}}`) ⇄ `model.ErrorInfo`.

| kind              | status | Anthropic `type`      |
|-------------------|--------|-----------------------|
| invalid_request   | 400    | invalid_request_error |
| authentication    | 401    | authentication_error  |
| billing           | 402    | billing_error         |
| permission        | 403    | permission_error      |
| not_found         | 404    | not_found_error       |
| request_too_large | 413    | request_too_large     |
| rate_limit        | 429    | rate_limit_error      |
| api_error         | 500    | api_error             |
| overloaded        | 529    | overloaded_error      |
| timeout           | 504    | timeout_error         |

The official SDK picks its exception class from the HTTP status, so `error_status` is what a
gateway answers with (an OpenAI 503 becomes 529 `overloaded_error`, and back).
"""

from __future__ import annotations

from typing import Final

import msgspec

from lunaroute.model import ErrorInfo, ErrorKind, kind_for_status

__all__ = ["decode_error", "encode_error", "error_payload", "error_status"]

_WIRE: Final[dict[ErrorKind, tuple[int, str]]] = {
    "invalid_request": (400, "invalid_request_error"),
    "authentication": (401, "authentication_error"),
    "billing": (402, "billing_error"),
    "permission": (403, "permission_error"),
    "not_found": (404, "not_found_error"),
    "request_too_large": (413, "request_too_large"),
    "rate_limit": (429, "rate_limit_error"),
    "api_error": (500, "api_error"),
    "overloaded": (529, "overloaded_error"),
    "timeout": (504, "timeout_error"),
}
_KIND_BY_TYPE: Final[dict[str, ErrorKind]] = {wire: kind for kind, (_, wire) in _WIRE.items()}


def decode_error(status: int, body: bytes) -> ErrorInfo:
    """Read an upstream error; never raises. A known `error.type` decides the kind, else the status."""
    kind = kind_for_status(status)
    try:
        root = msgspec.json.decode(body)
    except (msgspec.DecodeError, ValueError, RecursionError):
        text = body[:500].decode("utf-8", errors="replace").strip()
        return ErrorInfo(kind=kind, message=text or f"upstream error {status}", status=status)
    error = root.get("error") if isinstance(root, dict) else None
    if not isinstance(error, dict):
        return ErrorInfo(kind=kind, message=f"upstream error {status}", status=status)
    wire_type = error.get("type")
    message = error.get("message")
    if isinstance(wire_type, str):
        kind = _KIND_BY_TYPE.get(wire_type, kind)
    return ErrorInfo(
        kind=kind,
        message=message if isinstance(message, str) else f"upstream error {status}",
        status=status,
        type=wire_type if isinstance(wire_type, str) else None,
    )


def error_status(err: ErrorInfo) -> int:
    """The HTTP status to answer an Anthropic client with for `err`."""
    return _WIRE[err.kind][0]


def error_payload(err: ErrorInfo) -> dict[str, object]:
    return {"type": _WIRE[err.kind][1], "message": err.message}


def encode_error(err: ErrorInfo) -> bytes:
    return msgspec.json.encode({"type": "error", "error": error_payload(err)})
