"""Encoding and decoding of session events; encoding never fails on odd content.

`sanitize_event` returns an event every store can hold, and is what the recorder applies once before an event
reaches any writer:

- lone surrogates (from a JSON `\\ud800` escape decoded by a lenient parser) are stored escaped, as the six
  characters `\\ud800`;
- strings longer than `max_field_chars` are cut, and a marker saying how much was dropped is appended;
- values JSON cannot express (arbitrary objects, integers past 64 bits) become their `repr`, also capped.

NUL characters are valid JSON (`\\u0000`) and are kept; the PostgreSQL writer escapes them itself because
PostgreSQL text rejects them. The common case costs one msgspec encode: the walk over the fields only runs
when that encode fails or the encoded event is longer than `max_field_chars`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import msgspec

from lunaroute.recording.events import SessionEvent

__all__ = [
    "DEFAULT_MAX_FIELD_CHARS",
    "decode_event",
    "encode_event",
    "encode_line",
    "sanitize_event",
    "sanitize_text",
]

DEFAULT_MAX_FIELD_CHARS = 2_000_000
"""Longest string kept whole in a recorded event (about 2 MB of text)."""

_ENCODER = msgspec.json.Encoder()
_DECODER: msgspec.json.Decoder[SessionEvent] = msgspec.json.Decoder(SessionEvent)
_ENCODE_ERRORS = (TypeError, ValueError, OverflowError, msgspec.EncodeError)
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


def truncation_marker(dropped: int, total: int) -> str:
    return f"…[truncated by lunaroute: {dropped} of {total} characters dropped]"


_MARKER = re.compile(r"…\[truncated by lunaroute: \d+ of \d+ characters dropped\]\Z")


def _already_cut(text: str, max_chars: int) -> bool:
    """Whether `text` is the result of a cut to `max_chars` (so cutting it again would only mangle the marker)."""
    found = _MARKER.search(text, max_chars)
    return found is not None and found.start() == max_chars


def sanitize_text(text: str, max_chars: int = DEFAULT_MAX_FIELD_CHARS) -> str:
    """`text` with lone surrogates escaped and cut to `max_chars` plus a truncation marker (a text already cut
    to `max_chars` is left as it is: sanitizing twice gives what sanitizing once gave)."""
    if len(text) > max_chars and not _already_cut(text, max_chars):
        text = text[:max_chars] + truncation_marker(len(text) - max_chars, len(text))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _clean(value: Any, max_chars: int) -> Any:
    """A JSON-encodable copy of `value` (the same object when nothing had to change)."""
    if value is None or isinstance(value, bool | float | dt.datetime):
        return value
    if isinstance(value, str):
        return sanitize_text(value, max_chars)
    if isinstance(value, int):
        return value if _INT_MIN <= value <= _INT_MAX else str(value)
    if isinstance(value, msgspec.Struct):
        changes = {}
        for name in value.__struct_fields__:
            old = getattr(value, name)
            new = _clean(old, max_chars)
            if new is not old:
                changes[name] = new
        return msgspec.structs.replace(value, **changes) if changes else value
    if isinstance(value, list | tuple):
        items = [_clean(v, max_chars) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if isinstance(value, dict):
        pairs = [(_clean(str(k), max_chars), _clean(v, max_chars)) for k, v in value.items()]
        unchanged = all(k1 is k0 and v1 is v0 for (k1, v1), (k0, v0) in zip(pairs, value.items(), strict=True))
        return value if unchanged else dict(pairs)
    try:
        _ENCODER.encode(value)
    except _ENCODE_ERRORS:
        return sanitize_text(repr(value), max_chars)
    return value


def sanitize_event(event: SessionEvent, max_field_chars: int = DEFAULT_MAX_FIELD_CHARS) -> SessionEvent:
    """`event` itself when it encodes and is small enough, otherwise a cleaned copy (see the module doc)."""
    try:
        if len(_ENCODER.encode(event)) <= max_field_chars:
            return event
    except (*_ENCODE_ERRORS, UnicodeEncodeError):
        pass
    cleaned: SessionEvent = _clean(event, max_field_chars)
    return cleaned


def encode_event(event: SessionEvent, max_field_chars: int = DEFAULT_MAX_FIELD_CHARS) -> bytes:
    """The event as compact JSON (no newline). Never raises for content; see `sanitize_event`."""
    try:
        data = _ENCODER.encode(event)
        if len(data) <= max_field_chars:
            return data
    except (*_ENCODE_ERRORS, UnicodeEncodeError):
        pass
    return _ENCODER.encode(_clean(event, max_field_chars))


def encode_line(event: SessionEvent, max_field_chars: int = DEFAULT_MAX_FIELD_CHARS) -> bytes:
    """`encode_event` plus the terminating newline: one JSONL record."""
    return encode_event(event, max_field_chars) + b"\n"


def decode_event(data: bytes | str) -> SessionEvent:
    """Decode one JSON event. Raises `msgspec.DecodeError` (or its `ValidationError`) on bad input."""
    return _DECODER.decode(data)
