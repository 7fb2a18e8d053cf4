"""The official OpenAI and Anthropic SDKs through the gateway to a Gemini API provider (translated both ways):
text, streams, tools with a tool-result follow-up, images, thinking, token counts, errors and fallbacks."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import anthropic
import openai
import pytest

from lunaroute.recording import Completed, read_session_file
from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import Answer, FakeUpstream, GatewayFactory, GatewayServer, Reply, ToolCall, Usage

pytestmark = pytest.mark.e2e

PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
PATH = "/v1beta/models/gemini-2.5-flash:generateContent"
STREAM_PATH = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
BLOCKED = b'{"promptFeedback": {"blockReason": "SAFETY"}, "modelVersion": "gemini-2.5-flash", "responseId": "b1"}'


@pytest.fixture
async def gateway(upstream: FakeUpstream, make_gateway: GatewayFactory) -> GatewayServer:
    """gemini-* models go to a Gemini provider with its own key; keyless-* to one that forwards the client's."""
    return await make_gateway(
        providers={
            "gem": {"provider_type": "gemini", "base_url": upstream.url, "api_key": "g-key"},
            "gem-own-key": {"provider_type": "gemini", "base_url": upstream.url, "model": "gemini-2.5-flash"},
        },
        routing={
            "rules": [
                {"name": "gemini", "model_pattern": "^gemini-", "primary": "gem", "fallbacks": ["anthropic"]},
                {"name": "keyless", "model_pattern": "^keyless-", "primary": "gem-own-key"},
            ]
        },
    )


@pytest.fixture
async def ant(gateway: GatewayServer) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key="sk-client", max_retries=0) as client:
        yield client


@pytest.fixture
async def oai(gateway: GatewayServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="sk-client", max_retries=0) as client:
        yield client


async def test_openai_sdk_text_with_image(upstream: FakeUpstream, oai: openai.AsyncOpenAI) -> None:
    upstream.enqueue(Reply(answer=Answer(text="A red pixel.", usage=Usage(input_tokens=12, output_tokens=3))))
    completion = await oai.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[
            {"role": "system", "content": "Describe images."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
                ],
            },
        ],
        temperature=0.2,
    )
    assert completion.choices[0].message.content == "A red pixel."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (12, 3)
    sent = upstream.last_request
    assert sent.path == PATH
    assert sent.header("x-goog-api-key") == "g-key"
    assert sent.header("authorization") is None
    body = sent.json()
    assert body["systemInstruction"] == {"parts": [{"text": "Describe images."}]}
    assert body["contents"][0]["parts"][1] == {"inlineData": {"mimeType": "image/png", "data": PIXEL}}
    assert body["generationConfig"] == {"temperature": 0.2}


async def test_openai_sdk_stream_with_usage(upstream: FakeUpstream, oai: openai.AsyncOpenAI) -> None:
    upstream.enqueue(Reply(answer=Answer(text="Streaming from Gemini.", usage=Usage(input_tokens=5, output_tokens=4))))
    stream = await oai.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Streaming from Gemini."
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    usage = chunks[-1].usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (5, 4)
    assert upstream.last_request.path == STREAM_PATH
    assert upstream.last_request.query_string == "alt=sse"


async def test_openai_sdk_tools_and_the_tool_result_follow_up(upstream: FakeUpstream, oai: openai.AsyncOpenAI) -> None:
    upstream.enqueue(
        Reply(answer=Answer(tool_calls=(ToolCall(name="get_weather", arguments='{"city": "Oslo"}'),))),
        Reply(answer=Answer(text="It is 3 degrees in Oslo.")),
    )
    messages: list[dict[str, object]] = [{"role": "user", "content": "Weather in Oslo?"}]
    first = await oai.chat.completions.create(
        model="gemini-2.5-flash",
        messages=messages,  # type: ignore[arg-type]
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="required",
    )
    assert first.choices[0].finish_reason == "tool_calls"
    [call] = first.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert call.id.startswith("call_gemini-mock-response_")
    body = upstream.last_request.json()
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert body["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"]["required"] == ["city"]
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "3 degrees"},
    ]
    second = await oai.chat.completions.create(
        model="gemini-2.5-flash",
        messages=messages,  # type: ignore[arg-type]
        tools=[WEATHER],  # type: ignore[list-item]
    )
    assert second.choices[0].message.content == "It is 3 degrees in Oslo."
    contents = upstream.last_request.json()["contents"]
    assert contents[1]["parts"][0]["functionCall"]["id"] == call.id
    assert contents[2] == {
        "role": "user",
        "parts": [{"functionResponse": {"id": call.id, "name": "get_weather", "response": {"output": "3 degrees"}}}],
    }


