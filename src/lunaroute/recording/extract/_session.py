"""Which session an exchange belongs to: from the client's own session marker, else one per request."""

from __future__ import annotations

import msgspec

from lunaroute.recording.events import is_valid_session_id
from lunaroute.types import ExchangeRecord

__all__ = ["SESSION_HEADERS", "explicit_session_id", "session_and_scope", "session_id_for"]

SESSION_HEADERS = ("session_id", "session-id", "x-session-id")
"""Request headers that name a session (Codex sends `session_id`), in the order they are tried."""

_LEGACY_MARK = "_session_"


def _from_user_id(value: object) -> str | None:
    """The session id inside an Anthropic `metadata.user_id`, if it has one of the three known shapes.

    1. an object `{"session_id": "...", ...}`;
    2. that object JSON-encoded in a string (current Claude Code);
    3. the legacy flat string `user_<hash>_account_<uuid>_session_<uuid>`.

    A bare user id (no session part) is *not* a session: it names a user, and would merge every request
    that user ever makes into one session.
    """
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = msgspec.json.decode(value)
        except (msgspec.DecodeError, RecursionError, ValueError):
            return None
    if isinstance(value, dict):
        candidate = value.get("session_id")
        return candidate if isinstance(candidate, str) and is_valid_session_id(candidate) else None
    if isinstance(value, str) and _LEGACY_MARK in value:
        candidate = value.rsplit(_LEGACY_MARK, 1)[1]
        return candidate if is_valid_session_id(candidate) else None
    return None


def _user_id(body: bytes) -> object:
    if b"user_id" not in body:  # cheap: most OpenAI bodies never carry one
        return None
    try:
        root = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError, ValueError):
        return None
    metadata = root.get("metadata") if isinstance(root, dict) else None
    return metadata.get("user_id") if isinstance(metadata, dict) else None


def explicit_session_id(record: ExchangeRecord) -> str | None:
    """The session id the client sent (body `metadata.user_id`, then `SESSION_HEADERS`), or None.

    Only ids passing `is_valid_session_id` are returned; an invalid one falls through to the next source.
    """
    found = _from_user_id(_user_id(record.request_body))
    if found is not None:
        return found
    headers = {name.lower(): value for name, value in record.request_headers}
    for name in SESSION_HEADERS:
        value = headers.get(name, "").strip()
        if value and is_valid_session_id(value):
            return value
    return None


def session_id_for(record: ExchangeRecord) -> str:
    """The session to record `record` under: `explicit_session_id`, else the request id (one session per request).

    A request id that is itself not a valid session id is reduced to its valid characters (or `request`).
    """
    return session_and_scope(record)[0]


def session_and_scope(record: ExchangeRecord) -> tuple[str, str]:
    """`session_id_for(record)`, and the tracker key of its tool calls: the explicit session, or '' (one scope
    shared by every request without a session marker).

    Without a session marker every request is its own session, yet a tool result still answers the call
    of an earlier request; the shared scope lets it be found (tool call ids are random per call, and a
    clash is caught by comparing tool names with the request's own history).
    """
    found = explicit_session_id(record)
    if found is not None:
        return found, found
    if is_valid_session_id(record.request_id):
        return record.request_id, ""
    cleaned = "".join(c for c in record.request_id if c.isascii() and (c.isalnum() or c in "-_"))[:255]
    return cleaned or "request", ""
