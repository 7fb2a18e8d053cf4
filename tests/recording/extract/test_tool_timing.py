"""Tool calls carried from one exchange to the next: attribution and the estimated execution time."""

from __future__ import annotations

from lunaroute.recording.events import Completed, ToolCallRecorded
from lunaroute.recording.extract import SessionTracker, events_at_end, events_at_start
from lunaroute.types import Endpoint

from ._records import T0, body, exchange, fixture, of_type, one

SID = "0f0e0d0c-1111-4222-8333-444455556666"
TOOL_ID = "toolu_01T1x1fJ34qAmk2tNTrN7Up6"


def _claude_request(*messages: object) -> bytes:
    return body(
        {
            "model": "claude-sonnet-4-5",
            "metadata": {"user_id": f'{{"session_id": "{SID}"}}'},
            "messages": list(messages),
        }
    )


def test_claude_code_tool_round_trip() -> None:
    tracker = SessionTracker()
    ask = {"role": "user", "content": "Weather in SF?"}
    first = exchange(
        Endpoint.ANTHROPIC_MESSAGES,
        _claude_request(ask),
        stream=fixture("anthropic_messages/stream_tool_use.sse"),
        request_id="r1",
    )
    calls = of_type(events_at_start(first, tracker) + events_at_end(first, tracker), ToolCallRecorded)
    assert [c.tool_call_id for c in calls] == [TOOL_ID]

    use = {"role": "assistant", "content": [{"type": "tool_use", "id": TOOL_ID, "name": "get_weather", "input": {}}]}
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": TOOL_ID, "content": "15 degrees"}]}
    second = exchange(
        Endpoint.ANTHROPIC_MESSAGES, _claude_request(ask, use, result), started_at=T0 + 5.0, request_id="r2"
    )
    recorded = one(events_at_start(second, tracker), ToolCallRecorded)
    response_end = T0 + first.finished_ms / 1000
    assert recorded.session_id == SID
    assert recorded.tool_name == "get_weather"
    assert recorded.success is True
    assert recorded.execution_time_ms == round((T0 + 5.0 - response_end) * 1000)
    assert recorded.output_size_bytes == len(b"15 degrees")
    done = one(events_at_end(second, tracker), Completed)
    assert done.total_tool_time_ms == recorded.execution_time_ms
    assert done.by_tool["get_weather"].avg_execution_time_ms == recorded.execution_time_ms


def test_anonymous_openai_requests_still_time_their_tools() -> None:
    tracker = SessionTracker()
    first = exchange(
        Endpoint.OPENAI_CHAT,
        fixture("openai_chat/request_basic.json"),
        stream=fixture("openai_chat/stream_parallel_tools.sse"),
        request_id="a1",
    )
    events_at_end(first, tracker)
    request = {
        "model": "gpt-4.1-nano",
        "messages": [
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_PieqNSej6kM9hgYbcQdbZSaC",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": "{}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_PieqNSej6kM9hgYbcQdbZSaC", "content": "sunny"},
        ],
    }
    second = exchange(Endpoint.OPENAI_CHAT, body(request), started_at=T0 + 2.0, request_id="a2")
    recorded = one(events_at_start(second, tracker), ToolCallRecorded)
    assert recorded.session_id == "a2"  # no session marker: one session per request
    assert recorded.execution_time_ms is not None
    assert 1000 < recorded.execution_time_ms < 2000


def test_unknown_calls_and_id_clashes() -> None:
    tracker = SessionTracker()
    tracker.remember("", "call_0", "Read", T0)
    request = {
        "model": "local",
        "messages": [
            {
                "role": "assistant",
                "tool_calls": [{"id": "call_0", "type": "function", "function": {"name": "Write", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "call_0", "content": "ok"},
            {"role": "tool", "tool_call_id": "call_never_seen", "content": "ok"},
        ],
    }
    clash, unknown = of_type(
        events_at_start(exchange(Endpoint.OPENAI_CHAT, body(request), started_at=T0 + 1), tracker), ToolCallRecorded
    )
    assert (clash.tool_name, clash.execution_time_ms) == ("Write", None)  # another client's call_0
    assert (unknown.tool_name, unknown.execution_time_ms) == ("unknown", None)


def test_only_results_answering_the_last_turn_are_recorded() -> None:
    history = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "old", "name": "Read", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "old", "content": "x"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "new", "name": "Edit", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "new", "content": "y"}]},
    ]
    events = events_at_start(exchange(Endpoint.ANTHROPIC_MESSAGES, _claude_request(*history)), SessionTracker())
    assert [(e.tool_call_id, e.tool_name) for e in of_type(events, ToolCallRecorded)] == [("new", "Edit")]
