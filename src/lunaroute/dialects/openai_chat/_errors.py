"""OpenAI error bodies (`{"error": {"message", "type", "param", "code"}}`) ⇄ `model.ErrorInfo`.

| kind              | status | OpenAI `type`          |
|-------------------|--------|------------------------|
| invalid_request   | 400    | invalid_request_error  |
| authentication    | 401    | authentication_error   |
| billing           | 429    | insufficient_quota     |
| permission        | 403    | permission_error       |
| not_found         | 404    | invalid_request_error  |
| request_too_large | 413    | invalid_request_error  |
| rate_limit        | 429    | rate_limit_error       |
| api_error         | 500    | server_error           |
| overloaded        | 503    | server_error           |
| timeout           | 504    | server_error           |

The official SDK picks its exception class from the HTTP status, so `error_status` is what a
gateway answers with.
"""

from __future__ import annotations

from typing import Final

import msgspec

from lunaroute.model import ErrorInfo, ErrorKind, kind_for_status

__all__ = ["decode_error", "encode_error", "error_payload", "error_status"]

_WIRE: Final[dict[ErrorKind, tuple[int, str]]] = {
    "invalid_request": (400, "invalid_request_error"),
    "authentication": (401, "authentication_error"),
    "billing": (429, "insufficient_quota"),
    "permission": (403, "permission_error"),
    "not_found": (404, "invalid_request_error"),
    "request_too_large": (413, "invalid_request_error"),
    "rate_limit": (429, "rate_limit_error"),
    "api_error": (500, "server_error"),
    "overloaded": (503, "server_error"),
    "timeout": (504, "server_error"),
}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def decode_error(status: int, body: bytes) -> ErrorInfo:
    """Read an upstream error; never raises. Non-JSON bodies become the message (first 500 chars).

    Also reads the flat `{"message", "type", ...}` shape of vLLM and `{"error": "text"}`.
    """
    kind = kind_for_status(status)
    try:
        root = msgspec.json.decode(body)
    except (msgspec.DecodeError, ValueError, RecursionError):
        text = body[:500].decode("utf-8", errors="replace").strip()
        return ErrorInfo(kind=kind, message=text or f"upstream error {status}", status=status)
    error = root.get("error", root) if isinstance(root, dict) else None
    if isinstance(error, str):
        return ErrorInfo(kind=kind, message=error, status=status)
    if not isinstance(error, dict):
        return ErrorInfo(kind=kind, message=f"upstream error {status}", status=status)
    wire_type = _text(error.get("type"))
    if wire_type == "insufficient_quota" or _text(error.get("code")) == "insufficient_quota":
        kind = "billing"
    code = error.get("code")
    return ErrorInfo(
        kind=kind,
        message=_text(error.get("message")) or _text(error.get("detail")) or f"upstream error {status}",
        status=status,
        type=wire_type,
        param=_text(error.get("param")),
        code=str(code) if isinstance(code, str | int) and not isinstance(code, bool) else None,
    )


def error_status(err: ErrorInfo) -> int:
    """The HTTP status to answer an OpenAI client with for `err`."""
    return _WIRE[err.kind][0]


def error_payload(err: ErrorInfo) -> dict[str, object]:
    """The `error` object itself (also the payload of a mid-stream error event)."""
    return {"message": err.message, "type": _WIRE[err.kind][1], "param": err.param, "code": err.code}


def encode_error(err: ErrorInfo) -> bytes:
    return msgspec.json.encode({"error": error_payload(err)})
