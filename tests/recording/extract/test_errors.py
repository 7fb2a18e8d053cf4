"""Upstream errors, partial and truncated streams, compressed and unreadable bodies, other endpoints."""

from __future__ import annotations

import gzip

import pytest
import zstandard

from lunaroute.recording.events import Completed, ResponseRecorded, ToolCallRecorded
from lunaroute.recording.extract import SessionTracker, events_at_end
from lunaroute.types import Endpoint

from ._records import JSON, body, exchange, fixture, one, split, types

MESSAGES, CHAT = Endpoint.ANTHROPIC_MESSAGES, Endpoint.OPENAI_CHAT


def end(record: object) -> list:
    return events_at_end(record, SessionTracker())  # type: ignore[arg-type]


def test_upstream_http_error_openai() -> None:
    record = exchange(
        CHAT,
        fixture("openai_chat/request_basic.json"),
        response=fixture("openai_chat/error_rate_limit.json"),
        status=429,
    )
    events = end(record)
    assert types(events) == ["Completed"]
    done = events[0]
    assert not done.success
    assert done.outcome == "upstream_error"
    assert done.error.startswith("429 tokens: Rate limit reached for gpt-4o")
    assert done.estimated_cost is None
    assert done.grand_total == 0


def test_upstream_http_error_anthropic_on_a_stream_request() -> None:
    record = exchange(
        MESSAGES,
        fixture("anthropic_messages/request_basic.json"),
        response=fixture("anthropic_messages/error_overloaded.json"),
        status=529,
        is_streaming=True,
    )
    events = end(record)
    assert types(events) == ["Completed"]  # an error body is not a stream
    assert events[-1].error == "529 overloaded_error: Overloaded"


def test_anthropic_error_event_mid_stream_keeps_partial_content() -> None:
    events = end(exchange(MESSAGES, b"{}", stream=fixture("anthropic_messages/stream_error.sse")))
    assert one(events, ResponseRecorded).response_text == "Partial"
    done = one(events, Completed)
    assert not done.success
    assert done.error == "overloaded_error: Overloaded"
    assert done.outcome == "ok"


def test_openai_error_chunk_mid_stream() -> None:
    events = end(exchange(CHAT, b"{}", stream=fixture("openai_chat/stream_error.sse")))
    assert one(events, ResponseRecorded).response_text == "Hi"
    assert one(events, Completed).error == "server_error: The server had an error while processing your request."


def test_client_disconnect_records_the_partial_answer() -> None:
    sse = fixture("anthropic_messages/stream_tool_use.sse")
    cut = sse[: sse.rindex(b"\n\n", 0, sse.index(b'\\"San')) + 2]  # just before the ` "San` argument delta
    record = exchange(MESSAGES, b"{}", stream=cut, outcome="client_disconnected", error="client closed the connection")
    events = end(record)
    resp = one(events, ResponseRecorded)
    assert resp.response_text == "Okay, let's check the weather for San Francisco, CA:"
    assert resp.input_tokens == 472
    assert resp.tokens_estimated
    assert resp.output_tokens > 2
    call = one(events, ToolCallRecorded)
    assert call.tool_name == "get_weather"
    assert call.tool_arguments == '{"location":'
    done = one(events, Completed)
    assert not done.success
    assert done.outcome == "client_disconnected"
    assert done.error == "client closed the connection"
    assert done.finish_reason is None


def test_stream_ending_without_marker_is_a_failure() -> None:
    sse = fixture("anthropic_messages/stream_text.sse")
    cut = sse[: sse.rindex(b"event: message_stop")]
    done = one(end(exchange(MESSAGES, b"{}", stream=cut)), Completed)
    assert not done.success
    assert done.error == "stream ended before its end marker"
    assert done.outcome == "ok"


def test_truncated_copy_is_marked() -> None:
    sse = fixture("anthropic_messages/stream_text.sse")
    record = exchange(MESSAGES, b"{}", stream=split(sse, 64)[:6], response_truncated=True)
    events = end(record)
    assert types(events)[:2] == ["StreamStarted", "ResponseRecorded"]
    done = one(events, Completed)
    assert done.success  # the client got everything; only the recorder's copy is short
    assert done.error is not None
    assert "truncated" in done.error


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
def test_compressed_non_stream_body(encoding: str) -> None:
    raw = fixture("anthropic_messages/response_tool_use.json")
    packed = gzip.compress(raw) if encoding == "gzip" else zstandard.ZstdCompressor().compress(raw)
    headers = [*JSON, ("content-encoding", encoding)]
    record = exchange(MESSAGES, b"{}", response=packed, response_headers=headers)
    resp = one(end(record), ResponseRecorded)
    assert resp.output_tokens == 89
    assert resp.response_size_bytes == len(packed)


def test_undecodable_encoding_still_completes() -> None:
    headers = [*JSON, ("content-encoding", "br")]
    events = end(exchange(MESSAGES, b"{}", response=b"\x0b\x80binary", response_headers=headers))
    assert types(events) == ["Completed"]
    assert events[0].success
    assert "unsupported content-encoding 'br'" in (events[0].error or "")


def test_unreadable_success_body_still_completes() -> None:
    events = end(exchange(MESSAGES, b"{}", response=b'{"not": "a message"}'))
    assert types(events) == ["Completed"]
    assert events[0].error is not None
    assert events[0].error.startswith("unreadable response")


def test_rejected_before_upstream() -> None:
    record = exchange(CHAT, b"{}", status=None, outcome="rejected", first_byte_ms=None, finished_ms=1.0)
    events = end(record)
    assert types(events) == ["Completed"]
    assert not events[0].success
    assert events[0].error == "exchange ended: rejected"


@pytest.mark.parametrize(
    ("endpoint", "response"),
    [
        (Endpoint.ANTHROPIC_COUNT_TOKENS, b'{"input_tokens": 12}'),
        (Endpoint.OPENAI_MODELS, b'{"object": "list", "data": []}'),
        (Endpoint.ANTHROPIC_OTHER, b"anything"),
    ],
)
def test_other_endpoints_only_complete(endpoint: Endpoint, response: bytes) -> None:
    events = end(exchange(endpoint, b"", response=response))
    assert types(events) == ["Completed"]
    assert events[0].success
    assert events[0].grand_total == 0


def test_embeddings_usage_is_counted() -> None:
    response = body(
        {
            "object": "list",
            "data": [],
            "model": "text-embedding-3-small",
            "usage": {"prompt_tokens": 8, "total_tokens": 8},
        }
    )
    events = end(exchange(Endpoint.OPENAI_EMBEDDINGS, body({"model": "text-embedding-3-small"}), response=response))
    assert types(events) == ["Completed"]
    assert events[0].total_input == 8
    assert events[0].estimated_cost is not None