async def test_anthropic_sdk_thinking_stream_and_signed_tool_round_trip(
    upstream: FakeUpstream, ant: anthropic.AsyncAnthropic
) -> None:
    upstream.enqueue(
        Reply(
            answer=Answer(
                thinking="Need the weather tool.",
                thinking_signature="c2lnLTE=",
                tool_calls=(ToolCall(name="get_weather", arguments='{"city": "Rome"}'),),
                usage=Usage(input_tokens=30, output_tokens=8),
            )
        ),
        Reply(answer=Answer(text="Sunny in Rome.")),
    )
    tools: list[anthropic.types.ToolParam] = [
        {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}
    ]
    async with ant.messages.stream(
        model="gemini-2.5-flash",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        tools=tools,
        messages=[{"role": "user", "content": "Weather in Rome?"}],
    ) as stream:
        message = await stream.get_final_message()
    assert [block.type for block in message.content] == ["thinking", "tool_use"]
    thinking, tool_use = message.content
    assert thinking.thinking == "Need the weather tool."  # type: ignore[union-attr]
    assert thinking.signature == "c2lnLTE="  # type: ignore[union-attr]
    assert message.stop_reason == "tool_use"
    assert message.usage.output_tokens == 12  # 8 answer + 4 thought tokens
    sent = upstream.last_request
    assert sent.path == STREAM_PATH
    assert sent.json()["generationConfig"]["thinkingConfig"] == {"includeThoughts": True, "thinkingBudget": 1024}
    follow_up = await ant.messages.create(
        model="gemini-2.5-flash",
        max_tokens=2048,
        tools=tools,
        messages=[
            {"role": "user", "content": "Weather in Rome?"},
            {"role": "assistant", "content": message.content},  # type: ignore[typeddict-item]
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "sunny"}],  # type: ignore[union-attr]
            },
        ],
    )
    assert follow_up.content[0].text == "Sunny in Rome."  # type: ignore[union-attr]
    model_turn = upstream.last_request.json()["contents"][1]
    assert model_turn["parts"] == [
        {
            "functionCall": {"id": tool_use.id, "name": "get_weather", "args": {"city": "Rome"}},  # type: ignore[union-attr]
            "thoughtSignature": "c2lnLTE=",
        }
    ]


async def test_anthropic_sdk_text_and_count_tokens(upstream: FakeUpstream, ant: anthropic.AsyncAnthropic) -> None:
    upstream.enqueue(Reply(answer=Answer(text="Ciao.")), Reply(answer=Answer(usage=Usage(input_tokens=77))))
    message = await ant.messages.create(
        model="gemini-2.5-flash",
        max_tokens=50,
        system="Answer in Italian.",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Hello"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
                ],
            }
        ],
    )
    assert message.content[0].text == "Ciao."  # type: ignore[union-attr]
    assert upstream.last_request.header("anthropic-version") is None
    counted = await ant.messages.count_tokens(
        model="gemini-2.5-flash", system="Be brief.", messages=[{"role": "user", "content": "How long is this?"}]
    )
    assert counted.input_tokens == 77
    sent = upstream.last_request
    assert sent.path == "/v1beta/models/gemini-2.5-flash:countTokens"
    assert sent.json()["generateContentRequest"]["systemInstruction"] == {"parts": [{"text": "Be brief."}]}


async def test_the_clients_own_key_is_forwarded(upstream: FakeUpstream, oai: openai.AsyncOpenAI) -> None:
    upstream.enqueue(Reply(answer=Answer(text="ok")))
    await oai.chat.completions.create(model="keyless-anything", messages=[{"role": "user", "content": "Hi"}])
    sent = upstream.last_request
    assert sent.path == PATH
    assert sent.header("x-goog-api-key") == "sk-client"


async def test_rate_limit_maps_to_each_dialect(
    upstream: FakeUpstream, oai: openai.AsyncOpenAI, ant: anthropic.AsyncAnthropic
) -> None:
    upstream.enqueue(
        Reply(status=429, error_message="Quota exceeded.", retry_after="7"),
        Reply(status=429, error_message="Quota exceeded."),
    )
    with pytest.raises(openai.RateLimitError) as rate_limited:
        await oai.chat.completions.create(model="keyless-x", messages=[{"role": "user", "content": "Hi"}])
    assert rate_limited.value.response.headers.get("retry-after") == "7"
    assert "Quota exceeded." in str(rate_limited.value)
    with pytest.raises(anthropic.RateLimitError) as limited:
        await ant.messages.create(model="keyless-x", max_tokens=5, messages=[{"role": "user", "content": "Hi"}])
    assert limited.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]


async def test_invalid_key_and_overload_map_to_each_dialect(
    upstream: FakeUpstream, oai: openai.AsyncOpenAI, ant: anthropic.AsyncAnthropic
) -> None:
    invalid_key = (Path(__file__).parents[1] / "fixtures" / "gemini" / "error_api_key.json").read_bytes()
    upstream.enqueue(
        Reply(status=400, raw_chunks=[invalid_key], content_type="application/json"),
        Reply(status=503, error_message="The model is overloaded."),
    )
    with pytest.raises(openai.AuthenticationError, match="API key not valid"):
        await oai.chat.completions.create(model="keyless-x", messages=[{"role": "user", "content": "Hi"}])
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        await ant.messages.create(model="keyless-x", max_tokens=5, messages=[{"role": "user", "content": "Hi"}])
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


