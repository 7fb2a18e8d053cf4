"""Server-sent-event framing and the text splitting shared by the streaming renderers."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["DONE", "encode_json", "split_text", "sse"]

DONE = b"data: [DONE]\n\n"
"""The OpenAI end-of-stream sentinel event."""

_ENCODER = msgspec.json.Encoder()


def encode_json(payload: Any) -> bytes:
    """Compact JSON of `payload` (dict key order kept)."""
    return _ENCODER.encode(payload)


def sse(payload: Any, event: str | None = None) -> bytes:
    """One SSE event: an optional `event:` line, one `data:` line of compact JSON, a blank line."""
    data = b"data: " + _ENCODER.encode(payload) + b"\n\n"
    if event is None:
        return data
    return b"event: " + event.encode() + b"\n" + data


def split_text(text: str, pieces: int) -> list[str]:
    """Split `text` into at most `pieces` non-empty parts of near-equal length whose join is `text`.

    An empty text gives no parts; `pieces < 1` counts as 1.
    """
    if not text:
        return []
    count = max(1, min(pieces, len(text)))
    size, extra = divmod(len(text), count)
    parts: list[str] = []
    start = 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        parts.append(text[start:end])
        start = end
    return parts
