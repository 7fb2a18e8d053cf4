"""OpenAI Chat Completions exchanges: non-stream and stream, tool calls, reasoning, cached tokens, no usage."""

from __future__ import annotations

import math

import msgspec
import pytest

from lunaroute.recording.events import Completed, RequestRecorded, ResponseRecorded, ToolCallRecorded
from lunaroute.recording.extract import SessionTracker, events_at_end, events_at_start
from lunaroute.types import Endpoint

from ._records import exchange, fixture, of_type, one, types

CHAT = Endpoint.OPENAI_CHAT


def test_non_stream_tool_calls_with_cached_tokens() -> None:
    record = exchange(
        CHAT, fixture("openai_chat/request_tools.json"), response=fixture("openai_chat/response_tool_calls.json")
    )
    events = events_at_end(record, SessionTracker())
    assert types(events) == ["ResponseRecorded", "ToolCallRecorded", "Completed"]
    resp: ResponseRecorded = events[0]
    assert resp.response_text == ""
    assert resp.model_used == "gpt-4o-mini"
    # OpenAI's prompt_tokens include the cached ones; recorded input excludes them (Anthropic accounting).
    assert (resp.input_tokens, resp.cache_read_tokens, resp.output_tokens, resp.total_tokens) == (162, 1920, 17, 2099)
    assert resp.reasoning_tokens is None
    assert resp.thinking_tokens is None
    call: ToolCallRecorded = events[1]
    assert (call.tool_name, call.tool_call_id) == ("get_current_weather", "call_abc123")
    assert msgspec.json.decode(call.tool_arguments or "") == {"location": "Boston, MA"}
    done: Completed = events[2]
    assert done.finish_reason == "tool_calls"
    assert done.success
    assert done.estimated_cost is not None
    assert done.estimated_cost.provider == "openai"


def test_stream_parallel_tools_and_usage() -> None:
    tracker = SessionTracker()
    record = exchange(
        CHAT, fixture("openai_chat/request_tools.json"), stream=fixture("openai_chat/stream_parallel_tools.sse")
    )
    events = events_at_end(record, tracker)
    calls = of_type(events, ToolCallRecorded)
    assert [(c.tool_call_id, msgspec.json.decode(c.tool_arguments or "")) for c in calls] == [
        ("call_PieqNSej6kM9hgYbcQdbZSaC", {"location": "Paris"}),
        ("call_Bm3YyQw0b1e8cPj2uXq9Zt4K", {"location": "Bogotá"}),
    ]
    resp = one(events, ResponseRecorded)
    assert (resp.input_tokens, resp.cache_read_tokens, resp.output_tokens) == (56, 64, 40)
    assert not resp.tokens_estimated
    assert resp.response_json["choices"][0]["message"]["tool_calls"][1]["function"]["name"] == "get_weather"
    done = one(events, Completed)
    assert done.finish_reason == "tool_calls"
    assert done.by_tool["get_weather"].call_count == 2
    assert done.total_tool_calls == 2
    # The request's results answer the previous turn's calls: they count in errors and time, not as calls.
    assert done.by_tool["get_current_weather"].call_count == 0
    assert done.unique_tool_count == 2


def test_stream_reasoning_is_recorded_as_reasoning() -> None:
    record = exchange(
        CHAT, fixture("openai_chat/request_basic.json"), stream=fixture("openai_chat/stream_reasoning.sse")
    )
    resp = one(events_at_end(record, SessionTracker()), ResponseRecorded)
    assert resp.response_text == "9.8 is larger."
    assert resp.response_json["choices"][0]["message"]["reasoning_content"] == "Okay, compare decimals."
    assert resp.reasoning_tokens
    assert resp.thinking_tokens is None
    assert resp.thinking_percentage == pytest.approx(100 * resp.reasoning_tokens / resp.output_tokens)


def test_stream_without_usage_is_estimated_and_flagged() -> None:
    request = fixture("chat_tools_request.json")
    record = exchange(CHAT, request, stream=fixture("chat_stream_no_usage.sse"))
    events = events_at_end(record, SessionTracker())
    resp = one(events, ResponseRecorded)
    text = "Boston is 12 degrees; Paris could not be checked."
    assert resp.response_text == text
    assert resp.tokens_estimated
    assert resp.output_tokens == math.ceil(len(text) / 4)
    assert resp.input_tokens == one(events_at_start(record, SessionTracker()), RequestRecorded).estimated_tokens > 0
    done = one(events, Completed)
    assert done.total_input == resp.input_tokens
    assert done.total_output == resp.output_tokens
    assert done.finish_reason == "stop"
    assert done.success


def test_tool_results_without_error_flag() -> None:
    events = events_at_start(exchange(CHAT, fixture("chat_tools_request.json")), SessionTracker())
    results = of_type(events, ToolCallRecorded)
    assert [(r.tool_call_id, r.tool_name, r.success) for r in results] == [
        ("call_boston", "get_weather", None),  # JSON with no status in it: unknown
        ("call_paris", "get_weather", False),  # "Error: ..." plainly reports a failure
    ]
    req = one(events, RequestRecorded)
    assert req.request_text == "What is the weather in Boston and in Paris?"
    assert (req.message_count, req.has_system_prompt, req.tool_count) == (5, True, 1)


def test_non_stream_reasoning_response() -> None:
    record = exchange(
        CHAT, fixture("openai_chat/request_basic.json"), response=fixture("openai_chat/response_reasoning.json")
    )
    resp = one(events_at_end(record, SessionTracker()), ResponseRecorded)
    assert resp.response_json == msgspec.json.decode(fixture("openai_chat/response_reasoning.json"))
    assert resp.content_blocks >= 2