async def test_safety_block_is_a_bad_request_in_each_dialect(
    upstream: FakeUpstream, oai: openai.AsyncOpenAI, ant: anthropic.AsyncAnthropic
) -> None:
    upstream.enqueue(
        Reply(raw_chunks=[BLOCKED], content_type="application/json"),
        Reply(raw_chunks=[b"data: " + BLOCKED + b"\r\n\r\n"], content_type="text/event-stream"),
    )
    with pytest.raises(openai.BadRequestError, match="blockReason SAFETY"):
        await oai.chat.completions.create(model="keyless-x", messages=[{"role": "user", "content": "Bad"}])
    with pytest.raises(anthropic.APIStatusError, match="blockReason SAFETY"):
        async with ant.messages.stream(
            model="keyless-x", max_tokens=5, messages=[{"role": "user", "content": "Bad"}]
        ) as stream:
            await stream.get_final_message()


async def test_context_length_error(upstream: FakeUpstream, oai: openai.AsyncOpenAI) -> None:
    message = "The input token count (1290000) exceeds the maximum number of tokens allowed (1048576)."
    upstream.enqueue(Reply(status=400, error_message=message))
    with pytest.raises(openai.BadRequestError) as bad:
        await oai.chat.completions.create(model="keyless-x", messages=[{"role": "user", "content": "Long"}])
    assert bad.value.code == "context_length_exceeded"


async def test_a_failing_gemini_provider_falls_back_to_another_wire(
    upstream: FakeUpstream, oai: openai.AsyncOpenAI
) -> None:
    upstream.enqueue(Reply(status=503, error_message="overloaded"), Reply(answer=Answer(text="From Anthropic.")))
    completion = await oai.chat.completions.create(
        model="gemini-2.5-flash", messages=[{"role": "user", "content": "Hi"}]
    )
    assert completion.choices[0].message.content == "From Anthropic."
    assert [r.path for r in upstream.requests] == [PATH, "/v1/messages"]


async def test_recorded_with_provider_usage_cost_and_the_upstream_error_body(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    recording = {
        "enabled": True,
        "jsonl": {"directory": str(tmp_path / "sessions")},
        "sqlite": {"path": str(tmp_path / "sessions.db")},
        "journal_directory": str(tmp_path / "journal"),
    }
    gateway = await make_gateway(
        providers={
            "gem": {
                "provider_type": "gemini",
                "base_url": upstream.url,
                "api_key": "AIzaSy-recorded-test-key-0123456789",
            }
        },
        routing={
            "rules": [{"name": "gemini", "model_pattern": "^gemini-", "primary": "gem", "fallbacks": ["anthropic"]}]
        },
        session_recording=recording,
    )
    usage = Usage(input_tokens=1000, output_tokens=500, cache_read_tokens=2000)
    upstream.enqueue(
        Reply(answer=Answer(text="Recorded.", thinking="Think.", usage=usage)),
        Reply(status=503, error_message="Overloaded."),
        Reply(answer=Answer(text="From the fallback.")),
        Reply(status=400, error_message="Bad argument near AIzaSy-recorded-test-key-0123456789."),
    )
    metadata = {"user_id": json.dumps({"session_id": "gemini-recorded"})}
    async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key="k", max_retries=0) as client:
        await client.messages.create(
            model="gemini-2.5-flash", max_tokens=600, metadata=metadata, messages=[{"role": "user", "content": "Hi"}]
        )
        await client.messages.create(
            model="gemini-2.5-flash", max_tokens=5, metadata=metadata, messages=[{"role": "user", "content": "y"}]
        )
        with pytest.raises(anthropic.BadRequestError):
            await client.messages.create(
                model="gemini-2.5-flash", max_tokens=5, metadata=metadata, messages=[{"role": "user", "content": "x"}]
            )
    assert gateway.app is not None
    capture = gateway.app[GATEWAY].capture
    assert capture is not None
    await capture.drain()
    [file] = (tmp_path / "sessions").rglob("gemini-recorded.jsonl")
    done, fell_back, failed = [e for e in read_session_file(file).events if isinstance(e, Completed)]
    # The provider's own error body is kept (its configured key masked), not only the translated answer; an
    # error a fallback recovered from is not the exchange's error.
    assert (fell_back.provider, fell_back.error) == ("anthropic", None)
    assert failed.error is not None
    assert failed.error.startswith("gem answered 400: ")
    assert '"status":"INVALID_ARGUMENT"' in failed.error
    assert "AIzaSy-recorded-test-key" not in failed.error
    assert done.provider == "gem"
    assert done.error is None
    assert (done.total_input, done.total_output, done.total_cache_read, done.total_thinking) == (1000, 501, 2000, 1)
    cost = done.estimated_cost
    assert cost is not None
    assert cost.model == "gemini-2.5-flash"
    # $0.30 input, $0.03 cache read, $2.50 output per million tokens.
    assert cost.total_cost_usd == pytest.approx((1000 * 0.3 + 2000 * 0.03 + 501 * 2.5) / 1e6)
    with sqlite3.connect(tmp_path / "sessions.db") as db:
        assert list(db.execute("SELECT provider, model_used FROM sessions")) == [("gem", "gemini-2.5-flash")]
