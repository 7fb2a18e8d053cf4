"""The official `openai` and `anthropic` SDKs through the gateway, in passthrough, against the fake upstream."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import anthropic
import openai
import pytest

from lunaroute.testing import Answer, FakeUpstream, Reply, ToolCall, Usage
from lunaroute.testing._gateway import GatewayFactory, GatewayServer

pytestmark = pytest.mark.e2e

PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
async def oai(gateway: GatewayServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="sk-client", max_retries=0) as client:
        yield client


@pytest.fixture
async def ant(gateway: GatewayServer) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key="sk-ant-client", max_retries=0) as client:
        yield client


async def test_openai_chat_non_stream_with_system_and_image(upstream: FakeUpstream, oai: openai.AsyncOpenAI) -> None:
    upstream.enqueue(Reply(answer=Answer(text="A red pixel.", usage=Usage(input_tokens=12, output_tokens=4))))
    messages = [
        {"role": "system", "content": "Be terse."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
            ],
        },
    ]
    result = await oai.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
    assert result.choices[0].message.content == "A red pixel."
    assert result.usage is not None
    assert result.usage.prompt_tokens == 12
    sent = upstream.last_request
    assert sent.json()["messages"] == messages
    assert sent.header("authorization") == "Bearer sk-client"


async def test_openai_chat_stream_with_tool_calls_and_usage(upstream: FakeUpstream, oai: openai.AsyncOpenAI) -> None:
    call = ToolCall(name="get_weather", arguments='{"city": "Paris"}', id="call_1")
    upstream.enqueue(Reply(answer=Answer(tool_calls=(call,), usage=Usage(input_tokens=20, output_tokens=9))))
    stream = await oai.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        stream=True,
        stream_options={"include_usage": True},
    )
    arguments = ""
    name = None
    finish = None
    usage = None
    async for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                if delta.function and delta.function.name:
                    name = delta.function.name
                if delta.function and delta.function.arguments:
                    arguments += delta.function.arguments
            finish = choice.finish_reason or finish
    assert name == "get_weather"
    assert json.loads(arguments) == {"city": "Paris"}
    assert finish == "tool_calls"
    assert usage is not None
    assert usage.completion_tokens == 9


async def test_openai_stream_arrives_incrementally(upstream: FakeUpstream, oai: openai.AsyncOpenAI) -> None:
    upstream.enqueue(Reply(answer=Answer(text="one two three four"), first_chunk_then_stall=1.0))
    started = time.monotonic()
    stream = await oai.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "count"}], stream=True
    )
    first_at = None
    text = ""
    async for chunk in stream:
        if first_at is None:
            first_at = time.monotonic() - started
        for choice in chunk.choices:
            text += choice.delta.content or ""
    assert first_at is not None
    assert first_at < 0.6
    assert time.monotonic() - started >= 1.0
    assert text == "one two three four"


async def test_openai_errors_are_the_sdk_exceptions(upstream: FakeUpstream, oai: openai.AsyncOpenAI) -> None:
    client = oai
    upstream.enqueue(Reply(status=429, error_message="Rate limit reached", retry_after="3"))
    with pytest.raises(openai.RateLimitError) as rate:
        await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert "Rate limit reached" in str(rate.value)
    upstream.enqueue(Reply(status=401, error_message="Incorrect API key"))
    with pytest.raises(openai.AuthenticationError):
        await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError) as bad:
        await client.chat.completions.create(model="gpt-4o", messages=[], extra_body={"stream": "yes"})
    assert bad.value.body is not None


async def test_openai_responses_models_embeddings(upstream: FakeUpstream, oai: openai.AsyncOpenAI) -> None:
    client = oai
    upstream.enqueue(Reply(answer=Answer(text="Responses work.")))
    stream = await client.responses.create(model="gpt-5.5", input="hi", stream=True)
    text = ""
    completed = False
    async for event in stream:
        if event.type == "response.output_text.delta":
            text += event.delta
        completed = completed or event.type == "response.completed"
    assert text == "Responses work."
    assert completed
    assert upstream.last_request.path == "/v1/responses"
    models = await client.models.list()
    assert len(models.data) >= 1
    embedding = await client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(embedding.data) == 2


async def test_anthropic_messages_non_stream_with_tools(upstream: FakeUpstream, ant: anthropic.AsyncAnthropic) -> None:
    call = ToolCall(name="get_weather", arguments='{"city": "Oslo"}', id="toolu_1")
    upstream.enqueue(Reply(answer=Answer(text="Let me check.", tool_calls=(call,))))
    message = await ant.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=100,
        system=[{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
    )
    assert message.stop_reason == "tool_use"
    tool_use = next(b for b in message.content if b.type == "tool_use")
    assert tool_use.input == {"city": "Oslo"}
    sent = upstream.last_request
    assert sent.json()["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert sent.header("authorization") == "Bearer sk-ant-client" or sent.header("x-api-key") == "sk-ant-client"


async def test_anthropic_stream_with_thinking_and_image(upstream: FakeUpstream, ant: anthropic.AsyncAnthropic) -> None:
    upstream.enqueue(Reply(answer=Answer(text="It is a pixel.", thinking="Looking closely.", thinking_signature="sig")))
    async with ant.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=200,
        thinking={"type": "enabled", "budget_tokens": 100},
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
                    {"type": "text", "text": "What is it?"},
                ],
            }
        ],
    ) as stream:
        final = await stream.get_final_message()
    kinds = [block.type for block in final.content]
    assert kinds == ["thinking", "text"]
    assert final.content[1].text == "It is a pixel."  # type: ignore[union-attr]
    assert upstream.last_request.json()["messages"][0]["content"][0]["source"]["data"] == PIXEL


async def test_anthropic_errors_and_count_tokens(upstream: FakeUpstream, ant: anthropic.AsyncAnthropic) -> None:
    client = ant
    upstream.enqueue(Reply(status=529, error_type="overloaded_error", error_message="Overloaded"))
    with pytest.raises(anthropic.InternalServerError) as overloaded:
        await client.messages.create(model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert overloaded.value.status_code == 529
    upstream.enqueue(Reply(status=429, error_message="slow"))
    with pytest.raises(anthropic.RateLimitError):
        await client.messages.create(model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.BadRequestError) as bad:
        await client.messages.create(
            model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "x"}], extra_body={"stream": 3}
        )
    assert bad.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    count = await client.messages.count_tokens(model="claude-x", messages=[{"role": "user", "content": "hello"}])
    assert count.input_tokens > 0
    assert upstream.last_request.path == "/v1/messages/count_tokens"


async def test_gateway_unreachable_upstream_is_an_sdk_error(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(providers={"anthropic": {"base_url": "http://127.0.0.1:9"}})
    async with anthropic.AsyncAnthropic(base_url=gw.url, api_key="k", max_retries=0) as client:
        with pytest.raises(anthropic.APIStatusError) as info:
            await client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 502
    assert info.value.body["error"]["type"] == "api_error"  # type: ignore[index]
