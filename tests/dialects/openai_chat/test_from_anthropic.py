"""Anthropic Messages → OpenAI chat: requests from Anthropic clients sent to OpenAI upstreams, and
OpenAI answers/streams/errors rendered back for them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from lunaroute.dialects import anthropic_messages as anthropic
from lunaroute.dialects import openai_chat as openai
from lunaroute.errors import UnsupportedFeature

FIXTURES = Path(__file__).parents[2] / "fixtures"


def to_openai(body: bytes, **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.json.decode(
        openai.encode_request(anthropic.decode_request(body), model_name="gpt-x", **kw)
    )
    return out


def anthropic_body(**fields: Any) -> bytes:
    base: dict[str, Any] = {"model": "claude", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    return msgspec.json.encode(base | fields)


def test_claude_code_request() -> None:
    out = to_openai((FIXTURES / "anthropic_messages" / "request_claude_code.json").read_bytes())
    assert out["model"] == "gpt-x"
    assert len(out["tools"]) == 24
    assert out["tools"][0]["type"] == "function"
    assert out["tools"][0]["function"]["parameters"]["required"] == ["arg"]
    system, user, assistant, tool, follow_up = out["messages"]
    assert system["role"] == "system"
    assert [p["text"][:20] for p in system["content"]] == [
        "You are Claude Code,",
        "You are an interacti",
        "<env>Working directo",
    ]
    assert "cache_control" not in msgspec.json.encode(out).decode()
    assert user["content"][0]["text"].startswith("<system-reminder>")
    assert assistant == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "toolu_01KXw9bJ3nU2kzFq1m8Yd6Rg",
                "type": "function",
                "function": {"name": "Bash", "arguments": '{"arg":"ls -la","timeout":120000}'},
            }
        ],
    }
    assert tool == {
        "role": "tool",
        "tool_call_id": "toolu_01KXw9bJ3nU2kzFq1m8Yd6Rg",
        "content": "total 8\n-rw-r--r-- 1 u u 12 README.md",
    }
    assert follow_up == {"role": "user", "content": "Now summarise."}
    assert out["max_completion_tokens"] == 32000
    assert out["reasoning_effort"] == "high"  # adaptive thinking with output_config.effort high
    assert out["stream"] is True
    assert out["stream_options"] == {"include_usage": True}
    for dropped in ("thinking", "context_management", "metadata", "output_config", "user", "system"):
        assert dropped not in out  # user_id is longer than OpenAI's 64-character limit


def test_tool_result_images_follow_in_a_user_message() -> None:
    out = to_openai((FIXTURES / "anthropic_messages" / "request_tools.json").read_bytes())
    roles = [msg["role"] for msg in out["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "user"]
    tool, user = out["messages"][3], out["messages"][4]
    assert tool["content"] == [{"type": "text", "text": "15 degrees"}]
    assert user["content"][1] == {"type": "image_url", "image_url": {"url": "https://example.com/radar.png"}}
    assert user["content"][2] == {"type": "text", "text": "And tomorrow?"}
    image = out["messages"][1]["content"][1]
    assert image["image_url"]["url"] == "data:image/jpeg;base64,/9j/4AAQSkZJRg=="
    assert out["tool_choice"] == "auto"
    assert out["parallel_tool_calls"] is False
    assert out["stop"] == ["\n\nHuman:"]
    assert out["user"] == "13803d75-b4b5-4c3e-b2a2-6f21399b021b"
    assert "top_k" not in out
    assert "reasoning_content" not in out["messages"][2]  # signed thinking is Anthropic-only


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "f"}, {"type": "function", "function": {"name": "f"}}),
    ],
)
def test_tool_choice(choice: dict[str, str], expected: object) -> None:
    tools = [{"name": "f", "input_schema": {"type": "object"}}]
    assert to_openai(anthropic_body(tools=tools, tool_choice=choice))["tool_choice"] == expected


@pytest.mark.parametrize(("budget", "effort"), [(1024, "low"), (4096, "low"), (8000, "medium"), (31999, "high")])
def test_thinking_budget_to_effort(budget: int, effort: str) -> None:
    body = anthropic_body(max_tokens=32000, thinking={"type": "enabled", "budget_tokens": budget})
    assert to_openai(body)["reasoning_effort"] == effort


def test_adaptive_without_effort_and_disabled_send_no_effort() -> None:
    assert "reasoning_effort" not in to_openai(anthropic_body(thinking={"type": "adaptive"}))
    assert "reasoning_effort" not in to_openai(anthropic_body(thinking={"type": "disabled"}))
    maxed = anthropic_body(thinking={"type": "adaptive"}, output_config={"effort": "max"})
    assert to_openai(maxed)["reasoning_effort"] == "high"


def test_structured_output_becomes_response_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    out = to_openai(anthropic_body(output_config={"format": {"type": "json_schema", "schema": schema}}))
    assert out["response_format"] == {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}


def test_mcp_servers_are_refused_and_unknown_assistant_blocks_dropped() -> None:
    with pytest.raises(UnsupportedFeature, match="mcp_servers"):
        to_openai(anthropic_body(mcp_servers=[{"type": "url", "url": "https://x", "name": "x"}]))
    history = [
        {"role": "user", "content": "search"},
        {
            "role": "assistant",
            "content": [
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
                {"type": "text", "text": "found"},
            ],
        },
        {"role": "user", "content": "thanks"},
    ]
    out = to_openai(anthropic_body(messages=history, tools=[{"type": "web_search_20250305", "name": "web_search"}]))
    assert out["messages"][1] == {"role": "assistant", "content": "found"}
    assert "tools" not in out


def test_openai_response_rendered_for_anthropic_client() -> None:
    resp = openai.decode_response((FIXTURES / "openai_chat" / "response_tool_calls.json").read_bytes())
    out = msgspec.json.decode(anthropic.encode_response(resp, model_name="claude-sonnet"))
    assert out["model"] == "claude-sonnet"
    assert out["stop_reason"] == "tool_use"
    assert out["content"] == [
        {"type": "tool_use", "id": "call_abc123", "name": "get_current_weather", "input": {"location": "Boston, MA"}}
    ]
    # OpenAI prompt_tokens 2082 include 1920 cached: Anthropic input_tokens exclude cache reads.
    assert out["usage"]["input_tokens"] == 162
    assert out["usage"]["cache_read_input_tokens"] == 1920
    reasoning = openai.decode_response((FIXTURES / "openai_chat" / "response_reasoning.json").read_bytes())
    out = msgspec.json.decode(anthropic.encode_response(reasoning))
    assert out["content"][0] == {
        "type": "thinking",
        "thinking": "Compare 9.11 and 9.8: 9.8 = 9.80 > 9.11.",
        "signature": "",
    }
    assert out["stop_reason"] == "max_tokens"


@pytest.mark.parametrize(
    ("finish", "stop"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("content_filter", "refusal")],
)
def test_finish_reasons(finish: str, stop: str) -> None:
    body = {"id": "c", "model": "g", "choices": [{"index": 0, "message": {"content": "x"}, "finish_reason": finish}]}
    resp = openai.decode_response(msgspec.json.encode(body))
    assert msgspec.json.decode(anthropic.encode_response(resp))["stop_reason"] == stop


def translate_stream(data: bytes) -> bytes:
    decoder = openai.StreamDecoder()
    encoder = anthropic.StreamEncoder(model_name="claude", include_usage=True)
    out = b"".join(encoder.encode(e) for e in decoder.feed(data))
    return out + b"".join(encoder.encode(e) for e in decoder.finish()) + encoder.finish()


def anthropic_events(data: bytes) -> list[dict[str, Any]]:
    return [msgspec.json.decode(line.split(b"data: ", 1)[1]) for line in data.split(b"\n\n") if b"data: " in line]


def test_openai_stream_to_anthropic_client() -> None:
    out = translate_stream((FIXTURES / "openai_chat" / "stream_parallel_tools.sse").read_bytes())
    events = anthropic_events(out)
    assert [e["type"] for e in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[1]["content_block"] == {
        "type": "tool_use",
        "id": "call_PieqNSej6kM9hgYbcQdbZSaC",
        "name": "get_weather",
        "input": {},
    }
    assert events[2]["delta"] == {"type": "input_json_delta", "partial_json": '{"location"'}
    assert events[5]["index"] == 1
    assert events[8]["delta"]["stop_reason"] == "tool_use"
    assert events[8]["usage"]["input_tokens"] == 56
    assert events[8]["usage"]["cache_read_input_tokens"] == 64


def test_openai_reasoning_stream_to_anthropic_thinking() -> None:
    events = anthropic_events(translate_stream((FIXTURES / "openai_chat" / "stream_reasoning.sse").read_bytes()))
    assert events[1]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    assert events[2]["delta"] == {"type": "thinking_delta", "thinking": "Okay, "}
    kinds = [e["delta"]["type"] for e in events if e["type"] == "content_block_delta"]
    assert kinds == ["thinking_delta", "thinking_delta", "signature_delta", "text_delta"]


def test_openai_stream_error_to_anthropic_error_event() -> None:
    out = translate_stream((FIXTURES / "openai_chat" / "stream_error.sse").read_bytes())
    assert out.endswith(
        b'event: error\ndata: {"type":"error","error":{"type":"api_error",'
        b'"message":"The server had an error while processing your request."}}\n\n'
    )


@pytest.mark.parametrize(
    ("status", "body", "anthropic_status", "anthropic_type"),
    [
        (
            429,
            b'{"error": {"message": "slow", "type": "requests", "code": "rate_limit_exceeded"}}',
            429,
            "rate_limit_error",
        ),
        (503, b'{"error": {"message": "busy", "type": "server_error"}}', 529, "overloaded_error"),
        (
            401,
            b'{"error": {"message": "bad key", "type": "invalid_request_error", "code": "invalid_api_key"}}',
            401,
            "authentication_error",
        ),
        (
            404,
            b'{"error": {"message": "no model", "type": "invalid_request_error", "code": "model_not_found"}}',
            404,
            "not_found_error",
        ),
        (500, b"Internal Server Error", 500, "api_error"),
    ],
)
def test_openai_errors_for_anthropic_clients(
    status: int, body: bytes, anthropic_status: int, anthropic_type: str
) -> None:
    err = openai.decode_error(status, body)
    assert anthropic.error_status(err) == anthropic_status
    assert msgspec.json.decode(anthropic.encode_error(err))["error"]["type"] == anthropic_type
