"""Gemini `generateContent` body → `model.Response` (the first candidate), and the `countTokens` answer."""

from __future__ import annotations

from lunaroute.errors import ContentBlocked, UpstreamError
from lunaroute.model import Response, StreamError, StreamEvent, accumulate

from .._json import parse_object
from ._stream_decode import ChunkReader

__all__ = ["decode_count_response", "decode_response"]


def decode_response(body: bytes) -> Response:
    """Decode an upstream's non-streaming answer.

    Raises `ContentBlocked` when Gemini refused the prompt (safety, blocklist...: a 400 for the client) and
    `UpstreamError` when the body is unusable. The answer is read as a one-chunk stream, so both paths decode
    parts, signatures, ids and usage the same way.
    """
    root = parse_object(body, UpstreamError)
    reader = ChunkReader()
    events: list[StreamEvent] = []
    reader.chunk(root, events)
    if not reader.done and not reader.finished:
        reader.finished = True  # a whole body is complete even when it names no finish reason
    reader.end(events)
    for event in events:
        if isinstance(event, StreamError):
            if event.error.type == "content_blocked":
                raise ContentBlocked(event.error.message)
            if not root.has("candidates"):
                raise UpstreamError("Gemini answered without candidates")
            raise UpstreamError(f"Gemini answered with an unusable body: {event.error.message}")
    return accumulate(events)


def decode_count_response(body: bytes) -> int:
    """`totalTokens` of a `countTokens` answer; raises `UpstreamError` when it is missing."""
    root = parse_object(body, UpstreamError)
    total = root.integer("totalTokens")
    if total is None:
        root.fail("totalTokens", "is required")
    return total
