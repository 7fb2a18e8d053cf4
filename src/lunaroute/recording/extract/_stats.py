"""Numbers derived from an exchange: timings, chunk-latency percentiles, token counts and estimates."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import dataclass

import msgspec

from lunaroute.dialects import anthropic_messages, openai_chat
from lunaroute.errors import LunaRouteError
from lunaroute.model import RefusalBlock, Response, TextBlock, ThinkingBlock, ToolUseBlock, Usage, estimate_input_tokens
from lunaroute.recording.events import StreamingStats, TokenStats
from lunaroute.types import Endpoint, ExchangeRecord

from ._chat_estimate import plain_chat_estimate
from ._messages_estimate import plain_messages_estimate
from ._request import RequestView

__all__ = [
    "Timings",
    "estimate_input",
    "estimate_output",
    "instant",
    "offset_ms",
    "streaming_stats",
    "timings",
    "token_stats",
]

CHARS_PER_TOKEN = 4
_MAX_MS = 1e10
"""Offsets past ~115 days are clock errors, not durations: they are recorded as 0."""


def instant(record: ExchangeRecord, offset_ms: float | None) -> dt.datetime:
    """The wall-clock instant `offset_ms` after `record`'s request arrived (its arrival when None)."""
    seconds = record.started_at + (offset_ms or 0.0) / 1000
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return dt.datetime.now(dt.UTC)


def _ms(value: float | None) -> int:
    return max(0, round(value)) if value is not None and math.isfinite(value) and value < _MAX_MS else 0


def offset_ms(value: float | None) -> float:
    """`value` when it is a finite, non-negative offset; else 0.0 (a record's clock fields are advisory)."""
    return value if value is not None and math.isfinite(value) and 0 < value < _MAX_MS else 0.0


@dataclass(frozen=True, slots=True)
class Timings:
    """Durations of one exchange, in milliseconds.

    `pre_processing_ms`: arrival → request sent upstream. `provider_latency_ms`: sent upstream → the
    exchange finished. `total_duration_ms`: arrival → finished (the last chunk when no finish was noted). `generation_ms`: first byte → finished for a stream, else the provider latency (the
    time tokens were being produced, for tokens/second). `post_processing_ms` is 0: the record has no
    instant at which the upstream's answer was complete, so relay time cannot be told from provider time.
    """

    pre_processing_ms: float
    provider_latency_ms: int
    post_processing_ms: float
    total_duration_ms: int
    time_to_first_token_ms: int
    streaming_duration_ms: int | None
    generation_ms: int


def timings(record: ExchangeRecord) -> Timings:
    sent = offset_ms(record.upstream_sent_ms)
    finished = record.finished_ms
    if finished is None and record.chunk_offsets_ms:
        finished = record.chunk_offsets_ms[-1]
    provider = _ms(finished - sent) if finished is not None else 0
    streaming: int | None = None
    if record.is_streaming and record.first_byte_ms is not None and finished is not None:
        streaming = _ms(finished - record.first_byte_ms)
    return Timings(
        pre_processing_ms=sent,
        provider_latency_ms=provider,
        post_processing_ms=0.0,
        total_duration_ms=_ms(finished),
        time_to_first_token_ms=_ms(record.first_byte_ms),
        streaming_duration_ms=streaming,
        generation_ms=streaming if streaming else provider,
    )


def _rank(ordered: list[float], percent: int) -> int:
    """Nearest-rank percentile of a sorted, non-empty list."""
    return _ms(ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)])


def streaming_stats(record: ExchangeRecord, timing: Timings) -> StreamingStats | None:
    """Chunk timing of a streamed exchange: latencies are the gaps between consecutive relayed chunks."""
    if not record.is_streaming or not record.chunk_offsets_ms:
        return None
    offsets = [o for o in record.chunk_offsets_ms if math.isfinite(o) and 0 <= o < _MAX_MS]
    gaps = sorted(max(0.0, b - a) for a, b in itertools.pairwise(offsets))
    return StreamingStats(
        time_to_first_token_ms=timing.time_to_first_token_ms or _ms(offsets[0] if offsets else None),
        total_chunks=len(record.stream_chunks) or len(offsets),
        streaming_duration_ms=timing.streaming_duration_ms or _ms(offsets[-1] - offsets[0] if offsets else None),
        avg_chunk_latency_ms=sum(gaps) / len(gaps) if gaps else 0.0,
        p50_chunk_latency_ms=_rank(gaps, 50) if gaps else None,
        p95_chunk_latency_ms=_rank(gaps, 95) if gaps else None,
        p99_chunk_latency_ms=_rank(gaps, 99) if gaps else None,
        max_chunk_latency_ms=_ms(gaps[-1]) if gaps else 0,
        min_chunk_latency_ms=_ms(gaps[0]) if gaps else 0,
    )


def estimate_input(record: ExchangeRecord, view: RequestView) -> int:
    """Input tokens of the request by `model.estimate_input_tokens`, or ~4 characters a token when the
    codec cannot decode it (Responses API, or a body it rejects); always >= 1. A plain OpenAI chat or Anthropic
    Messages request is counted from `view.json` (`plain_chat_estimate`, `plain_messages_estimate`: the same
    number, without the codec)."""
    if record.endpoint is Endpoint.OPENAI_CHAT:
        plain = plain_chat_estimate(view.json)
        if plain is not None:
            return plain
    elif record.endpoint is Endpoint.ANTHROPIC_MESSAGES:
        plain = plain_messages_estimate(view.json)
        if plain is not None:
            return plain
    decode = {
        Endpoint.ANTHROPIC_MESSAGES: anthropic_messages.decode_request,
        Endpoint.OPENAI_CHAT: openai_chat.decode_request,
    }.get(record.endpoint)
    if decode is not None:
        try:
            return estimate_input_tokens(decode(record.request_body))
        except (LunaRouteError, ValueError, TypeError):
            pass
    return max(1, math.ceil(view.text_chars / CHARS_PER_TOKEN) + 4 * view.message_count)


def estimate_output(response: Response) -> int:
    """Output tokens of `response` at ~4 characters a token: text, thinking, refusals and tool calls."""
    chars = 0
    for block in response.content:
        match block:
            case TextBlock(text=text) | RefusalBlock(text=text) | ThinkingBlock(thinking=text):
                chars += len(text)
            case ToolUseBlock(name=name, input=arguments, raw_arguments=raw):
                chars += len(name) + len(raw if raw is not None else msgspec.json.encode(arguments))
    return math.ceil(chars / CHARS_PER_TOKEN)


def token_stats(usage: Usage, *, anthropic: bool, generation_ms: int) -> TokenStats:
    """`usage` as the recorded token fields: reasoning counts as `thinking_tokens` for Anthropic clients and
    `reasoning_tokens` for OpenAI ones (it is part of `output_tokens` either way); `total_tokens` counts every
    input token (cached or not) and the output."""
    total = usage.total_input_tokens + usage.output_tokens
    reasoning = usage.reasoning_tokens or None
    seconds = generation_ms / 1000
    return TokenStats(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=total,
        thinking_tokens=reasoning if anthropic else None,
        reasoning_tokens=None if anthropic else reasoning,
        cache_read_tokens=usage.cache_read_tokens,
        cache_creation_tokens=usage.cache_creation_tokens,
        thinking_percentage=100 * usage.reasoning_tokens / usage.output_tokens if usage.output_tokens else None,
        tokens_per_second=usage.output_tokens / seconds if seconds > 0 and usage.output_tokens else None,
    )
