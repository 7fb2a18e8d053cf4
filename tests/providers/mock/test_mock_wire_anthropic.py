"""Anthropic messages wire rendered from an `Answer`."""

from __future__ import annotations

import json
from typing import Any

from lunaroute.providers.mock import Answer, ToolCall, Usage
from lunaroute.providers.mock import _wire as wire


def _events(chunks: list[bytes]) -> list[tuple[str, Any]]:
    out = []
    for chunk in chunks:
        event_line, data_line, *_ = chunk.decode().split("\n")
        payload = json.loads(data_line.removeprefix("data: "))
        assert payload["type"] == event_line.removeprefix("event: ")
        out.append((payload["type"], payload))
    return out


FULL = Answer(
    text="Sunny.",
    thinking="Let me check.",
    thinking_signature="sig==",
    tool_calls=(ToolCall(id="toolu_1", name="weather", arguments='{"city": "Paris"}'),),
    usage=Usage(input_tokens=12, output_tokens=7, cache_read_tokens=4),
    model="claude-sonnet-4",
)


def test_message_body_blocks_in_order() -> None:
    body = json.loads(wire.render_message(FULL))
    assert body["type"] == "message"
    assert body["role"] == "assistant"
    assert [b["type"] for b in body["content"]] == ["thinking", "text", "tool_use"]
    assert body["content"][0] == {"type": "thinking", "thinking": "Let me check.", "signature": "sig=="}
    assert body["content"][2]["input"] == {"city": "Paris"}
    assert body["stop_reason"] == "tool_use"
    assert body["usage"] == {
        "input_tokens": 12,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 4,
        "output_tokens": 7,
    }


def test_stream_sequence_with_every_block_kind() -> None:
    events = _events(wire.render_message_stream(FULL, pieces=2, ping=True))
    kinds = [k for k, _ in events]
    assert kinds[0] == "message_start"
    assert kinds[2] == "ping"
    assert kinds[-2:] == ["message_delta", "message_stop"]
    start = events[0][1]["message"]
    assert start["content"] == []
    assert start["stop_reason"] is None
    assert start["usage"]["output_tokens"] == 1
    deltas = [(p["index"], p["delta"]) for k, p in events if k == "content_block_delta"]
    thinking = "".join(d["thinking"] for i, d in deltas if d["type"] == "thinking_delta")
    assert thinking == "Let me check."
    assert [d["signature"] for _, d in deltas if d["type"] == "signature_delta"] == ["sig=="]
    assert "".join(d["text"] for i, d in deltas if d["type"] == "text_delta") == "Sunny."
    partial = "".join(d["partial_json"] for i, d in deltas if d["type"] == "input_json_delta")
    assert json.loads(partial) == {"city": "Paris"}
    starts = [p["content_block"] for k, p in events if k == "content_block_start"]
    assert starts[2] == {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}
    assert [p["index"] for k, p in events if k == "content_block_stop"] == [0, 1, 2]
    message_delta = events[-2][1]
    assert message_delta["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert message_delta["usage"] == {"output_tokens": 7}


def test_text_only_stream_has_no_ping_by_default() -> None:
    kinds = [k for k, _ in _events(wire.render_message_stream(Answer(text="hi"), pieces=8))]
    assert kinds == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_invalid_tool_arguments_still_stream_verbatim() -> None:
    answer = Answer(tool_calls=(ToolCall(name="f", arguments='{"broken'),))
    assert json.loads(wire.render_message(answer))["content"][0]["input"] == {}
    events = _events(wire.render_message_stream(answer))
    partial = "".join(p["delta"]["partial_json"] for k, p in events if k == "content_block_delta")
    assert partial == '{"broken'
