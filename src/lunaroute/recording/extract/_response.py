"""Parse the response copy of an exchange in the client's dialect into one assembled `model.Response`."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from lunaroute.dialects import anthropic_messages, openai_chat
from lunaroute.errors import LunaRouteError
from lunaroute.model import Accumulator, ErrorInfo, Response, StopReason, StreamError, Usage
from lunaroute.recording.events import JsonValue
from lunaroute.types import Endpoint, ExchangeRecord

from ._body import DecodeFailed, header, response_bytes
from ._responses_api import ResponsesStreamReader, read_responses_object

__all__ = ["GENERATION_ENDPOINTS", "ParsedResponse", "parse_response"]

GENERATION_ENDPOINTS = frozenset({Endpoint.ANTHROPIC_MESSAGES, Endpoint.OPENAI_CHAT, Endpoint.OPENAI_RESPONSES})
"""Endpoints whose answers are model generations (recorded as `response_recorded`)."""

_CHAT_FINISH: dict[StopReason, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


@dataclass(frozen=True, slots=True)
class ParsedResponse:
    """What could be read of a response.

    `response` is None when there is no generation to record (another endpoint, an upstream error, an
    unreadable body). `finish_reason` is the client dialect's wire string. `error` is an error the upstream
    reported (HTTP status or mid-stream event); `note` says why the body could not be read (a recording
    problem, not a failed exchange). `cut_short` means a stream ended before its end marker (content, usage
    and finish are then partial). `json` is the response as JSON: the body itself, or for a stream the
    assembled answer in the dialect's non-stream shape (Anthropic/OpenAI chat) or the final `response`
    object (Responses API); thinking text is found there. `usage` is set for other endpoints whose answer
    reports one (embeddings, legacy completions).
    """

    response: Response | None = None
    finish_reason: str | None = None
    error: str | None = None
    note: str | None = None
    cut_short: bool = False
    json: JsonValue = None
    usage: Usage | None = None


def _describe(error: ErrorInfo, *, status: bool = True) -> str:
    """`<status> <type>: <message>`; the status is left out for a mid-stream error (the HTTP status was 2xx)."""
    kind = error.type or error.kind
    return f"{error.status} {kind}: {error.message}" if status else f"{kind}: {error.message}"


def _loads(data: bytes) -> JsonValue:
    try:
        return msgspec.json.decode(data)
    except (msgspec.DecodeError, RecursionError, ValueError):
        return data[:2000].decode("utf-8", "replace") if data else None


def _is_sse(record: ExchangeRecord, data: bytes) -> bool:
    content_type = header(record.response_headers, "content-type").lower()
    if "text/event-stream" in content_type:
        return True
    head = data.lstrip()[:6]
    return (not content_type or record.is_streaming) and head.startswith((b"data:", b"event:", b":"))


def _finish(endpoint: Endpoint, reason: StopReason | None) -> str | None:
    if reason is None:
        return None
    return _CHAT_FINISH.get(reason, "stop") if endpoint is Endpoint.OPENAI_CHAT else reason


def _codec_stream(record: ExchangeRecord, data: bytes) -> ParsedResponse:
    is_chat = record.endpoint is Endpoint.OPENAI_CHAT
    decoder = openai_chat.StreamDecoder() if is_chat else anthropic_messages.StreamDecoder()
    acc = Accumulator()
    for event in decoder.feed(data):
        acc.feed(event)
    error = acc.error
    tail = decoder.finish()
    # An error first produced by `finish()` is the decoder noting the missing end marker: the stream was cut.
    cut_short = error is None and any(isinstance(e, StreamError) for e in tail)
    for event in tail:
        acc.feed(event)
    response = acc.response()
    encode = openai_chat.encode_response if is_chat else anthropic_messages.encode_response
    return ParsedResponse(
        response=response,
        finish_reason=_finish(record.endpoint, response.stop_reason),
        error=_describe(error, status=False) if error is not None else None,
        cut_short=cut_short,
        json=_loads(encode(response)),
    )


def _raw_finish(root: JsonValue, endpoint: Endpoint) -> str | None:
    if not isinstance(root, dict):
        return None
    if endpoint is Endpoint.OPENAI_CHAT:
        choices = root.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else None
        value = first.get("finish_reason") if isinstance(first, dict) else None
    else:
        value = root.get("stop_reason")
    return value if isinstance(value, str) else None


def _codec_object(record: ExchangeRecord, data: bytes) -> ParsedResponse:
    root = _loads(data)
    decode = (
        openai_chat.decode_response if record.endpoint is Endpoint.OPENAI_CHAT else anthropic_messages.decode_response
    )
    try:
        response = decode(data)
    except LunaRouteError as exc:
        return ParsedResponse(note=f"unreadable response: {exc.message}", json=root)
    finish = _raw_finish(root, record.endpoint) or _finish(record.endpoint, response.stop_reason)
    return ParsedResponse(response=response, finish_reason=finish, json=root)


def _responses(record: ExchangeRecord, data: bytes, sse: bool) -> ParsedResponse:
    if sse:
        reader = ResponsesStreamReader()
        reader.feed(data)
        result = reader.finish()
    else:
        root = _loads(data)
        if not isinstance(root, dict):
            return ParsedResponse(note="unreadable response: not a JSON object", json=root)
        result = read_responses_object(root)
    return ParsedResponse(
        response=result.response,
        finish_reason=result.finish_reason,
        error=result.error,
        cut_short=result.cut_short,
        json=result.final,
    )


def _count(usage: dict[str, object], *keys: str) -> int:
    for key in keys:
        value = usage.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return 0


def _other_usage(data: bytes) -> Usage | None:
    """The `usage` of a non-generation answer (OpenAI embeddings or legacy completions), if any."""
    if b"usage" not in data:
        return None
    root = _loads(data)
    usage = root.get("usage") if isinstance(root, dict) else None
    if not isinstance(usage, dict):
        return None
    return Usage(
        input_tokens=_count(usage, "prompt_tokens", "input_tokens"),
        output_tokens=_count(usage, "completion_tokens", "output_tokens"),
    )


def parse_response(record: ExchangeRecord) -> ParsedResponse:
    """Read `record`'s response copy in the client's dialect (`record.endpoint`).

    Upstream errors (status >= 400) are decoded with the dialect's `decode_error` into `error`; endpoints
    other than `GENERATION_ENDPOINTS` give at most a `usage`. Raises nothing for content it cannot read;
    callers still guard against the unexpected (see `events_at_end`).
    """
    try:
        data = response_bytes(record)
    except DecodeFailed as exc:
        return ParsedResponse(note=f"unreadable response: {exc}")
    status = record.status or 0
    if status >= 400:
        decode_error = anthropic_messages.decode_error if record.listener == "anthropic" else openai_chat.decode_error
        return ParsedResponse(error=_describe(decode_error(status, data)), json=_loads(data))
    if record.endpoint not in GENERATION_ENDPOINTS:
        return ParsedResponse(usage=_other_usage(data))
    if not data:
        return ParsedResponse()
    sse = _is_sse(record, data)
    if record.endpoint is Endpoint.OPENAI_RESPONSES:
        return _responses(record, data, sse)
    return _codec_stream(record, data) if sse else _codec_object(record, data)
