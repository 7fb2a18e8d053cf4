"""Gemini `generateContent` body → `model.Response` (the first candidate), and the `countTokens` answer."""

from __future__ import annotations

import msgspec

from lunaroute.errors import ContentBlocked, UpstreamError
from lunaroute.model import Response, StreamError, StreamEvent, accumulate

from ._stream_decode import ChunkReader
from ._wire import CountTokens, chunk_decoder

__all__ = ["decode_count_response", "decode_response"]

_CHUNK = chunk_decoder()
_COUNT = msgspec.json.Decoder(CountTokens)


def decode_response(body: bytes) -> Response:
    """Decode an upstream's non-streaming answer.

    Raises `ContentBlocked` when Gemini refused the prompt (safety, blocklist...: a 400 for the client) and
    `UpstreamError` when the body is unusable. The answer is read as a one-chunk stream, so both paths decode
    parts, signatures, ids and usage the same way.
    """
    try:
        root = _CHUNK.decode(body)
    except msgspec.ValidationError as exc:
        raise UpstreamError(f"Gemini answered with an unusable body: {exc}") from None
    except (msgspec.DecodeError, ValueError, RecursionError):
        raise UpstreamError("Gemini answered with a body that is not JSON") from None
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
            if not root.candidates:
                raise UpstreamError("Gemini answered without candidates")
            raise UpstreamError(f"Gemini answered with an unusable body: {event.error.message}")
    return accumulate(events)


def decode_count_response(body: bytes) -> int:
    """`totalTokens` of a `countTokens` answer; raises `UpstreamError` when it is missing."""
    try:
        return _COUNT.decode(body).total_tokens
    except (msgspec.DecodeError, ValueError, RecursionError) as exc:  # ValidationError is a DecodeError
        raise UpstreamError(f"Gemini answered countTokens with an unusable body: {exc}") from None
