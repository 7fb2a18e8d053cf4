"""`Reply`: how the fake upstream answers one request: content, status, and the timing and failure modes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lunaroute.providers.mock import Answer

__all__ = ["DEFAULT_ANSWER", "Reply"]

DEFAULT_ANSWER = Answer(text="Hello from the fake upstream.")


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """A scripted answer. Every delay is in seconds and every mode is bounded by the server's
    `max_reply_seconds`, so a reply can never hang a test.

    Content:
      `answer` is rendered for the requested endpoint in its dialect, streaming when the request body says
      `"stream": true` (the empty model becomes the request's model; missing usage is estimated).
      `status >= 400` sends a JSON error body in the endpoint's dialect instead, typed `error_type` (default:
      what the real API sends for that status) with `error_message`. `raw_chunks` replaces the body with
      exactly these bytes (one write each). `content_type` overrides the content type; `text/html` without
      `raw_chunks` sends a CDN-style HTML error page. `error_after_chunks=N` (streams) sends N events, then
      the dialect's mid-stream error event (typed `error_type`) and ends. `pieces` is the number of text
      deltas; `ping` adds an Anthropic `ping` event.
    Head:
      `headers` are added (they win over defaults); `retry_after` sets `retry-after`;
      `delay_before_headers` waits before the head; `reset_before_headers` drops the connection instead of
      answering.
    Body timing:
      `chunk_delay` waits between chunks; `first_chunk_then_stall` sends the first chunk, waits this long,
      then goes on; `drip` sends the body one byte at a time, this long apart; `reset_after_chunks=N` sends
      N chunks after the head, then resets the TCP connection; `gzip` gzip-encodes the body (per chunk,
      flushed, so streams stay incremental) and sets `content-encoding: gzip`.
    """

    answer: Answer = DEFAULT_ANSWER
    status: int = 200
    error_type: str | None = None
    error_message: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    retry_after: str | None = None
    content_type: str | None = None
    raw_chunks: Sequence[bytes] | None = None
    error_after_chunks: int | None = None
    pieces: int = 4
    ping: bool = False
    delay_before_headers: float = 0.0
    reset_before_headers: bool = False
    chunk_delay: float = 0.0
    first_chunk_then_stall: float | None = None
    drip: float | None = None
    reset_after_chunks: int | None = None
    gzip: bool = False
