"""OpenAI chat codec against golden wire fixtures: requests, responses, streams, errors, validation."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from lunaroute import model as m
from lunaroute.dialects import openai_chat as codec
from lunaroute.errors import InvalidRequest

FIXTURES = Path(__file__).parents[2] / "fixtures" / "openai_chat"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def stream(data: bytes) -> list[m.StreamEvent]:
    decoder = codec.StreamDecoder()
    return decoder.feed(data) + decoder.finish()


def test_basic_request() -> None:
    req = codec.decode_request(fixture("request_basic.json"))
    assert req.messages[0] == m.Message(role="developer", content=(m.TextBlock(text="You are a helpful assistant."),))
    assert (req.temperature, req.seed, req.stop, req.user) == (0.7, 42, ("END",), "user-1234")
    assert req.max_tokens is None


def test_tools_request() -> None:
    req = codec.decode_request(fixture("request_tools.json"))
    user = req.messages[1]
    assert user.content[1] == m.ImageBlock(
        source=m.UrlSource(url="https://upload.wikimedia.org/wikipedia/commons/boston.jpg"), detail="high"
    )
    assert user.content[2] == m.ImageBlock(source=m.Base64Source(media_type="image/png", data="iVBORw0KGgo="))
    calls = req.messages[2].content
    assert [c.id for c in calls if isinstance(c, m.ToolUseBlock)] == ["call_abc123", "call_def456"]
    assert req.messages[3] == m.Message(
        role="tool",
        content=(m.ToolResultBlock(tool_use_id="call_abc123", content='{"temperature": 22, "unit": "celsius"}'),),
    )
    assert req.tool_choice == m.ToolChoiceTool(name="get_current_weather")
    assert req.parallel_tool_calls is False
    assert req.max_tokens == 2000
    assert req.reasoning == m.Reasoning(effort="medium")
    assert req.include_usage
    tool = req.tools[0]
    assert isinstance(tool, m.Tool)
    assert tool.strict is False


@pytest.mark.parametrize("name", ["request_basic.json", "request_tools.json"])
def test_request_fixture_round_trip(name: str) -> None:
    req = codec.decode_request(fixture(name))
    assert codec.decode_request(codec.encode_request(req, model_name=req.model)) == req


def test_legacy_max_tokens_key_is_kept() -> None:
    body = b'{"model": "llama3", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 50, "n": 1}'
    out = msgspec.json.decode(codec.encode_request(codec.decode_request(body), model_name="llama3"))
    assert out["max_tokens"] == 50
    assert "max_completion_tokens" not in out
    assert out["n"] == 1


def test_responses_and_cached_usage() -> None:
    text = codec.decode_response(fixture("response_text.json"))
    assert text.content == (m.TextBlock(text="Hello! How can I assist you today?"),)
    assert text.stop_reason == "end_turn"
    tools = codec.decode_response(fixture("response_tool_calls.json"))
    assert tools.content == (
        m.ToolUseBlock(id="call_abc123", name="get_current_weather", input={"location": "Boston, MA"}),
    )
    assert tools.stop_reason == "tool_use"
    # prompt_tokens (2082) includes the 1920 cached tokens; the model's input excludes them.
    assert (tools.usage.input_tokens, tools.usage.cache_read_tokens) == (162, 1920)
    encoded = msgspec.json.decode(codec.encode_response(tools))
    assert encoded["usage"]["prompt_tokens"] == 2082
    assert encoded["usage"]["prompt_tokens_details"]["cached_tokens"] == 1920
    reasoning = codec.decode_response(fixture("response_reasoning.json"))
    assert reasoning.content[0] == m.ThinkingBlock(thinking="Compare 9.11 and 9.8: 9.8 = 9.80 > 9.11.")
    assert (reasoning.stop_reason, reasoning.usage.reasoning_tokens) == ("max_tokens", 180)


def test_stream_text_with_usage_chunk() -> None:
    events = stream(fixture("stream_text.sse"))
    resp = m.accumulate(events)
    assert resp.content == (m.TextBlock(text="Hello there, café ☕"),)
    assert resp.usage == m.Usage(input_tokens=9, output_tokens=12)
    assert isinstance(events[-1], m.MessageStop)


def test_stream_parallel_tool_calls_become_blocks() -> None:
    events = stream(fixture("stream_parallel_tools.sse"))
    starts = [e for e in events if isinstance(e, m.BlockStart)]
    assert [(s.index, s.block) for s in starts] == [
        (0, m.ToolUseBlock(id="call_PieqNSej6kM9hgYbcQdbZSaC", name="get_weather")),
        (1, m.ToolUseBlock(id="call_Bm3YyQw0b1e8cPj2uXq9Zt4K", name="get_weather")),
    ]
    assert events.index(m.BlockStop(index=0)) < events.index(starts[1])
    resp = m.accumulate(events)
    assert [b.input for b in resp.content if isinstance(b, m.ToolUseBlock)] == [
        {"location": "Paris"},
        {"location": "Bogotá"},
    ]
    assert resp.stop_reason == "tool_use"
    assert (resp.usage.input_tokens, resp.usage.cache_read_tokens) == (56, 64)


def test_stream_reasoning_content_becomes_thinking() -> None:
    resp = m.accumulate(stream(fixture("stream_reasoning.sse")))
    assert resp.content == (m.ThinkingBlock(thinking="Okay, compare decimals."), m.TextBlock(text="9.8 is larger."))
    assert resp.usage.reasoning_tokens == 20


def test_stream_error_chunk() -> None:
    events = stream(fixture("stream_error.sse"))
    assert isinstance(events[-1], m.StreamError)
    assert events[-1].error.message == "The server had an error while processing your request."


def test_stream_without_done_and_with_bad_json() -> None:
    no_done = fixture("stream_text.sse").replace(b"data: [DONE]\n\n", b"")
    assert isinstance(stream(no_done)[-1], m.MessageStop)
    cut = fixture("stream_text.sse")[:400]
    assert isinstance(stream(cut)[-1], m.StreamError)
    assert isinstance(stream(b"data: {oops\n\n")[-1], m.StreamError)


def test_stream_encoder_shapes() -> None:
    encoder = codec.StreamEncoder(model_name="gpt", include_usage=False, created=7)
    events: list[m.StreamEvent] = [
        m.MessageStart(id="msg_1", model="claude"),
        m.BlockStart(index=0, block=m.ThinkingBlock(thinking="")),
        m.ThinkingDelta(index=0, thinking="hmm"),
        m.SignatureDelta(index=0, signature="sig"),
        m.BlockStop(index=0),
        m.BlockStart(index=1, block=m.ToolUseBlock(id="toolu_1", name="f")),
        m.ToolInputDelta(index=1, partial_json='{"a":'),
        m.ToolInputDelta(index=1, partial_json="1}"),
        m.BlockStop(index=1),
        m.MessageDelta(stop_reason="tool_use", usage=m.Usage(output_tokens=3)),
        m.MessageStop(),
    ]
    out = b"".join(encoder.encode(e) for e in events) + encoder.finish()
    chunks = [msgspec.json.decode(line[6:]) for line in out.split(b"\n\n") if line.startswith(b"data: {")]
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert deltas[1] == {"reasoning_content": "hmm"}
    assert deltas[2]["tool_calls"] == [
        {"index": 0, "id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": ""}}
    ]
    assert deltas[3]["tool_calls"] == [{"index": 0, "function": {"arguments": '{"a":'}}]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert all(c["model"] == "gpt" and c["id"] == "msg_1" for c in chunks)
    assert out.endswith(b"data: [DONE]\n\n")
    assert b'"usage"' not in out


def test_stream_encoder_usage_chunk_and_error() -> None:
    encoder = codec.StreamEncoder(model_name="gpt", include_usage=True, created=7)
    out = encoder.encode(m.MessageStart(id="x", model="m", usage=m.Usage(input_tokens=5, cache_read_tokens=10)))
    out += encoder.encode(m.MessageDelta(stop_reason="end_turn", usage=m.Usage(output_tokens=2)))
    out += encoder.encode(m.MessageStop())
    usage_chunk = msgspec.json.decode(out.split(b"\n\n")[-3][6:])
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["prompt_tokens"] == 15
    assert usage_chunk["usage"]["prompt_tokens_details"]["cached_tokens"] == 10
    failing = codec.StreamEncoder(model_name="gpt", include_usage=True)
    failing.encode(m.MessageStart(id="x", model="m"))
    err = failing.encode(m.StreamError(error=m.ErrorInfo(kind="overloaded", message="busy", status=529)))
    assert msgspec.json.decode(err[6:]) == {
        "error": {"message": "busy", "type": "server_error", "param": None, "code": None}
    }
    assert failing.finish() == b""


@pytest.mark.parametrize(
    ("name", "status", "kind"),
    [
        ("error_rate_limit.json", 429, "rate_limit"),
        ("error_invalid_request.json", 400, "invalid_request"),
        ("error_overloaded.json", 503, "overloaded"),
    ],
)
def test_errors(name: str, status: int, kind: str) -> None:
    err = codec.decode_error(status, fixture(name))
    assert err.kind == kind
    assert codec.error_status(err) == status
    body = msgspec.json.decode(codec.encode_error(err))
    assert set(body["error"]) == {"message", "type", "param", "code"}


def test_error_param_and_code_are_kept() -> None:
    err = codec.decode_error(400, fixture("error_invalid_request.json"))
    assert (err.param, err.code) == ("temperature", "invalid_value")
    assert codec.decode_error(429, b'{"error": {"message": "q", "type": "insufficient_quota"}}').kind == "billing"
    assert codec.decode_error(500, b"oops").message == "oops"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"", None),
        (b'{"model": "g", "messages": [{"role": "user", "content": "x"}], "temperature": Infinity}', None),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"model": "", "messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"model": "g", "messages": []}', "messages"),
        (b'{"model": "g", "messages": "hi"}', "messages"),
        (b'{"model": "g", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}', "max_tokens"),
        (
            b'{"model": "g", "messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 0}',
            "max_completion_tokens",
        ),
        (b'{"model": "g", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}', "temperature"),
        (b'{"model": "g", "messages": [{"role": "user", "content": "x"}], "top_p": 1.5}', "top_p"),
        (b'{"model": "g", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}', "stream"),
        (b'{"model": "g", "messages": [{"role": "wizard", "content": "x"}]}', "messages[0].role"),
        (b'{"model": "g", "messages": [{"role": "tool", "content": "x"}]}', "messages[0].tool_call_id"),
        (b'{"model": "g", "messages": [{"role": "user", "content": "x"}], "tool_choice": "maybe"}', "tool_choice"),
    ],
)
def test_invalid_requests(body: bytes, param: str | None) -> None:
    with pytest.raises(InvalidRequest) as info:
        codec.decode_request(body)
    if param is not None:
        assert info.value.param == param
