"""Golden wire fixtures of the Responses API through the codec: requests, response objects, streams, errors."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from lunaroute import model as m
from lunaroute.dialects import anthropic_messages, openai_chat
from lunaroute.dialects import openai_responses as codec
from lunaroute.errors import InvalidRequest, UnsupportedFeature, UpstreamError

FIXTURES = Path(__file__).parents[2] / "fixtures" / "openai_responses"


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _events(name: str) -> list[m.StreamEvent]:
    decoder = codec.StreamDecoder()
    return decoder.feed(_fixture(name)) + decoder.finish()


def test_codex_request_decodes_every_item_kind() -> None:
    req = codec.decode_request(_fixture("request_codex.json"))
    assert [msg.role for msg in req.messages] == ["system", "developer", "user", "assistant", "tool"]
    assert req.messages[0].content == (m.TextBlock(text="You are a coding agent."),)
    image = req.messages[2].content[1]
    assert image == m.ImageBlock(source=m.Base64Source(media_type="image/png", data="iVBORw0KGgo="), detail="high")
    assistant = req.messages[3].content
    assert assistant[0] == m.ThinkingBlock(thinking="I should run ls.", signature="gAAAA-signature")
    assert assistant[1] == m.TextBlock(text="A red pixel. Listing files.")
    assert assistant[2] == m.ToolUseBlock(id="call_ls", name="shell", input={"command": ["ls"]})
    assert req.messages[4].content == (m.ToolResultBlock(tool_use_id="call_ls", content="README.md\nsrc\n"),)
    tool = req.tools[0]
    assert isinstance(tool, m.Tool)
    assert tool.name == "shell"
    assert tool.strict is False
    assert req.tool_choice == m.ToolChoiceAuto()
    assert req.parallel_tool_calls is False
    assert req.reasoning == m.Reasoning(effort="high")
    assert req.max_tokens == 2048
    assert req.temperature == 0.5
    assert req.user == "user-1"
    assert req.response_format == m.ResponseFormat(
        kind="json_schema", name="answer", schema={"type": "object"}, strict=True
    )
    assert req.stream
    assert req.include_usage
    assert req.extra is not None
    assert set(req.extra.fields) == {"reasoning", "store", "include", "prompt_cache_key", "metadata"}


def test_codex_request_to_anthropic_keeps_the_conversation() -> None:
    req = codec.decode_request(_fixture("request_codex.json"))
    body = json.loads(anthropic_messages.encode_request(req, model_name="claude-sonnet-4-6"))
    assert body["system"] == [
        {"type": "text", "text": "You are a coding agent."},
        {"type": "text", "text": "Sandbox: workspace-write."},
    ]
    assert [msg["role"] for msg in body["messages"]] == ["user", "assistant", "user"]
    assistant = body["messages"][1]["content"]
    assert assistant[0] == {"type": "thinking", "thinking": "I should run ls.", "signature": "gAAAA-signature"}
    assert assistant[2] == {"type": "tool_use", "id": "call_ls", "name": "shell", "input": {"command": ["ls"]}}
    assert body["messages"][2]["content"][0]["type"] == "tool_result"
    assert body["thinking"]["type"] == "enabled"
    assert body["max_tokens"] == 2048
    assert "store" not in body
    assert "include" not in body


def test_codex_request_to_chat() -> None:
    req = codec.decode_request(_fixture("request_codex.json"))
    body = json.loads(openai_chat.encode_request(req, model_name="qwen"))
    assert [msg["role"] for msg in body["messages"]] == ["system", "developer", "user", "assistant", "tool"]
    assert body["messages"][3]["tool_calls"][0]["id"] == "call_ls"
    assert body["reasoning_effort"] == "high"
    assert body["max_completion_tokens"] == 2048
    assert body["response_format"]["json_schema"]["name"] == "answer"
    assert "include" not in body
    assert "store" not in body


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m", "input": "hi", "tools": [{"type": "web_search"}]}, "tools"),
        ({"model": "m", "input": "hi", "background": True}, "background"),
        ({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]}, "input"),
    ],
)
def test_what_no_other_dialect_can_do_is_refused_by_name(body: dict[str, object], param: str) -> None:
    req = codec.decode_request(msgspec.json.encode(body))
    with pytest.raises(UnsupportedFeature) as info:
        codec.check_translatable(req, "anthropic")
    assert info.value.param == param


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b'{"model": "m"}',
        b'{"model": "m", "input": 3}',
        b'{"model": "m", "input": [{"role": "robot", "content": "x"}]}',
    ],
)
def test_bad_requests_name_the_field(body: bytes) -> None:
    with pytest.raises(InvalidRequest):
        codec.decode_request(body)


def test_function_call_response() -> None:
    resp = codec.decode_response(_fixture("response_function_call.json"))
    assert resp.id == "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b"
    assert resp.created == 1741476542
    assert resp.content == (
        m.ThinkingBlock(thinking="The user wants the weather.", signature="gAAAAABo-enc"),
        m.ToolUseBlock(id="call_12345xyz", name="get_weather", input={"location": "Paris, France"}),
    )
    assert resp.stop_reason == "tool_use"
    assert resp.usage == m.Usage(input_tokens=163, output_tokens=23, cache_read_tokens=128, reasoning_tokens=12)
    anthropic = json.loads(anthropic_messages.encode_response(resp))
    assert anthropic["stop_reason"] == "tool_use"
    assert anthropic["content"][0]["signature"] == "gAAAAABo-enc"


def test_incomplete_response_is_cut_short() -> None:
    resp = codec.decode_response(_fixture("response_incomplete.json"))
    assert resp.stop_reason == "max_tokens"
    assert resp.content == (m.TextBlock(text="Under the soft glow of the moon"),)
    again = json.loads(codec.encode_response(resp))
    assert again["status"] == "incomplete"
    assert again["incomplete_details"] == {"reason": "max_output_tokens"}


def test_failed_response_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError):
        codec.decode_response(b'{"id": "resp_1", "status": "failed", "output": [], "error": {"message": "boom"}}')


def test_text_stream() -> None:
    events = _events("stream_text.sse")
    assert isinstance(events[0], m.MessageStart)
    assert events[0].id == "resp_abc"
    assert isinstance(events[-1], m.MessageStop)
    resp = m.accumulate(events)
    assert resp.content == (m.TextBlock(text="Hi there!"),)
    assert resp.stop_reason == "end_turn"
    assert resp.usage.output_tokens == 11


def test_reasoning_and_tool_call_stream() -> None:
    resp = m.accumulate(_events("stream_reasoning_tool_call.sse"))
    assert resp.content == (
        m.ThinkingBlock(thinking="Look up the weather.", signature="gAAAA-enc"),
        m.ToolUseBlock(id="call_1", name="get_weather", input={"location": "Paris"}),
    )
    assert resp.stop_reason == "tool_use"
    assert resp.usage == m.Usage(input_tokens=60, output_tokens=30, cache_read_tokens=40, reasoning_tokens=20)


def test_failed_stream_is_a_stream_error() -> None:
    events = _events("stream_failed.sse")
    error = events[-1]
    assert isinstance(error, m.StreamError)
    assert error.error.kind == "rate_limit"
    assert error.error.message == "Rate limit reached for gpt-4.1."


def test_stream_cut_short_ends_in_an_error() -> None:
    data = _fixture("stream_text.sse")
    decoder = codec.StreamDecoder()
    events = decoder.feed(data[: len(data) // 2]) + decoder.finish()
    assert isinstance(events[-1], m.StreamError)


def test_encoded_stream_names_items_after_the_response_and_counts_events() -> None:
    encoder = codec.StreamEncoder(model_name="gpt-5.5", response_id="resp_gw1", created=7)
    events = anthropic_messages.StreamDecoder()
    upstream = b"".join(
        [
            b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"usage":{"input_tokens":3,"output_tokens":1}}}\n\n',
            b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n\n',
            b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
            b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}\n\n',
            b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
        ]
    )
    body = b"".join(encoder.encode(e) for e in events.feed(upstream) + events.finish()) + encoder.finish()
    payloads = [json.loads(line[6:]) for line in body.split(b"\n") if line.startswith(b"data: ")]
    assert [p["type"] for p in payloads] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [p["sequence_number"] for p in payloads] == list(range(len(payloads)))
    completed = payloads[-1]["response"]
    assert completed["id"] == "resp_gw1"
    assert completed["model"] == "gpt-5.5"
    assert completed["output"][0]["id"] == "msg_gw1_0"
    assert completed["usage"]["input_tokens"] == 3
    assert completed["usage"]["output_tokens"] == 2


def test_error_bodies_share_the_openai_shape() -> None:
    err = codec.decode_error(
        404,
        b'{"error": {"message": "Response with id \'resp_x\' not found.", "type": "invalid_request_error", "param": null, "code": null}}',
    )
    assert err.kind == "not_found"
    assert codec.error_status(err) == 404
    assert json.loads(codec.encode_error(err))["error"]["message"] == "Response with id 'resp_x' not found."


APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Edit files. This is a FREEFORM tool.",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch hunk+ end_patch"},
}


def test_custom_tools_become_one_string_function_tools() -> None:
    body = {
        "model": "gpt-5.5",
        "tools": [APPLY_PATCH],
        "input": [
            {"role": "user", "content": "patch it"},
            {"type": "custom_tool_call", "call_id": "call_p", "name": "apply_patch", "input": "*** Begin Patch"},
            {"type": "custom_tool_call_output", "call_id": "call_p", "output": "Done"},
        ],
    }
    req = codec.decode_request(msgspec.json.encode(body))
    [tool] = req.tools
    assert isinstance(tool, m.Tool)
    assert tool.input_schema["required"] == ["input"]
    assert "start: begin_patch" in tool.input_schema["properties"]["input"]["description"]
    assert req.messages[1].content == (
        m.ToolUseBlock(id="call_p", name="apply_patch", input={"input": "*** Begin Patch"}),
    )
    assert req.messages[2].content == (m.ToolResultBlock(tool_use_id="call_p", content="Done"),)
    anthropic = json.loads(anthropic_messages.encode_request(req, model_name="claude"))
    assert anthropic["tools"][0]["input_schema"] == tool.input_schema
    again = json.loads(codec.encode_request(req, model_name="gpt-5.5"))
    assert again["tools"] == [APPLY_PATCH]
    assert again["input"][1] == {
        "type": "custom_tool_call",
        "call_id": "call_p",
        "name": "apply_patch",
        "input": "*** Begin Patch",
    }
    assert again["input"][2]["type"] == "custom_tool_call_output"


def test_calls_of_custom_tools_are_custom_tool_call_items() -> None:
    call = m.ToolUseBlock(id="toolu_1", name="apply_patch", input={"input": "*** Begin Patch\n"})
    resp = m.Response(id="resp_c", model="claude", content=(call,), stop_reason="tool_use")
    custom = frozenset({"apply_patch"})
    [item] = json.loads(codec.encode_response(resp, custom=custom))["output"]
    assert item == {
        "id": "ctc_c_0",
        "type": "custom_tool_call",
        "status": "completed",
        "call_id": "toolu_1",
        "name": "apply_patch",
        "input": "*** Begin Patch\n",
    }
    encoder = codec.StreamEncoder(response_id="resp_c", custom=custom)
    body = b"".join(encoder.encode(e) for e in m.stream_events(resp)) + encoder.finish()
    payloads = [json.loads(line[6:]) for line in body.split(b"\n") if line.startswith(b"data: ")]
    kinds = [p["type"] for p in payloads]
    assert "response.function_call_arguments.delta" not in kinds
    done = next(p for p in payloads if p["type"] == "response.custom_tool_call_input.done")
    assert done["input"] == "*** Begin Patch\n"
    assert payloads[-1]["response"]["output"] == [item]


def test_refusal_and_hosted_item_stream() -> None:
    resp = m.accumulate(_events("stream_refusal_custom_tool_call.sse"))
    refusal, custom = resp.content
    assert refusal == m.RefusalBlock(text="I can't help with that.")
    assert isinstance(custom, m.UnknownBlock)
    assert custom.kind == "custom_tool_call"
    assert resp.usage.output_tokens == 7
