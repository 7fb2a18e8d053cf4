"""OpenAI chat → Anthropic Messages: requests from OpenAI clients sent to Anthropic upstreams, and
Anthropic answers/streams/errors rendered back for them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from lunaroute.dialects import anthropic_messages as anthropic
from lunaroute.dialects import openai_chat as openai
from lunaroute.errors import UnsupportedFeature

FIXTURES = Path(__file__).parents[2] / "fixtures"


def to_anthropic(body: bytes, **kw: Any) -> dict[str, Any]:
    req = openai.decode_request(body)
    out: dict[str, Any] = msgspec.json.decode(anthropic.encode_request(req, model_name="claude-x", **kw))
    return out


def openai_body(**fields: Any) -> bytes:
    base: dict[str, Any] = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}
    return msgspec.json.encode(base | fields)


def test_tools_request() -> None:
    out = to_anthropic((FIXTURES / "openai_chat" / "request_tools.json").read_bytes())
    assert out["system"] == "You are a weather bot."
    user, assistant, results = out["messages"]
    assert user["content"][1] == {
        "type": "image",
        "source": {"type": "url", "url": "https://upload.wikimedia.org/wikipedia/commons/boston.jpg"},
    }
    assert user["content"][2] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
    }
    assert assistant == {
        "role": "assistant",
        "content": [
            {
                "type": "tool_use",
                "id": "call_abc123",
                "name": "get_current_weather",
                "input": {"location": "Boston, MA"},
            },
            {
                "type": "tool_use",
                "id": "call_def456",
                "name": "get_current_weather",
                "input": {"location": "Paris, France"},
            },
        ],
    }
    # Two tool messages and the user message after them form one user turn, results first.
    assert results == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "call_abc123", "content": '{"temperature": 22, "unit": "celsius"}'},
            {
                "type": "tool_result",
                "tool_use_id": "call_def456",
                "content": [{"type": "text", "text": '{"temperature": 18}'}],
            },
            {"type": "text", "text": "Thanks, and in Fahrenheit?"},
        ],
    }
    assert out["tools"][0]["input_schema"]["required"] == ["location"]
    assert out["tool_choice"] == {"type": "tool", "name": "get_current_weather", "disable_parallel_tool_use": True}
    assert out["max_tokens"] == 2000
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 1999}  # medium (10,240) lowered under max_tokens
    assert out["stream"] is True


def test_system_and_developer_messages_are_hoisted() -> None:
    messages = [
        {"role": "developer", "content": "A"},
        {"role": "user", "content": "hi"},
        {"role": "system", "content": [{"type": "text", "text": "B"}]},
        {"role": "assistant", "content": "hello"},
    ]
    out = to_anthropic(openai_body(messages=messages))
    assert out["system"] == [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]
    assert [m["role"] for m in out["messages"]] == ["user", "assistant"]


def test_default_max_tokens_and_sampling() -> None:
    out = to_anthropic(openai_body(temperature=1.7, top_p=0.5, stop="END", seed=3, presence_penalty=1, user="u1"))
    assert out["max_tokens"] == 4096
    assert out["temperature"] == 1.0
    assert out["top_p"] == 0.5
    assert out["stop_sequences"] == ["END"]
    assert out["metadata"] == {"user_id": "u1"}
    assert "seed" not in out
    assert "presence_penalty" not in out
    assert to_anthropic(openai_body(), default_max_tokens=123)["max_tokens"] == 123


@pytest.mark.parametrize(
    ("effort", "max_tokens", "thinking"),
    [
        ("low", 32000, {"type": "enabled", "budget_tokens": 4096}),
        ("medium", 32000, {"type": "enabled", "budget_tokens": 10240}),
        ("high", 32000, {"type": "enabled", "budget_tokens": 24576}),
        ("high", 1000, None),
        ("none", 32000, None),
    ],
)
def test_reasoning_effort_to_budget(effort: str, max_tokens: int, thinking: object) -> None:
    out = to_anthropic(
        openai_body(reasoning_effort=effort, max_completion_tokens=max_tokens, temperature=0.2, top_p=0.5)
    )
    assert out.get("thinking") == thinking
    if thinking is not None:
        assert "temperature" not in out  # Anthropic rejects a temperature other than 1 with thinking
        assert "top_p" not in out


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        ("none", None, {"type": "none"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        (None, True, None),
    ],
)
def test_tool_choice_and_parallel(choice: str | None, parallel: bool | None, expected: object) -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    fields: dict[str, Any] = {"tools": tools, "tool_choice": choice, "parallel_tool_calls": parallel}
    out = to_anthropic(openai_body(**{k: v for k, v in fields.items() if v is not None}))
    assert out.get("tool_choice") == expected
    assert out["tools"] == [{"name": "f", "input_schema": {"type": "object", "properties": {}}}]


def test_reasoning_content_history_is_dropped_and_refusal_is_text() -> None:
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a", "reasoning_content": "thought", "refusal": None},
        {"role": "user", "content": "q2"},
    ]
    out = to_anthropic(openai_body(messages=messages))
    assert out["messages"][1] == {"role": "assistant", "content": [{"type": "text", "text": "a"}]}


def test_json_schema_response_format() -> None:
    schema = {"type": "object", "properties": {}}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": True}}
    assert to_anthropic(openai_body(response_format=fmt))["output_config"] == {
        "format": {"type": "json_schema", "schema": schema}
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"n": 2},
        {"logprobs": True},
        {"modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "wav"}},
        {"response_format": {"type": "json_object"}},
        {"functions": [{"name": "f"}]},
    ],
)
def test_unsupported_features(fields: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedFeature):
        to_anthropic(openai_body(**fields))


def test_pdf_file_part_becomes_document() -> None:
    part = {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}}
    out = to_anthropic(openai_body(messages=[{"role": "user", "content": [part]}]))
    assert out["messages"][0]["content"][0] == {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"},
    }


def translate_stream(data: bytes) -> bytes:
    decoder = anthropic.StreamDecoder()
    encoder = openai.StreamEncoder(model_name="gpt", include_usage=True, created=1)
    out = b"".join(encoder.encode(e) for e in decoder.feed(data))
    return out + b"".join(encoder.encode(e) for e in decoder.finish()) + encoder.finish()


def chunks(data: bytes) -> list[dict[str, Any]]:
    return [msgspec.json.decode(line[6:]) for line in data.split(b"\n\n") if line.startswith(b"data: {")]


def test_anthropic_thinking_stream_to_openai_client() -> None:
    out = translate_stream((FIXTURES / "anthropic_messages" / "stream_thinking.sse").read_bytes())
    parsed = chunks(out)
    deltas = [c["choices"][0]["delta"] for c in parsed if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert "".join(d.get("reasoning_content", "") for d in deltas).startswith("Let me solve this")
    assert "".join(d.get("content", "") for d in deltas) == "27 * 453 = 12,231"
    assert parsed[-2]["choices"][0]["finish_reason"] == "stop"
    usage = parsed[-1]["usage"]
    # Anthropic input 36 + cache read 1200 → OpenAI prompt_tokens 1236 of which 1200 cached.
    assert (usage["prompt_tokens"], usage["prompt_tokens_details"]["cached_tokens"], usage["completion_tokens"]) == (
        1236,
        1200,
        210,
    )
    assert out.endswith(b"data: [DONE]\n\n")


def test_anthropic_tool_stream_to_openai_client() -> None:
    parsed = chunks(translate_stream((FIXTURES / "anthropic_messages" / "stream_tool_use.sse").read_bytes()))
    calls = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in parsed
        if c["choices"] and "tool_calls" in c["choices"][0]["delta"]
    ]
    assert calls[0] == {
        "index": 0,
        "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    arguments = "".join(c["function"]["arguments"] for c in calls)
    assert msgspec.json.decode(arguments) == {"location": "San Francisco, CA", "unit": "fahrenheit"}
    assert [c["choices"][0]["finish_reason"] for c in parsed if c["choices"]][-1] == "tool_calls"


def test_anthropic_error_mid_stream_to_openai_error_chunk() -> None:
    out = translate_stream((FIXTURES / "anthropic_messages" / "stream_error.sse").read_bytes())
    assert chunks(out)[-1] == {"error": {"message": "Overloaded", "type": "server_error", "param": None, "code": None}}
    assert b"[DONE]" not in out


@pytest.mark.parametrize(
    ("name", "status", "openai_status", "openai_type"),
    [
        ("error_overloaded.json", 529, 503, "server_error"),
        ("error_rate_limit.json", 429, 429, "rate_limit_error"),
        ("error_invalid_request.json", 400, 400, "invalid_request_error"),
    ],
)
def test_anthropic_errors_for_openai_clients(name: str, status: int, openai_status: int, openai_type: str) -> None:
    err = anthropic.decode_error(status, (FIXTURES / "anthropic_messages" / name).read_bytes())
    assert openai.error_status(err) == openai_status
    assert msgspec.json.decode(openai.encode_error(err))["error"]["type"] == openai_type
