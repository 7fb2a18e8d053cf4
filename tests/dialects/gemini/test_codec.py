"""Gemini codec against golden wire fixtures (shapes from the Gemini API reference): answers, streams, errors, and
the request bodies built from Anthropic and OpenAI requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from lunaroute import model as m
from lunaroute.dialects import anthropic_messages, gemini, openai_chat
from lunaroute.errors import ContentBlocked, InvalidRequest, UnsupportedFeature

FIXTURES = Path(__file__).parents[2] / "fixtures" / "gemini"
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def stream(data: bytes) -> list[m.StreamEvent]:
    decoder = gemini.StreamDecoder()
    return decoder.feed(data) + decoder.finish()


def encoded(request: m.Request, model: str = "gemini-2.5-flash") -> Any:
    return msgspec.json.decode(gemini.encode_request(request, model_name=model))


def from_anthropic(body: dict[str, Any]) -> m.Request:
    return anthropic_messages.decode_request(msgspec.json.encode({"model": "claude-x", "max_tokens": 100, **body}))


def from_openai(body: dict[str, Any]) -> m.Request:
    return openai_chat.decode_request(msgspec.json.encode({"model": "gpt-x", **body}))


# -- answers ---------------------------------------------------------------------------------------------------


def test_text_answer_with_thoughts_and_cached_usage() -> None:
    response = gemini.decode_response(fixture("response_text.json"))
    assert (response.id, response.model) == ("HzJwaL7mLOqVz7IPk9WXmA4", "gemini-2.5-flash")
    assert response.content == (
        m.ThinkingBlock(
            thinking="**Weighing the question**\n\nThe user asks about the sky.",
            signature="CiIBVKhc7oxQ3nFpYmx5QmFzZTY0U2lnbmF0dXJl",
        ),
        m.TextBlock(text="The sky is blue because of Rayleigh scattering."),
    )
    assert response.stop_reason == "end_turn"
    assert response.usage == m.Usage(input_tokens=186, output_tokens=144, cache_read_tokens=1024, reasoning_tokens=133)


def test_function_calls_get_stable_ids_and_keep_their_signature() -> None:
    response = gemini.decode_response(fixture("response_function_calls.json"))
    assert response.content == (
        m.ThinkingBlock(thinking="", signature="CtwBAdHtim9sig"),
        m.ToolUseBlock(id="call_resp7Xq2_0", name="get_weather", input={"city": "Paris"}),
        m.ToolUseBlock(id="call_resp7Xq2_1", name="get_time", input={"zone": "Europe/Paris"}),
    )
    assert response.stop_reason == "tool_use"


def test_max_tokens() -> None:
    response = gemini.decode_response(fixture("response_max_tokens.json"))
    assert response.stop_reason == "max_tokens"
    assert response.content == (m.TextBlock(text="Once upon a"),)


def test_blocked_prompt_is_a_clear_error() -> None:
    with pytest.raises(ContentBlocked, match="PROHIBITED_CONTENT"):
        gemini.decode_response(fixture("response_blocked.json"))


def test_safety_stop_is_a_refusal() -> None:
    body = {"candidates": [{"content": {"role": "model"}, "finishReason": "SAFETY", "index": 0}]}
    assert gemini.decode_response(msgspec.json.encode(body)).stop_reason == "refusal"


# -- streams ---------------------------------------------------------------------------------------------------


def test_text_stream() -> None:
    events = stream(fixture("stream_text.sse"))
    assert events[0] == m.MessageStart(id="str3amID", model="gemini-2.5-pro")
    assert events[-1] == m.MessageStop()
    response = m.accumulate(events)
    assert response.content == (
        m.ThinkingBlock(thinking="Thinking about greetings.", signature="c2lnbmVk"),
        m.TextBlock(text="Hello there, café ☕!"),
    )
    assert response.stop_reason == "end_turn"
    assert response.usage == m.Usage(input_tokens=8, output_tokens=32, reasoning_tokens=27)


def test_any_split_of_a_stream_decodes_the_same() -> None:
    data = fixture("stream_text.sse")
    whole = m.accumulate(stream(data))
    for cut in range(1, len(data), 7):
        decoder = gemini.StreamDecoder()
        events = decoder.feed(data[:cut]) + decoder.feed(data[cut:]) + decoder.finish()
        assert m.accumulate(events) == whole


def test_function_call_stream_keeps_the_wire_id() -> None:
    response = m.accumulate(stream(fixture("stream_function_call.sse")))
    assert response.content == (
        m.TextBlock(text="Let me check."),
        m.ToolUseBlock(id="fc-9a1", name="get_weather", input={"city": "Tokyo", "unit": "celsius"}),
    )
    assert response.stop_reason == "tool_use"


def test_blocked_stream_and_cut_stream_are_errors() -> None:
    blocked = stream(fixture("stream_blocked.sse"))
    assert isinstance(blocked[-1], m.StreamError)
    assert (blocked[-1].error.kind, blocked[-1].error.status) == ("invalid_request", 400)
    cut = stream(fixture("stream_text.sse").split(b"\r\n\r\n")[0] + b"\r\n\r\n")
    assert isinstance(cut[-1], m.StreamError)
    assert cut[-1].error.kind == "api_error"


def test_stream_stream_non_stream_agree() -> None:
    body = fixture("response_text.json")
    sse = b"data: " + msgspec.json.encode(msgspec.json.decode(body)) + b"\r\n\r\n"
    assert m.accumulate(stream(sse)) == gemini.decode_response(body)


# -- errors ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "kind", "code"),
    [
        ("error_rate_limit.json", 429, "rate_limit", None),
        ("error_api_key.json", 400, "authentication", "API_KEY_INVALID"),
        ("error_context_length.json", 400, "invalid_request", "context_length_exceeded"),
        ("error_overloaded.json", 503, "overloaded", None),
    ],
)
def test_errors(name: str, status: int, kind: str, code: str | None) -> None:
    error = gemini.decode_error(status, fixture(name))
    assert (error.kind, error.status, error.code) == (kind, status, code)
    assert error.message == msgspec.json.decode(fixture(name))["error"]["message"]


def test_error_that_is_not_json() -> None:
    error = gemini.decode_error(502, b"<html>Bad Gateway</html>")
    assert (error.kind, error.message) == ("api_error", "<html>Bad Gateway</html>")


def test_errors_map_to_each_client_dialect() -> None:
    error = gemini.decode_error(429, fixture("error_rate_limit.json"))
    assert openai_chat.error_status(error) == 429
    assert msgspec.json.decode(anthropic_messages.encode_error(error))["error"]["type"] == "rate_limit_error"
    context = gemini.decode_error(400, fixture("error_context_length.json"))
    assert msgspec.json.decode(openai_chat.encode_error(context))["error"]["code"] == "context_length_exceeded"


# -- requests --------------------------------------------------------------------------------------------------

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
}


def test_anthropic_request_with_tools_images_thinking_and_a_tool_round_trip() -> None:
    request = from_anthropic(
        {
            "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            "tools": [WEATHER_TOOL],
            "tool_choice": {"type": "tool", "name": "get_weather"},
            "thinking": {"type": "enabled", "budget_tokens": 31999},
            "temperature": 0.5,
            "top_k": 40,
            "stop_sequences": ["END"],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Weather here?"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "", "signature": "CtwBsig"},
                        {"type": "tool_use", "id": "call_r1_0", "name": "get_weather", "input": {"city": "Paris"}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "call_r1_0", "content": "22 degrees"},
                        {"type": "text", "text": "And tomorrow?"},
                    ],
                },
            ],
        }
    )
    assert encoded(request) == {
        "contents": [
            {
                "role": "user",
                "parts": [{"text": "Weather here?"}, {"inlineData": {"mimeType": "image/png", "data": PIXEL}}],
            },
            {
                "role": "model",
                "parts": [
                    {
                        "functionCall": {"id": "call_r1_0", "name": "get_weather", "args": {"city": "Paris"}},
                        "thoughtSignature": "CtwBsig",
                    }
                ],
            },
            {
                "role": "user",
                "parts": [
                    {
                        "functionResponse": {
                            "id": "call_r1_0",
                            "name": "get_weather",
                            "response": {"output": "22 degrees"},
                        }
                    },
                    {"text": "And tomorrow?"},
                ],
            },
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "description": "Weather for a city",
                        "parametersJsonSchema": WEATHER_TOOL["input_schema"],
                    }
                ]
            }
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
        "generationConfig": {
            "maxOutputTokens": 100,
            "temperature": 0.5,
            "topK": 40,
            "stopSequences": ["END"],
            "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 24576},
        },
    }


def test_openai_request_with_effort_json_schema_and_an_unsigned_tool_call() -> None:
    request = from_openai(
        {
            "messages": [
                {"role": "developer", "content": "You are terse."},
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "call_a", "type": "function", "function": {"name": "w", "arguments": '{"c": 1}'}},
                        {"id": "call_b", "type": "function", "function": {"name": "t", "arguments": "{}"}},
                    ],
                },
                {"role": "tool", "tool_call_id": "call_a", "content": '{"temp": 22}'},
                {"role": "tool", "tool_call_id": "call_b", "content": "noon"},
            ],
            "reasoning_effort": "low",
            "max_completion_tokens": 500,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "w", "schema": {"type": "object"}},
            },
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    )
    body = encoded(request)
    assert body["systemInstruction"] == {"parts": [{"text": "You are terse."}]}
    model_turn = body["contents"][1]
    assert model_turn["parts"][0]["thoughtSignature"] == gemini.SKIP_SIGNATURE
    assert "thoughtSignature" not in model_turn["parts"][1]
    assert body["contents"][2]["parts"] == [
        {"functionResponse": {"id": "call_a", "name": "w", "response": {"temp": 22}}},
        {"functionResponse": {"id": "call_b", "name": "t", "response": {"output": "noon"}}},
    ]
    assert body["generationConfig"] == {
        "maxOutputTokens": 500,
        "responseMimeType": "application/json",
        "responseJsonSchema": {"type": "object"},
        "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 1024},
    }
    assert "stream" not in body


def test_gemini_3_takes_a_thinking_level() -> None:
    body = encoded(
        from_openai({"messages": [{"role": "user", "content": "Hi"}], "reasoning_effort": "high"}), "gemini-3-pro"
    )
    assert body["generationConfig"]["thinkingConfig"] == {"includeThoughts": True, "thinkingLevel": "high"}


def test_decoded_answer_goes_back_as_it_came() -> None:
    answer = gemini.decode_response(fixture("response_function_calls.json"))
    request = m.Request(
        model="gemini-3-pro-preview",
        messages=(
            m.Message(role="user", content=(m.TextBlock(text="Go"),)),
            m.Message(role="assistant", content=answer.content),
        ),
    )
    parts = encoded(request)["contents"][1]["parts"]
    original = msgspec.json.decode(fixture("response_function_calls.json"))["candidates"][0]["content"]["parts"]
    assert [p.get("thoughtSignature", None) for p in parts] == ["CtwBAdHtim9sig", None]
    assert [(p["functionCall"]["name"], p["functionCall"]["args"]) for p in parts] == [
        (p["functionCall"]["name"], p["functionCall"]["args"]) for p in original
    ]


def test_tool_result_without_its_call_is_refused() -> None:
    request = from_openai(
        {"messages": [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "call_zz", "content": "1"}]}
    )
    with pytest.raises(InvalidRequest, match="call_zz"):
        gemini.encode_request(request, model_name="gemini-2.5-flash")


def test_web_image_urls_are_refused() -> None:
    request = from_openai(
        {
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}]}
            ]
        }
    )
    with pytest.raises(UnsupportedFeature):
        gemini.encode_request(request, model_name="gemini-2.5-flash")


def test_count_request_wraps_the_generate_request() -> None:
    request = from_anthropic({"system": "Sys", "messages": [{"role": "user", "content": "Count me"}]})
    body = msgspec.json.decode(gemini.encode_count_request(request, model_name="gemini-2.5-pro"))
    inner = body["generateContentRequest"]
    assert inner["model"] == "models/gemini-2.5-pro"
    assert inner["contents"] == [{"role": "user", "parts": [{"text": "Count me"}]}]
    assert inner["systemInstruction"] == {"parts": [{"text": "Sys"}]}
    assert gemini.decode_count_response(b'{"totalTokens": 31}') == 31


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "wav"}}, "audio"),
        ({"functions": [{"name": "f"}]}, "functions"),
    ],
)
def test_openai_features_that_would_change_the_answer_are_refused(extra: dict[str, Any], param: str) -> None:
    request = from_openai({"messages": [{"role": "user", "content": "Hi"}], **extra})
    with pytest.raises(UnsupportedFeature) as refused:
        gemini.encode_request(request, model_name="gemini-2.5-flash")
    assert refused.value.param == param


def test_anthropic_mcp_servers_are_refused() -> None:
    request = from_anthropic(
        {
            "messages": [{"role": "user", "content": "Hi"}],
            "mcp_servers": [{"type": "url", "url": "https://x.test", "name": "x"}],
        }
    )
    with pytest.raises(UnsupportedFeature, match="mcp_servers"):
        gemini.encode_request(request, model_name="gemini-2.5-flash")
