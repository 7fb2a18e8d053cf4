"""The key that keeps a conversation on one provider (sticky routing): a session header or Anthropic's user id."""

from __future__ import annotations

import msgspec

from lunaroute.types import Headers

__all__ = ["session_key_for"]

_SESSION_HEADERS = ("session_id", "session-id", "x-session-id")


class _Metadata(msgspec.Struct):
    user_id: object = None


class _Body(msgspec.Struct):
    metadata: _Metadata | None = None


_decoder = msgspec.json.Decoder(_Body)


def session_key_for(headers: Headers, body: bytes) -> str | None:
    """A stable key for the conversation, or None. Cheap: only `metadata` is decoded from the body."""
    for name, value in headers:
        if name in _SESSION_HEADERS and value:
            return value
    if b'"metadata"' not in body:
        return None
    try:
        parsed = _decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    user_id = parsed.metadata.user_id if parsed.metadata is not None else None
    return str(user_id) if user_id else None
