"""Anthropic codec against golden wire fixtures: requests, responses, streams, errors, validation."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from lunaroute import model as m
from lunaroute.dialects import anthropic_messages as codec
from lunaroute.errors import InvalidRequest, UpstreamError

FIXTURES = Path(__file__).parents[2] / "fixtures" / "anthropic_messages"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def stream(name: str) -> list[m.StreamEvent]:
    decoder = codec.StreamDecoder()
    return decoder.feed(fixture(name)) + decoder.finish()


def test_basic_request() -> None:
    req = codec.decode_request(fixture("request_basic.json"))
    assert req.model == "claude-sonnet-4-5"
    assert req.max_tokens == 1024
    assert req.include_usage
    assert req.messages == (m.Message(role="user", content=(m.TextBlock(text="Hello, Claude"),)),)


def test_tools_request_fields() -> None:
    req = codec.decode_request(fixture("request_tools.json"))
    system, user, assistant, results = req.messages
    assert system == m.Message(
        role="system", content=(m.TextBlock(text="You are a weather bot.", cache_control=m.CacheControl()),)
    )
    assert isinstance(user.content[1], m.ImageBlock)
    assert user.content[1].source == m.Base64Source(media_type="image/jpeg", data="/9j/4AAQSkZJRg==")
    assert isinstance(assistant.content[0], m.ThinkingBlock)
    assert assistant.content[0].signature
    assert assistant.content[2] == m.ToolUseBlock(
        id="toolu_01A09q90qw90lq917835lq9", name="get_weather", input={"location": "San Francisco, CA"}
    )
    result = results.content[0]
    assert isinstance(result, m.ToolResultBlock)
    assert isinstance(result.content, tuple)
    assert result.content[1] == m.ImageBlock(source=m.UrlSource(url="https://example.com/radar.png"))
    assert req.tool_choice == m.ToolChoiceAuto()
    assert req.parallel_tool_calls is False
    assert (req.stop, req.temperature, req.top_k) == (("\n\nHuman:",), 0.5, 40)
    assert req.user == "13803d75-b4b5-4c3e-b2a2-6f21399b021b"


@pytest.mark.parametrize("name", ["request_basic.json", "request_tools.json", "request_claude_code.json"])
def test_request_fixture_round_trips_to_equal_json(name: str) -> None:
    original = msgspec.json.decode(fixture(name))
    req = codec.decode_request(fixture(name))
    encoded = msgspec.json.decode(codec.encode_request(req, model_name=original["model"]))
    assert _normalized(encoded) == _normalized(original)


def _normalized(body: dict[str, object]) -> dict[str, object]:
    """Semantically equal forms: string content as one text block, `is_error: false` left out."""
    body = dict(body)
    messages = []
    for message in body["messages"]:  # type: ignore[attr-defined]
        content = message["content"]
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        content = [{k: v for k, v in b.items() if (k, v) != ("is_error", False)} for b in content]
        messages.append({**message, "content": content})
    body["messages"] = messages
    return body


def test_claude_code_request_keeps_everything_for_anthropic() -> None:
    req = codec.decode_request(fixture("request_claude_code.json"))
    assert len(req.tools) == 24
    assert req.reasoning == m.Reasoning(mode="adaptive", effort="high")
    assert req.max_tokens == 32000
    assert req.extra is not None
    assert set(req.extra.fields) == {"context_management"}
    system = req.messages[0]
    assert [b.cache_control for b in system.content if isinstance(b, m.TextBlock)] == [
        m.CacheControl(),
        m.CacheControl(),
        m.CacheControl(ttl="1h"),
    ]


def test_responses() -> None:
    text = codec.decode_response(fixture("response_text.json"))
    assert text.content == (m.TextBlock(text="Hi! My name is Claude."),)
    assert text.stop_reason == "end_turn"
    assert text.usage.input_tokens == 2095
    assert text.usage.cache_read_tokens == 1024
    assert text.usage.cache_creation_tokens == 2051
    tool = codec.decode_response(fixture("response_tool_use.json"))
    assert [type(b) for b in tool.content] == [m.ThinkingBlock, m.TextBlock, m.ToolUseBlock]
    assert tool.stop_reason == "tool_use"
    again = codec.decode_response(codec.encode_response(text))
    assert again == text


def test_stream_tool_use_assembles_partial_json() -> None:
    events = stream("stream_tool_use.sse")
    assert isinstance(events[0], m.MessageStart)
    assert isinstance(events[-1], m.MessageStop)
    resp = m.accumulate(events)
    assert resp.content[1] == m.ToolUseBlock(
        id="toolu_01T1x1fJ34qAmk2tNTrN7Up6",
        name="get_weather",
        input={"location": "San Francisco, CA", "unit": "fahrenheit"},
    )
    assert resp.stop_reason == "tool_use"
    assert resp.usage.output_tokens == 89
    assert resp.usage.input_tokens == 472


def test_stream_thinking_with_signature() -> None:
    resp = m.accumulate(stream("stream_thinking.sse"))
    thinking = resp.content[0]
    assert isinstance(thinking, m.ThinkingBlock)
    assert thinking.thinking.startswith("Let me solve this")
    assert thinking.signature == "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds..."
    assert resp.content[1] == m.TextBlock(text="27 * 453 = 12,231")
    assert resp.usage.cache_read_tokens == 1200


def test_stream_text_has_ping_and_reencodes_to_the_same_response() -> None:
    events = stream("stream_text.sse")
    assert m.Ping() in events
    encoder = codec.StreamEncoder(model_name=None, include_usage=True)
    client = b"".join(encoder.encode(e) for e in events) + encoder.finish()
    decoder = codec.StreamDecoder()
    again = decoder.feed(client) + decoder.finish()
    assert m.accumulate(again) == m.accumulate(events)
    assert m.accumulate(events).content == (m.TextBlock(text="Hello!"),)


def test_stream_error_event_ends_the_stream() -> None:
    events = stream("stream_error.sse")
    assert isinstance(events[-1], m.StreamError)
    assert events[-1].error.kind == "overloaded"
    assert m.accumulate(events).content == (m.TextBlock(text="Partial"),)


def test_stream_encoder_error_mid_stream() -> None:
    encoder = codec.StreamEncoder(model_name="claude", include_usage=True)
    out = encoder.encode(m.MessageStart(id="msg", model="x"))
    out += encoder.encode(m.StreamError(error=m.ErrorInfo(kind="rate_limit", message="slow down", status=429)))
    assert out.endswith(
        b'event: error\ndata: {"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}\n\n'
    )
    assert encoder.encode(m.MessageStop()) == b""
    assert encoder.finish() == b""


def test_invalid_json_and_truncation_in_stream_are_error_events() -> None:
    decoder = codec.StreamDecoder()
    events = decoder.feed(b"event: message_start\ndata: {not json\n\n")
    assert isinstance(events[-1], m.StreamError)
    truncated = codec.StreamDecoder()
    events = truncated.feed(fixture("stream_text.sse")[:300]) + truncated.finish()
    assert isinstance(events[-1], m.StreamError)


@pytest.mark.parametrize(
    ("name", "status", "kind", "wire"),
    [
        ("error_overloaded.json", 529, "overloaded", "overloaded_error"),
        ("error_rate_limit.json", 429, "rate_limit", "rate_limit_error"),
        ("error_invalid_request.json", 400, "invalid_request", "invalid_request_error"),
    ],
)
def test_errors(name: str, status: int, kind: str, wire: str) -> None:
    err = codec.decode_error(status, fixture(name))
    assert err.kind == kind
    assert codec.error_status(err) == status
    assert msgspec.json.decode(codec.encode_error(err))["error"]["type"] == wire


def test_decode_error_never_raises() -> None:
    assert codec.decode_error(502, b"<html>Bad gateway</html>").message == "<html>Bad gateway</html>"
    assert codec.decode_error(500, b"[]").kind == "api_error"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{", None),
        (b"\xff\xfe", None),
        (b'{"model": "c", "max_tokens": NaN, "messages": []}', None),
        (b"[1]", None),
        (b'{"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"model": "c", "messages": [{"role": "user", "content": "x"}]}', "max_tokens"),
        (b'{"model": "c", "max_tokens": 0, "messages": [{"role": "user", "content": "x"}]}', "max_tokens"),
        (b'{"model": "c", "max_tokens": true, "messages": [{"role": "user", "content": "x"}]}', "max_tokens"),
        (b'{"model": "c", "max_tokens": 5, "messages": []}', "messages"),
        (b'{"model": "c", "max_tokens": 5, "messages": {}}', "messages"),
        (b'{"model": "c", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}', "messages[0].role"),
        (
            b'{"model": "c", "max_tokens": 5, "temperature": 1.5, "messages": [{"role": "user", "content": "x"}]}',
            "temperature",
        ),
        (b'{"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": 7}]}', "messages[0].content"),
    ],
)
def test_invalid_requests(body: bytes, param: str | None) -> None:
    with pytest.raises(InvalidRequest) as info:
        codec.decode_request(body)
    if param is not None:
        assert info.value.param == param


def test_nesting_limit() -> None:
    deep = (
        b'{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"}],"metadata":'
        + b"[" * 70
        + b"]" * 70
        + b"}"
    )
    with pytest.raises(InvalidRequest, match="nesting"):
        codec.decode_request(deep)
    with pytest.raises(InvalidRequest, match="nesting"):
        codec.decode_request(b"[" * 100_000 + b"]" * 100_000)


def test_unusable_upstream_response_is_upstream_error() -> None:
    with pytest.raises(UpstreamError):
        codec.decode_response(b'{"id": "x"}')
