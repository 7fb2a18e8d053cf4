"""OpenAI Responses API wire rendered from an `Answer`."""

from __future__ import annotations

import json
from typing import Any

from lunaroute.providers.mock import Answer, ToolCall, Usage
from lunaroute.providers.mock import _wire as wire


def _events(chunks: list[bytes]) -> list[tuple[str, Any]]:
    out = []
    for chunk in chunks:
        event_line, data_line, *rest = chunk.decode().split("\n")
        assert rest == ["", ""]
        assert event_line.startswith("event: ")
        payload = json.loads(data_line.removeprefix("data: "))
        assert payload["type"] == event_line.removeprefix("event: ")
        out.append((payload["type"], payload))
    return out


def test_response_object_shape() -> None:
    answer = Answer(text="Hello", model="gpt-4.1", usage=Usage(input_tokens=5, output_tokens=1, cache_read_tokens=3))
    body = json.loads(wire.render_response(answer))
    assert body["object"] == "response"
    assert body["status"] == "completed"
    assert body["output"][0]["type"] == "message"
    assert body["output"][0]["content"][0] == {
        "type": "output_text",
        "text": "Hello",
        "annotations": [],
        "logprobs": [],
    }
    assert body["usage"]["input_tokens"] == 8
    assert body["usage"]["input_tokens_details"]["cached_tokens"] == 3
    assert body["usage"]["total_tokens"] == 9


def test_text_stream_event_sequence() -> None:
    events = _events(wire.render_response_stream(Answer(text="abcd"), pieces=2))
    kinds = [kind for kind, _ in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [payload["sequence_number"] for _, payload in events] == list(range(len(events)))
    assert events[0][1]["response"]["status"] == "in_progress"
    assert events[0][1]["response"]["usage"] is None
    assert events[-1][1]["response"]["usage"]["output_tokens"] == 0
    assert events[6][1]["text"] == "abcd"


def test_function_call_and_reasoning_items_stream() -> None:
    call = ToolCall(id="call_9", name="f", arguments='{"a": [1, 2]}')
    answer = Answer(thinking="think", tool_calls=(call,))
    events = _events(wire.render_response_stream(answer, pieces=3))
    kinds = [kind for kind, _ in events]
    assert "response.reasoning_summary_text.delta" in kinds
    assert "response.output_text.delta" not in kinds
    added = [p["item"] for k, p in events if k == "response.output_item.added"]
    assert [item["type"] for item in added] == ["reasoning", "function_call"]
    assert added[1]["call_id"] == "call_9"
    assert added[1]["arguments"] == ""
    deltas = "".join(p["delta"] for k, p in events if k == "response.function_call_arguments.delta")
    assert deltas == '{"a": [1, 2]}'
    done = next(p for k, p in events if k == "response.function_call_arguments.done")
    assert done["arguments"] == '{"a": [1, 2]}'
    assert done["output_index"] == 1
    final = events[-1][1]["response"]
    assert [item["type"] for item in final["output"]] == ["reasoning", "function_call"]


def test_max_tokens_is_incomplete() -> None:
    answer = Answer(text="cut", stop_reason="max_tokens")
    body = json.loads(wire.render_response(answer))
    assert body["status"] == "incomplete"
    assert body["incomplete_details"] == {"reason": "max_output_tokens"}
    events = _events(wire.render_response_stream(answer))
    assert events[-1][0] == "response.incomplete"
