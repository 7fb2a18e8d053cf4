"""Google API error bodies (`{"error": {"code", "message", "status", "details"}}`) → `model.ErrorInfo`.

| Google `status`                         | kind            |
|-----------------------------------------|-----------------|
| INVALID_ARGUMENT, FAILED_PRECONDITION,  | invalid_request |
| OUT_OF_RANGE                            |                 |
| UNAUTHENTICATED, or reason API_KEY_*    | authentication  |
| PERMISSION_DENIED                       | permission      |
| NOT_FOUND                               | not_found       |
| RESOURCE_EXHAUSTED                      | rate_limit      |
| UNAVAILABLE                             | overloaded      |
| DEADLINE_EXCEEDED                       | timeout         |
| INTERNAL, UNKNOWN, anything else        | from the HTTP status |

A prompt longer than the model's context ("The input token count ... exceeds the maximum number of tokens
allowed") keeps `invalid_request` and gets the code `context_length_exceeded`, as OpenAI names it.
"""

from __future__ import annotations

from typing import Final

import msgspec

from lunaroute.model import ErrorInfo, ErrorKind, kind_for_status

__all__ = ["decode_error", "error_from_payload"]

_KINDS: Final[dict[str, ErrorKind]] = {
    "INVALID_ARGUMENT": "invalid_request",
    "FAILED_PRECONDITION": "invalid_request",
    "OUT_OF_RANGE": "invalid_request",
    "UNAUTHENTICATED": "authentication",
    "PERMISSION_DENIED": "permission",
    "NOT_FOUND": "not_found",
    "RESOURCE_EXHAUSTED": "rate_limit",
    "UNAVAILABLE": "overloaded",
    "DEADLINE_EXCEEDED": "timeout",
}
_CONTEXT_MARKER: Final = "exceeds the maximum number of tokens"


def _reasons(details: object) -> list[str]:
    if not isinstance(details, list):
        return []
    return [d["reason"] for d in details if isinstance(d, dict) and isinstance(d.get("reason"), str)]


def error_from_payload(status: int, error: object) -> ErrorInfo:
    """The `error` object of a Google error (also the payload of an error inside a stream)."""
    kind = kind_for_status(status)
    if not isinstance(error, dict):
        return ErrorInfo(kind=kind, message=f"upstream error {status}", status=status)
    wire_status = error.get("status") if isinstance(error.get("status"), str) else None
    if wire_status is not None:
        kind = _KINDS.get(wire_status, kind)
    reasons = _reasons(error.get("details"))
    if any(reason.startswith("API_KEY_") for reason in reasons):
        kind = "authentication"
    message = error.get("message")
    text = message if isinstance(message, str) and message else f"upstream error {status}"
    code = reasons[0] if reasons else None
    if kind == "invalid_request" and _CONTEXT_MARKER in text:
        code = "context_length_exceeded"
    return ErrorInfo(kind=kind, message=text, status=status, type=wire_status, code=code)


def decode_error(status: int, body: bytes) -> ErrorInfo:
    """Read an upstream error; never raises. Non-JSON bodies become the message (first 500 chars).

    Streams report errors as a JSON array of one such object; that shape is read too.
    """
    try:
        root = msgspec.json.decode(body)
    except (msgspec.DecodeError, ValueError, RecursionError):
        text = body[:500].decode("utf-8", errors="replace").strip()
        return ErrorInfo(kind=kind_for_status(status), message=text or f"upstream error {status}", status=status)
    if isinstance(root, list) and root:
        root = root[0]
    return error_from_payload(status, root.get("error") if isinstance(root, dict) else None)
