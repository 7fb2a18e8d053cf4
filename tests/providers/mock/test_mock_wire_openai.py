"""OpenAI chat-completions and legacy completions wire rendered from an `Answer`."""

from __future__ import annotations

import json
from typing import Any

from lunaroute.providers.mock import Answer, ToolCall, Usage
from lunaroute.providers.mock import _wire as wire

TOOL = ToolCall(id="call_1", name="get_weather", arguments='{"city": "Paris"}')


def _data(events: list[bytes]) -> list[Any]:
    out: list[Any] = []
    for event in events:
        assert event.startswith(b"data: ")
        assert event.endswith(b"\n\n")
        payload = event[len(b"data: ") : -2]
        out.append(payload.decode() if payload == b"[DONE]" else json.loads(payload))
    return out


def test_chat_completion_body_has_the_documented_shape() -> None:
    answer = Answer(text="Hi there", model="gpt-4o", id="chatcmpl-1", usage=Usage(input_tokens=10, output_tokens=2))
    body = json.loads(wire.render_chat_completion(answer))
    assert body["object"] == "chat.completion"
    assert body["id"] == "chatcmpl-1"
    assert body["model"] == "gpt-4o"
    choice = body["choices"][0]
    assert choice["message"]["content"] == "Hi there"
    assert choice["finish_reason"] == "stop"
    assert body["usage"]["prompt_tokens"] == 10
    assert body["usage"]["total_tokens"] == 12


def test_chat_completion_with_tool_calls_has_null_content_and_tool_calls_finish() -> None:
    body = json.loads(wire.render_chat_completion(Answer(tool_calls=(TOOL,))))
    message = body["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    ]
    assert body["choices"][0]["finish_reason"] == "tool_calls"


def test_cached_tokens_are_part_of_prompt_tokens() -> None:
    usage = Usage(input_tokens=10, output_tokens=1, cache_read_tokens=90)
    body = json.loads(wire.render_chat_completion(Answer(text="x", usage=usage)))
    assert body["usage"]["prompt_tokens"] == 100
    assert body["usage"]["prompt_tokens_details"]["cached_tokens"] == 90


def test_chat_stream_order_role_content_finish_done() -> None:
    events = _data(wire.render_chat_stream(Answer(text="abcdefgh"), pieces=4))
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    contents = [e["choices"][0]["delta"].get("content") for e in events[1:5]]
    assert contents == ["ab", "cd", "ef", "gh"]
    assert events[5]["choices"][0]["finish_reason"] == "stop"
    assert events[5]["choices"][0]["delta"] == {}
    assert events[6] == "[DONE]"
    assert all("usage" not in e for e in events[:-1])


def test_chat_stream_usage_chunk_only_when_requested() -> None:
    events = _data(wire.render_chat_stream(Answer(text="hi", usage=Usage(output_tokens=1)), include_usage=True))
    usage_chunk = events[-2]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == 1
    assert all(e["usage"] is None for e in events[:-2])


def test_chat_stream_tool_call_deltas_open_with_id_and_name_then_argument_fragments() -> None:
    second = ToolCall(name="lookup", arguments='{"q": 1}')
    events = _data(wire.render_chat_stream(Answer(tool_calls=(TOOL, second)), pieces=3))
    deltas = [e["choices"][0]["delta"] for e in events[1:-2]]
    assert events[0]["choices"][0]["delta"]["content"] is None
    calls = [d["tool_calls"][0] for d in deltas]
    assert calls[0] == {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    first_args = "".join(c["function"]["arguments"] for c in calls if c["index"] == 0)
    assert first_args == '{"city": "Paris"}'
    opening = next(c for c in calls if c["index"] == 1)
    assert opening["id"] == "call_mock_1"
    assert opening["function"]["name"] == "lookup"
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_max_tokens_maps_to_length() -> None:
    body = json.loads(wire.render_chat_completion(Answer(text="x", stop_reason="max_tokens")))
    assert body["choices"][0]["finish_reason"] == "length"


def test_completion_body_and_stream() -> None:
    body = json.loads(wire.render_completion(Answer(text="Once upon", model="gpt-3.5-turbo-instruct")))
    assert body["object"] == "text_completion"
    assert body["choices"][0]["text"] == "Once upon"
    events = _data(wire.render_completion_stream(Answer(text="Once upon"), pieces=3, include_usage=True))
    assert "".join(e["choices"][0]["text"] for e in events[:-2] if e["choices"]) == "Once upon"
    assert events[-3]["choices"][0]["finish_reason"] == "stop"
    assert events[-2]["choices"] == []
    assert events[-1] == "[DONE]"


def test_rendering_is_deterministic() -> None:
    answer = Answer(text="same", tool_calls=(TOOL,))
    assert wire.render_chat_stream(answer) == wire.render_chat_stream(answer)
    assert wire.render_chat_completion(answer) == wire.render_chat_completion(answer)
