"""Anthropic Messages exchanges: non-stream and stream, thinking, tool use, cache tokens, a Claude Code body."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from lunaroute.recording.events import (
    Completed,
    RequestRecorded,
    ResponseRecorded,
    Started,
    StreamStarted,
    ToolCallRecorded,
)
from lunaroute.recording.extract import SessionTracker, events_at_end, events_at_start
from lunaroute.types import Endpoint

from ._records import T0, exchange, fixture, of_type, one, types

MESSAGES = Endpoint.ANTHROPIC_MESSAGES
SID = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"


def test_non_stream_tool_use() -> None:
    tracker = SessionTracker()
    record = exchange(
        MESSAGES,
        fixture("anthropic_messages/request_tools.json"),
        response=fixture("anthropic_messages/response_tool_use.json"),
        model="claude-sonnet-4-5",
    )
    events = events_at_end(record, tracker)
    assert types(events) == ["ResponseRecorded", "ToolCallRecorded", "Completed"]
    resp: ResponseRecorded = events[0]
    assert resp.response_text == "I'll check the current weather in San Francisco for you."
    assert resp.model_used == "claude-sonnet-4-5-20250929"
    assert (resp.input_tokens, resp.output_tokens, resp.total_tokens) == (472, 89, 561)
    assert resp.content_blocks == 3
    assert not resp.has_refusal
    assert not resp.tokens_estimated
    assert resp.response_json["content"][0]["thinking"].startswith("The user wants")  # thinking kept here
    assert [(c.tool_name, c.tool_call_id) for c in resp.tool_calls] == [
        ("get_weather", "toolu_01A09q90qw90lq917835lq9")
    ]
    assert resp.provider_latency_ms == 248
    assert resp.total_proxy_overhead_ms == 2.0
    assert resp.is_streaming is False
    assert resp.chunk_count is None
    call: ToolCallRecorded = events[1]
    assert msgspec.json.decode(call.tool_arguments or "") == {"location": "San Francisco, CA", "unit": "celsius"}
    assert call.input_size_bytes == len((call.tool_arguments or "").encode())
    done: Completed = events[2]
    assert done.success
    assert done.error is None
    assert done.outcome == "ok"
    assert done.finish_reason == "tool_use"
    assert (done.total_input, done.total_output, done.grand_total) == (472, 89, 561)
    assert done.total_tool_calls == 1
    assert done.by_tool["get_weather"].call_count == 1
    assert done.streaming_stats is None
    assert done.estimated_cost is not None
    assert done.estimated_cost.total_cost_usd == pytest.approx(0.002751)
    assert done.timestamp == dt.datetime.fromtimestamp(T0 + 0.25, dt.UTC)
    assert tracker.lookup("", "toolu_01A09q90qw90lq917835lq9", T0 + 1) is not None


def test_stream_with_thinking_and_cache_tokens() -> None:
    record = exchange(
        MESSAGES,
        fixture("anthropic_messages/request_basic.json"),
        stream=fixture("anthropic_messages/stream_thinking.sse"),
    )
    events = events_at_end(record, SessionTracker())
    assert types(events) == ["StreamStarted", "ResponseRecorded", "Completed"]
    assert one(events, StreamStarted).time_to_first_token_ms == 100
    resp: ResponseRecorded = one(events, ResponseRecorded)
    assert resp.response_text == "27 * 453 = 12,231"
    thinking = resp.response_json["content"][0]
    assert thinking["type"] == "thinking"
    assert "453 = 400 + 50 + 3" in thinking["thinking"]
    assert (resp.input_tokens, resp.cache_read_tokens, resp.cache_creation_tokens, resp.output_tokens) == (
        36,
        1200,
        0,
        210,
    )
    assert resp.total_tokens == 36 + 1200 + 210
    assert resp.chunk_count == len(record.stream_chunks)
    assert resp.is_streaming
    assert resp.streaming_duration_ms == round(record.finished_ms - 100)
    assert resp.tokens_per_second == pytest.approx(210 / (resp.streaming_duration_ms / 1000))
    done = one(events, Completed)
    assert done.total_cache_read == done.total_cached == 1200
    assert done.finish_reason == "end_turn"
    stats = done.streaming_stats
    assert stats is not None
    assert stats.total_chunks == len(record.stream_chunks)
    assert stats.time_to_first_token_ms == 100
    assert stats.p50_chunk_latency_ms == stats.p99_chunk_latency_ms == 10
    assert stats.avg_chunk_latency_ms == pytest.approx(10)


def test_stream_tool_use_assembles_arguments() -> None:
    tracker = SessionTracker()
    record = exchange(
        MESSAGES,
        fixture("anthropic_messages/request_tools.json"),
        stream=fixture("anthropic_messages/stream_tool_use.sse"),
    )
    events = events_at_end(record, tracker)
    call = one(events, ToolCallRecorded)
    assert call.tool_name == "get_weather"
    assert call.tool_call_id == "toolu_01T1x1fJ34qAmk2tNTrN7Up6"
    assert msgspec.json.decode(call.tool_arguments or "") == {"location": "San Francisco, CA", "unit": "fahrenheit"}
    assert one(events, ResponseRecorded).response_text == "Okay, let's check the weather for San Francisco, CA:"
    assert one(events, Completed).finish_reason == "tool_use"


def test_claude_code_request() -> None:
    agent = "claude-cli/2.0.14 (external, cli)" + "x" * 300
    headers = [
        ("user-agent", agent),
        ("anthropic-version", "2023-06-01"),
        ("anthropic-beta", "a"),
        ("anthropic-beta", "b"),
    ]
    record = exchange(
        MESSAGES,
        fixture("anthropic_messages/request_claude_code.json"),
        request_headers=headers,
        model="claude-sonnet-4-6",
        client_ip="127.0.0.1",
    )
    events = events_at_start(record, SessionTracker(), session_tags=["lunaroute:sonnet"])
    assert types(events) == ["Started", "RequestRecorded", "ToolCallRecorded"]
    assert {e.session_id for e in events} == {SID}
    started: Started = events[0]
    assert started.model_requested == "claude-sonnet-4-6"
    assert started.listener == "anthropic"
    assert started.provider == "anthropic"
    assert started.client_ip == "127.0.0.1"
    assert started.user_agent == agent[:255]
    assert started.api_version == "2023-06-01"
    assert started.request_headers["anthropic-beta"] == "a, b"
    assert started.session_tags == ["lunaroute:sonnet"]
    req: RequestRecorded = events[1]
    assert req.request_text == "Now summarise."  # the last user message, although it is a list of blocks
    assert req.request_json["model"] == "claude-sonnet-4-6"
    assert req.request_size_bytes == len(record.request_body)
    assert (req.message_count, req.has_system_prompt, req.has_tools, req.tool_count) == (3, True, True, 24)
    assert req.estimated_tokens > 1000
    assert req.pre_processing_ms == 2.0
    assert events[0].timestamp < req.timestamp
    result: ToolCallRecorded = events[2]
    assert result.tool_name == "Bash"  # named from the request's own history
    assert result.success is True
    assert result.execution_time_ms is None
    assert result.output_size_bytes > 0
    assert result.tool_arguments is None


def test_model_override_tag() -> None:
    record = exchange(
        MESSAGES, fixture("anthropic_messages/request_basic.json"), model="sonnet", model_sent="claude-sonnet-4-5"
    )
    started = one(events_at_start(record, SessionTracker()), Started)
    assert started.session_tags == ["model_override:claude-sonnet-4-5"]


def test_is_error_gives_exact_success() -> None:
    request = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "run it"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [{"type": "text", "text": "boom"}],
                        "is_error": True,
                    }
                ],
            },
        ],
    }
    record = exchange(MESSAGES, msgspec.json.encode(request))
    result = one(events_at_start(record, SessionTracker()), ToolCallRecorded)
    assert (result.tool_name, result.success, result.output_size_bytes) == (
        "Bash",
        False,
        len(b'[{"type":"text","text":"boom"}]'),
    )
    assert one(events_at_start(record, SessionTracker()), RequestRecorded).request_text == "run it"
    assert of_type(events_at_end(record, SessionTracker()), Completed)[0].tool_error_count == 1
