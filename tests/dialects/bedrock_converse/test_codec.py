"""Bedrock Converse codec against golden wire fixtures: requests (checked against botocore's service model),
answers, event streams in any chunking, errors, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lunaroute import model as m
from lunaroute.dialects import anthropic_messages, bedrock_converse, openai_chat
from lunaroute.errors import UnsupportedFeature, UpstreamError
from lunaroute.testing._bedrock_wire import check_converse_request
from lunaroute.testing._eventstream import event_message, exception_message

FIXTURES = Path(__file__).parents[2] / "fixtures" / "bedrock_converse"
CLAUDE = "anthropic.claude-sonnet-4-5-20250929-v1:0"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def framed(name: str) -> bytes:
    return b"".join(event_message(kind, json.dumps(payload).encode()) for kind, payload in json.loads(fixture(name)))


def decode_stream(data: bytes, cuts: list[int] | None = None) -> list[m.StreamEvent]:
    decoder = bedrock_converse.StreamDecoder()
    events: list[m.StreamEvent] = []
    start = 0
    for cut in sorted(cuts or []):
        events += decoder.feed(data[start:cut])
        start = cut
    return events + decoder.feed(data[start:]) + decoder.finish()


def without_ids(events: list[m.StreamEvent]) -> list[m.StreamEvent]:
    return [msgspec.structs.replace(e, id="") if isinstance(e, m.MessageStart) else e for e in events]


def test_anthropic_request_encodes_to_the_golden_converse_body() -> None:
    request = anthropic_messages.decode_request(fixture("anthropic_request_tools.json"))
    body = bedrock_converse.encode_request(request, model_name=CLAUDE)
    assert json.loads(body) == json.loads(fixture("converse_request_tools.json"))
    assert check_converse_request(CLAUDE, body, stream=False) is None


def test_openai_request_hoists_system_merges_tool_turns_and_maps_effort() -> None:
    request = openai_chat.decode_request(
        json.dumps(
            {
                "model": "gpt-x",
                "reasoning_effort": "high",
                "max_completion_tokens": 30000,
                "top_p": 0.5,
                "messages": [
                    {"role": "developer", "content": "Be brief."},
                    {"role": "user", "content": "Weather and time?"},
                    {
                        "role": "assistant",
                        "reasoning_content": "unsigned thoughts",
                        "tool_calls": [
                            {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}},
                            {"id": "c2", "type": "function", "function": {"name": "t", "arguments": '{"tz":"CET"}'}},
                        ],
                    },
                    {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
                    {"role": "tool", "tool_call_id": "c2", "content": "noon"},
                    {"role": "user", "content": "Thanks"},
                ],
                "tools": [
                    {"type": "function", "function": {"name": "w"}},
                    {"type": "function", "function": {"name": "t"}},
                ],
                "tool_choice": {"type": "function", "function": {"name": "w"}},
            }
        ).encode()
    )
    body = json.loads(bedrock_converse.encode_request(request, model_name=f"us.{CLAUDE}"))
    assert body["system"] == [{"text": "Be brief."}]
    assert [msg["role"] for msg in body["messages"]] == ["user", "assistant", "user"]
    assert [next(iter(b)) for b in body["messages"][1]["content"]] == ["toolUse", "toolUse"]
    assert [next(iter(b)) for b in body["messages"][2]["content"]] == ["toolResult", "toolResult", "text"]
    assert body["toolConfig"]["toolChoice"] == {"tool": {"name": "w"}}
    assert body["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 24576}}
    assert body["inferenceConfig"] == {"maxTokens": 30000}  # top_p below 0.95 goes with thinking on
    assert check_converse_request(CLAUDE, json.dumps(body).encode(), stream=True) is None


def test_non_claude_models_get_no_anthropic_fields() -> None:
    request = m.Request(
        model="x",
        messages=(m.Message(role="user", content=(m.TextBlock(text="hi"),)),),
        reasoning=m.Reasoning(effort="high"),
        top_k=5,
        temperature=0.2,
    )
    body = json.loads(
        bedrock_converse.encode_request(request, model_name="amazon.nova-pro-v1:0", default_max_tokens=99)
    )
    assert body == {
        "messages": [{"role": "user", "content": [{"text": "hi"}]}],
        "inferenceConfig": {"maxTokens": 99, "temperature": 0.2},
    }


def test_tool_choice_none_sends_tools_only_when_the_history_needs_them() -> None:
    tool = m.Tool(name="w")
    plain = m.Request(
        model="x",
        messages=(m.Message(role="user", content=(m.TextBlock(text="hi"),)),),
        tools=(tool,),
        tool_choice=m.ToolChoiceNone(),
    )
    assert "toolConfig" not in json.loads(bedrock_converse.encode_request(plain, model_name=CLAUDE))
    history = msgspec.structs.replace(
        plain,
        messages=(
            *plain.messages,
            m.Message(role="assistant", content=(m.ToolUseBlock(id="t1", name="w"),)),
            m.Message(role="tool", content=(m.ToolResultBlock(tool_use_id="t1", content="ok"),)),
        ),
    )
    config = json.loads(bedrock_converse.encode_request(history, model_name=CLAUDE))["toolConfig"]
    assert config == {
        "tools": [{"toolSpec": {"name": "w", "inputSchema": {"json": {"type": "object", "properties": {}}}}}]
    }


@pytest.mark.parametrize(
    ("block", "match"),
    [
        (m.ImageBlock(source=m.UrlSource(url="https://example.com/a.png")), "image URLs"),
        (m.ImageBlock(source=m.FileSource(file_id="file_1")), "uploaded files"),
        (m.ImageBlock(source=m.Base64Source(media_type="image/tiff", data="AA==")), "image/tiff"),
    ],
)
def test_what_converse_cannot_carry_is_refused(block: m.Block, match: str) -> None:
    request = m.Request(model="x", messages=(m.Message(role="user", content=(block,)),))
    with pytest.raises(UnsupportedFeature, match=match):
        bedrock_converse.encode_request(request, model_name=CLAUDE)


def test_json_object_format_is_refused_and_json_schema_sent() -> None:
    base = m.Request(model="x", messages=(m.Message(role="user", content=(m.TextBlock(text="hi"),)),))
    with pytest.raises(UnsupportedFeature, match="json_object"):
        bedrock_converse.encode_request(
            msgspec.structs.replace(base, response_format=m.ResponseFormat(kind="json_object")), model_name=CLAUDE
        )
    schema = m.ResponseFormat(kind="json_schema", name="answer", schema={"type": "object"})
    body = json.loads(
        bedrock_converse.encode_request(msgspec.structs.replace(base, response_format=schema), model_name=CLAUDE)
    )
    assert body["outputConfig"] == {
        "textFormat": {
            "type": "json_schema",
            "structure": {"jsonSchema": {"schema": '{"type":"object"}', "name": "answer"}},
        }
    }


def test_answer_with_reasoning_text_and_tool_use() -> None:
    response = bedrock_converse.decode_response(fixture("response_tool_use.json"))
    assert response.id.startswith("msg_bdrk_")
    assert response.content == (
        m.ThinkingBlock(thinking="The user wants the weather.", signature="c2lnbmF0dXJl"),
        m.TextBlock(text="I'll check the weather."),
        m.ToolUseBlock(id="tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", name="get_weather", input={"location": "Seattle, WA"}),
    )
    assert response.stop_reason == "tool_use"
    assert response.usage == m.Usage(input_tokens=410, output_tokens=87, cache_read_tokens=1200)
    anthropic = json.loads(anthropic_messages.encode_response(response, model_name=CLAUDE))
    assert anthropic["usage"]["cache_read_input_tokens"] == 1200


def test_unusable_answer_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError):
        bedrock_converse.decode_response(b'{"stopReason": "end_turn"}')


EXPECTED_STREAM: list[m.StreamEvent] = [
    m.MessageStart(id="", model=""),
    m.BlockStart(index=0, block=m.ThinkingBlock(thinking="")),
    m.ThinkingDelta(index=0, thinking="Weather "),
    m.ThinkingDelta(index=0, thinking="needed."),
    m.SignatureDelta(index=0, signature="c2ln"),
    m.BlockStop(index=0),
    m.BlockStart(index=1, block=m.TextBlock(text="")),
    m.TextDelta(index=1, text="Checking"),
    m.TextDelta(index=1, text=" now."),
    m.BlockStop(index=1),
    m.BlockStart(index=2, block=m.ToolUseBlock(id="tooluse_1", name="get_weather")),
    m.ToolInputDelta(index=2, partial_json='{"location": '),
    m.ToolInputDelta(index=2, partial_json='"Seattle"}'),
    m.BlockStop(index=2),
    m.MessageDelta(stop_reason="tool_use"),
    m.MessageDelta(usage=m.Usage(input_tokens=30, output_tokens=12)),
    m.MessageStop(),
]


def test_stream_decodes_to_block_events() -> None:
    assert without_ids(decode_stream(framed("stream_tool_use.json"))) == EXPECTED_STREAM
    response = m.accumulate(decode_stream(framed("stream_tool_use.json")))
    assert response.content[2] == m.ToolUseBlock(id="tooluse_1", name="get_weather", input={"location": "Seattle"})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2000), max_size=12))
def test_any_chunking_of_the_stream_decodes_the_same(cuts: list[int]) -> None:
    data = framed("stream_tool_use.json")
    assert without_ids(decode_stream(data, [c % (len(data) + 1) for c in cuts])) == EXPECTED_STREAM


def test_stream_exception_is_a_typed_stream_error() -> None:
    throttled = exception_message("throttlingException", fixture("error_throttling.json"))
    events = decode_stream(event_message("messageStart", b'{"role":"assistant"}') + throttled)
    error = events[-1]
    assert isinstance(error, m.StreamError)
    assert error.error.kind == "rate_limit"
    assert error.error.status == 429
    assert error.error.message.startswith("Too many requests")


def test_broken_frame_and_early_end_are_stream_errors() -> None:
    data = bytearray(framed("stream_tool_use.json"))
    data[-1] ^= 0xFF  # the last message's CRC
    broken = decode_stream(bytes(data))
    assert isinstance(broken[-1], m.StreamError)
    assert "broken event-stream frame" in broken[-1].error.message
    early = decode_stream(event_message("messageStart", b'{"role":"assistant"}'))
    assert isinstance(early[-1], m.StreamError)
    stopped = decode_stream(
        event_message("contentBlockDelta", b'{"contentBlockIndex":0,"delta":{"text":"a"}}')
        + event_message("messageStop", b'{"stopReason":"max_tokens"}')
    )
    assert stopped[-3:] == [m.BlockStop(index=0), m.MessageDelta(stop_reason="max_tokens"), m.MessageStop()]


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (429, b'{"message":"Too many requests"}', "rate_limit", None),
        (503, b'{"message":"Service unavailable"}', "overloaded", None),
        (424, b'{"message":"model failed"}', "api_error", None),
        (403, b'{"message":"The request signature we calculated does not match"}', "permission", None),
        (400, b'{"message":"Input is too long for requested model."}', "invalid_request", "context_length_exceeded"),
        (400, b'{"message":"Malformed input request"}', "invalid_request", None),
        (500, b"<html>oops</html>", "api_error", None),
    ],
)
def test_errors_map_by_status(status: int, body: bytes, kind: str, code: str | None) -> None:
    error = bedrock_converse.decode_error(status, body)
    assert (error.kind, error.code, error.status) == (kind, code, status)
