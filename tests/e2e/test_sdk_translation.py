"""The official SDKs through the gateway to a provider of the *other* dialect (translated both ways)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import anthropic
import openai
import pytest

from lunaroute.testing import Answer, FakeUpstream, GatewayFactory, GatewayServer, Reply, ToolCall, Usage

pytestmark = pytest.mark.e2e

PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="


@pytest.fixture
async def gateway(upstream: FakeUpstream, make_gateway: GatewayFactory) -> GatewayServer:
    """claude-* models go to an OpenAI-dialect provider, gpt-* models to an Anthropic-dialect one."""
    return await make_gateway(
        providers={
            "oai": {"provider_type": "openai", "base_url": f"{upstream.url}/v1", "model": "upstream-gpt"},
            "ant": {"provider_type": "anthropic", "base_url": upstream.url, "default_max_tokens": 777},
        },
        routing={
            "rules": [
                {"name": "claude-on-openai", "model_pattern": "^claude-", "primary": "oai"},
                {"name": "gpt-on-anthropic", "model_pattern": "^gpt-", "primary": "ant"},
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


async def test_anthropic_sdk_on_openai_provider(upstream: FakeUpstream, ant: anthropic.AsyncAnthropic) -> None:
    upstream.enqueue(Reply(answer=Answer(text="Bonjour.", usage=Usage(input_tokens=10, output_tokens=2))))
    message = await ant.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=50,
        system="Answer in French.",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Say hello"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
                ],
            }
        ],
    )
    assert message.content[0].text == "Bonjour."  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 10
    sent = upstream.last_request
    assert sent.path == "/v1/chat/completions"
    body = sent.json()
    assert body["model"] == "upstream-gpt"
    assert body["messages"][0] == {"role": "system", "content": "Answer in French."}
    assert body["messages"][1]["content"][1]["image_url"]["url"] == f"data:image/png;base64,{PIXEL}"
    assert sent.header("authorization") == "Bearer sk-client"
    assert sent.header("anthropic-version") is None


async def test_anthropic_sdk_streams_tool_use_from_openai_provider(
    upstream: FakeUpstream, ant: anthropic.AsyncAnthropic
) -> None:
    calls = (
        ToolCall(name="get_weather", arguments='{"city": "Paris"}', id="call_a"),
        ToolCall(name="get_time", arguments='{"tz": "CET"}', id="call_b"),
    )
    upstream.enqueue(
        Reply(answer=Answer(text="Checking.", tool_calls=calls, usage=Usage(input_tokens=5, output_tokens=7)))
    )
    async with ant.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=100,
        tools=[
            {"name": "get_weather", "input_schema": {"type": "object"}},
            {"name": "get_time", "input_schema": {"type": "object"}},
        ],
        messages=[{"role": "user", "content": "Weather and time in Paris?"}],
    ) as stream:
        final = await stream.get_final_message()
    assert [b.type for b in final.content] == ["text", "tool_use", "tool_use"]
    assert final.content[1].input == {"city": "Paris"}  # type: ignore[union-attr]
    assert final.content[2].id == "call_b"  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use"
    assert final.usage.output_tokens == 7
    sent = upstream.last_request.json()
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}


async def test_anthropic_tool_round_trip_keeps_ids(upstream: FakeUpstream, ant: anthropic.AsyncAnthropic) -> None:
    upstream.enqueue(Reply(answer=Answer(text="It is sunny.")))
    await ant.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=100,
        messages=[
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_x1", "name": "w", "input": {"c": 1}}]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_x1", "content": "sunny"}],
            },
        ],
    )
    messages = upstream.last_request.json()["messages"]
    assert messages[1]["tool_calls"][0]["id"] == "toolu_x1"
    assert messages[2] == {"role": "tool", "tool_call_id": "toolu_x1", "content": "sunny"}


async def test_openai_errors_become_anthropic_sdk_errors(upstream: FakeUpstream, ant: anthropic.AsyncAnthropic) -> None:
    upstream.enqueue(Reply(status=429, error_message="Too many requests"))
    with pytest.raises(anthropic.RateLimitError) as info:
        await ant.messages.create(model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert "Too many requests" in str(info.value)
    upstream.enqueue(Reply(status=401, error_message="bad key"))
    with pytest.raises(anthropic.AuthenticationError):
        await ant.messages.create(model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "x"}])


async def test_count_tokens_on_openai_provider_is_a_labelled_estimate(
    upstream: FakeUpstream, ant: anthropic.AsyncAnthropic
) -> None:
    result = await ant.messages.count_tokens(
        model="claude-x", messages=[{"role": "user", "content": "hello there, how are you today?"}]
    )
    assert result.input_tokens > 0
    raw = await ant.messages.with_raw_response.count_tokens(
        model="claude-x", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers["x-lunaroute-estimated"] == "true"
    assert upstream.requests == []


async def test_openai_sdk_on_anthropic_provider(upstream: FakeUpstream, oai: openai.AsyncOpenAI) -> None:
    upstream.enqueue(
        Reply(answer=Answer(text="Hi there.", usage=Usage(input_tokens=8, output_tokens=3, cache_read_tokens=4)))
    )
    result = await oai.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "system", "content": "Be nice."}, {"role": "user", "content": "hello"}],
    )
    assert result.choices[0].message.content == "Hi there."
    assert result.choices[0].finish_reason == "stop"
    assert result.usage is not None
    assert result.usage.prompt_tokens == 12
    sent = upstream.last_request
    assert sent.path == "/v1/messages"
    body = sent.json()
    assert body["system"] == "Be nice." or body["system"][0]["text"] == "Be nice."
    assert body["max_tokens"] == 777
    assert sent.header("x-api-key") == "sk-client"
    assert sent.header("anthropic-version") == "2023-06-01"


async def test_openai_sdk_streams_tools_and_thinking_from_anthropic(
    upstream: FakeUpstream, oai: openai.AsyncOpenAI
) -> None:
    call = ToolCall(name="lookup", arguments='{"q": "lunaroute"}', id="toolu_9")
    upstream.enqueue(
        Reply(
            answer=Answer(
                thinking="Let me think.", thinking_signature="s1", tool_calls=(call,), usage=Usage(output_tokens=6)
            )
        )
    )
    stream = await oai.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "look it up"}],
        tools=[{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
        stream=True,
        stream_options={"include_usage": True},
    )
    arguments, ids, finish, usage, reasoning = "", [], None, None, ""
    async for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            reasoning += getattr(choice.delta, "reasoning_content", None) or ""
            for tool in choice.delta.tool_calls or []:
                if tool.id:
                    ids.append(tool.id)
                if tool.function and tool.function.arguments:
                    arguments += tool.function.arguments
            finish = choice.finish_reason or finish
    assert ids == ["toolu_9"]
    assert json.loads(arguments) == {"q": "lunaroute"}
    assert finish == "tool_calls"
    assert reasoning == "Let me think."
    assert usage is not None
    assert usage.completion_tokens == 6


async def test_anthropic_errors_become_openai_sdk_errors(upstream: FakeUpstream, oai: openai.AsyncOpenAI) -> None:
    upstream.enqueue(Reply(status=529, error_type="overloaded_error", error_message="Overloaded"))
    with pytest.raises(openai.InternalServerError) as info:
        await oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 503
    with pytest.raises(openai.BadRequestError) as bad:
        await oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}], n=3)
    assert "n" in str(bad.value)


async def test_responses_api_on_anthropic_provider_is_translated(
    upstream: FakeUpstream, oai: openai.AsyncOpenAI
) -> None:
    upstream.enqueue(Reply(answer=Answer(text="hello")))
    response = await oai.responses.create(model="gpt-5", input="hi", store=False)
    assert response.output_text == "hello"
    assert upstream.last_request.path == "/v1/messages"
    with pytest.raises(openai.BadRequestError) as info:
        await oai.responses.create(model="gpt-5", input="hi", tools=[{"type": "code_interpreter", "container": "c"}])
    assert "code_interpreter" in str(info.value)


async def test_marker_routes_and_is_stripped(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(
        providers={"alt": {"provider_type": "openai", "base_url": f"{upstream.url}/v1", "model": "alt-model"}}
    )
    upstream.enqueue(Reply(answer=Answer(text="from alt")))
    async with anthropic.AsyncAnthropic(base_url=gw.url, api_key="k", max_retries=0) as client:
        message = await client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=20,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "<system-reminder>[LUNAROUTE:alt]</system-reminder>"},
                        {"type": "text", "text": "hello"},
                    ],
                }
            ],
        )
    assert message.content[0].text == "from alt"  # type: ignore[union-attr]
    body = upstream.last_request.json()
    assert upstream.last_request.path == "/v1/chat/completions"
    assert body["model"] == "alt-model"
    assert "LUNAROUTE" not in json.dumps(body)
