"""Converse error answers → `model.ErrorInfo`.

Bedrock names the error in the `x-amzn-errortype` header and sends `{"message": ...}`; the status alone decides
the kind, as the official SDKs of both client dialects pick their exception class from the status:

| Bedrock exception                        | status | kind              |
|------------------------------------------|--------|-------------------|
| ValidationException                      | 400    | invalid_request   |
| AccessDeniedException                    | 403    | permission        |
| UnrecognizedClientException, signature   | 403    | permission        |
| ResourceNotFoundException                | 404    | not_found         |
| ModelTimeoutException                    | 408    | timeout           |
| ModelErrorException                      | 424    | api_error         |
| ThrottlingException, ModelNotReady       | 429    | rate_limit        |
| InternalServerException                  | 500    | api_error         |
| ServiceUnavailableException              | 503    | overloaded        |

A `ValidationException` about the input length gets the code `context_length_exceeded`. Stream exceptions
(`throttlingException`, ... in the event stream) map by name with the same table (`kind_for_exception`).
"""

from __future__ import annotations

import re
from typing import Final

import msgspec

from lunaroute.model import ErrorInfo, ErrorKind, kind_for_status

__all__ = ["decode_error", "error_info", "kind_for_exception"]

_KIND_BY_STATUS: Final[dict[int, ErrorKind]] = {424: "api_error"}
_KIND_BY_EXCEPTION: Final[dict[str, ErrorKind]] = {
    "validationexception": "invalid_request",
    "accessdeniedexception": "permission",
    "resourcenotfoundexception": "not_found",
    "modeltimeoutexception": "timeout",
    "modelerrorexception": "api_error",
    "modelstreamerrorexception": "api_error",
    "throttlingexception": "rate_limit",
    "modelnotreadyexception": "rate_limit",
    "internalserverexception": "api_error",
    "serviceunavailableexception": "overloaded",
}
_TOO_LONG = re.compile(r"too long|too many (input )?tokens|context (length|window)|prompt is too long", re.I)


def kind_for_exception(name: str) -> ErrorKind:
    """The kind of a Bedrock exception name (either case, with or without a `:namespace` suffix)."""
    return _KIND_BY_EXCEPTION.get(name.split(":")[0].split("#")[-1].lower(), "api_error")


def error_info(kind: ErrorKind, message: str, status: int, wire_type: str | None) -> ErrorInfo:
    """An `ErrorInfo`, with `code: context_length_exceeded` for an input-length validation error."""
    code = "context_length_exceeded" if kind == "invalid_request" and _TOO_LONG.search(message) else None
    return ErrorInfo(kind=kind, message=message, status=status, type=wire_type, code=code)


def decode_error(status: int, body: bytes) -> ErrorInfo:
    """Read an upstream error; never raises."""
    kind = _KIND_BY_STATUS.get(status) or kind_for_status(status)
    try:
        root = msgspec.json.decode(body)
    except (msgspec.DecodeError, ValueError, RecursionError):
        text = body[:500].decode("utf-8", errors="replace").strip()
        return ErrorInfo(kind=kind, message=text or f"upstream error {status}", status=status)
    if not isinstance(root, dict):
        return ErrorInfo(kind=kind, message=f"upstream error {status}", status=status)
    message = root.get("message", root.get("Message"))
    wire_type = root.get("__type")
    if isinstance(wire_type, str) and status not in _KIND_BY_STATUS:
        kind = _KIND_BY_EXCEPTION.get(wire_type.split("#")[-1].lower(), kind)
    text = message if isinstance(message, str) else f"upstream error {status}"
    return error_info(kind, text, status, wire_type if isinstance(wire_type, str) else None)
