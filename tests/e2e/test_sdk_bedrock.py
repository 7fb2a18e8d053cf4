"""The official `anthropic` and `openai` SDKs through the gateway to a Bedrock provider (translated to Converse,
signed with SigV4), against `FakeBedrock`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from lunaroute.recording import Completed, read_session_file
from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import (
    Answer,
    FakeBedrock,
    FakeUpstream,
    GatewayFactory,
    GatewayServer,
    Reply,
    ToolCall,
    Usage,
)

pytestmark = pytest.mark.e2e

PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
TOOLS_ANT: list[Any] = [
    {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {}}}
]


@pytest.fixture
async def bedrock() -> AsyncIterator[FakeBedrock]:
    async with FakeBedrock(region="eu-west-1") as fake:
        yield fake


def bedrock_provider(fake: FakeBedrock, **extra: Any) -> dict[str, Any]:
    return {
        "provider_type": "bedrock",
        "base_url": fake.url,
        "region": fake.region,
        "aws_access_key_id": fake.keys.access_key_id,
        "aws_secret_access_key": fake.keys.secret_access_key,
        **extra,
    }


@pytest.fixture
async def gateway(bedrock: FakeBedrock, make_gateway: GatewayFactory) -> GatewayServer:
    """claude-* models go to Bedrock as the Claude inference profile; anything else keeps its own name."""
    return await make_gateway(
        providers={
            "claude": bedrock_provider(bedrock, model=CLAUDE),
            "nova": bedrock_provider(bedrock),
        },
        routing={
            "rules": [
                {"name": "claude", "model_pattern": "^claude-", "primary": "claude"},
                {"name": "other", "model_pattern": ".", "primary": "nova"},
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


async def test_anthropic_sdk_text_and_image(bedrock: FakeBedrock, ant: anthropic.AsyncAnthropic) -> None:
    bedrock.enqueue(Reply(answer=Answer(text="Bonjour.", usage=Usage(input_tokens=10, output_tokens=2))))
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
    assert message.model == "claude-sonnet-4-6"  # Converse names no model: the one asked for
    sent = bedrock.last_request
    assert bedrock.model_ids == [CLAUDE]
    assert sent.path == "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"
    assert sent.header(
        "authorization",
    ).startswith("AWS4-HMAC-SHA256 Credential=AKIDFAKEBEDROCK/")  # type: ignore[union-attr]
    assert sent.header("x-api-key") is None
    body = sent.json()
    assert body["system"] == [{"text": "Answer in French."}]
    assert body["messages"][0]["content"][1] == {"image": {"format": "png", "source": {"bytes": PIXEL}}}
    assert body["inferenceConfig"] == {"maxTokens": 50}


async def test_anthropic_sdk_streams_thinking_and_tool_use(bedrock: FakeBedrock, ant: anthropic.AsyncAnthropic) -> None:
    call = ToolCall(name="get_weather", arguments='{"city": "Paris"}', id="tooluse_abc")
    answer = Answer(
        text="Let me check.",
        thinking="The user wants the weather.",
        thinking_signature="sig-1",
        tool_calls=(call,),
        usage=Usage(input_tokens=20, output_tokens=9),
    )
    bedrock.enqueue(Reply(answer=answer))
    async with ant.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=8000,
        thinking={"type": "enabled", "budget_tokens": 2048},
        tools=TOOLS_ANT,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    ) as stream:
        final = await stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
    assert final.content[0].thinking == "The user wants the weather."  # type: ignore[union-attr]
    assert final.content[0].signature == "sig-1"  # type: ignore[union-attr]
    assert final.content[2].input == {"city": "Paris"}  # type: ignore[union-attr]
    assert final.content[2].id == "tooluse_abc"  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use"
    assert final.usage.output_tokens == 9
    assert bedrock.last_request.path.endswith("/converse-stream")
    body = bedrock.last_request.json()
    assert body["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    assert body["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather"

    # The follow-up sends the signed thinking, the tool call and its result back.
    bedrock.enqueue(Reply(answer=Answer(text="It is sunny in Paris.")))
    follow = await ant.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=8000,
        thinking={"type": "enabled", "budget_tokens": 2048},
        tools=TOOLS_ANT,
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [b.model_dump() for b in final.content]},  # type: ignore[misc]
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tooluse_abc", "content": "sunny"}]},
        ],
    )
    assert follow.content[0].text == "It is sunny in Paris."  # type: ignore[union-attr]
    messages = bedrock.last_request.json()["messages"]
    assert messages[1]["content"][0] == {
        "reasoningContent": {"reasoningText": {"text": "The user wants the weather.", "signature": "sig-1"}}
    }
    assert messages[1]["content"][2] == {
        "toolUse": {"toolUseId": "tooluse_abc", "name": "get_weather", "input": {"city": "Paris"}}
    }
    assert messages[2]["content"] == [{"toolResult": {"toolUseId": "tooluse_abc", "content": [{"text": "sunny"}]}}]


async def test_openai_sdk_text_stream_and_usage(bedrock: FakeBedrock, oai: openai.AsyncOpenAI) -> None:
    bedrock.enqueue(Reply(answer=Answer(text="Hello from Nova.", usage=Usage(input_tokens=6, output_tokens=4))))
    stream = await oai.chat.completions.create(
        model="amazon.nova-pro-v1:0",
        messages=[{"role": "system", "content": "Be nice."}, {"role": "user", "content": "hello"}],
        stream=True,
        stream_options={"include_usage": True},
        max_tokens=64,
        stop=["END"],
    )
    text, usage, finish = "", None, None
    async for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    assert text == "Hello from Nova."
    assert finish == "stop"
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (6, 4)
    assert bedrock.model_ids == ["amazon.nova-pro-v1:0"]
    body = bedrock.last_request.json()
    assert body["inferenceConfig"] == {"maxTokens": 64, "stopSequences": ["END"]}
    assert "additionalModelRequestFields" not in body


async def test_openai_sdk_tools_with_tool_result_follow_up(bedrock: FakeBedrock, oai: openai.AsyncOpenAI) -> None:
    tools: list[Any] = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    call = ToolCall(name="lookup", arguments='{"q": "lunaroute"}', id="tooluse_9")
    bedrock.enqueue(Reply(answer=Answer(tool_calls=(call,), usage=Usage(output_tokens=6))))
    first = await oai.chat.completions.create(
        model="claude-sonnet-4-6",
        messages=[{"role": "user", "content": "look it up"}],
        tools=tools,
        tool_choice="required",
        reasoning_effort="low",
        max_tokens=8000,
    )
    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None
    assert message.tool_calls[0].id == "tooluse_9"
    assert message.tool_calls[0].function.arguments == '{"q":"lunaroute"}'
    sent = bedrock.last_request.json()
    assert sent["toolConfig"]["toolChoice"] == {"any": {}}
    assert sent["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 4096}}

    bedrock.enqueue(Reply(answer=Answer(text="LunaRoute is a gateway.")))
    second = await oai.chat.completions.create(
        model="claude-sonnet-4-6",
        messages=[
            {"role": "user", "content": "look it up"},
            message.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": "tooluse_9", "content": "a gateway"},
        ],
        tools=tools,
    )
    assert second.choices[0].message.content == "LunaRoute is a gateway."
    messages = bedrock.last_request.json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[2]["content"] == [{"toolResult": {"toolUseId": "tooluse_9", "content": [{"text": "a gateway"}]}}]


async def test_throttling_is_a_rate_limit_error_in_both_dialects(
    bedrock: FakeBedrock, ant: anthropic.AsyncAnthropic, oai: openai.AsyncOpenAI
) -> None:
    bedrock.enqueue(Reply(status=429, error_message="Too many requests, please wait."))
    with pytest.raises(anthropic.RateLimitError) as ant_error:
        await ant.messages.create(model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert "Too many requests" in str(ant_error.value)
    bedrock.enqueue(Reply(status=429))
    with pytest.raises(openai.RateLimitError):
        await oai.chat.completions.create(model="amazon.nova-lite-v1:0", messages=[{"role": "user", "content": "x"}])
    bedrock.enqueue(Reply(status=503))
    with pytest.raises(anthropic.InternalServerError) as overloaded:
        await ant.messages.create(model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert overloaded.value.status_code == 529
    bedrock.enqueue(Reply(status=400, error_message="Input is too long for requested model."))
    with pytest.raises(openai.BadRequestError) as too_long:
        await oai.chat.completions.create(model="amazon.nova-lite-v1:0", messages=[{"role": "user", "content": "x"}])
    assert too_long.value.code == "context_length_exceeded"


async def test_mid_stream_throttling_ends_the_anthropic_stream_with_an_error(
    bedrock: FakeBedrock, ant: anthropic.AsyncAnthropic
) -> None:
    bedrock.enqueue(Reply(answer=Answer(text="abcdefgh"), error_after_chunks=3))

    async def read_stream() -> None:
        async with ant.messages.stream(
            model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        ) as stream:
            async for _ in stream:
                pass

    with pytest.raises(anthropic.APIStatusError) as info:
        await read_stream()
    assert "Too many requests" in str(info.value)


async def test_wrong_aws_secret_is_a_permission_error(bedrock: FakeBedrock, make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(
        providers={"b": bedrock_provider(bedrock, aws_secret_access_key="wrong")},
        routing={"rules": [{"name": "all", "model_pattern": ".", "primary": "b"}]},
    )
    async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key="k", max_retries=0) as client:
        with pytest.raises(anthropic.PermissionDeniedError, match="signature"):
            await client.messages.create(model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "x"}])


async def test_fallback_from_bedrock_to_an_openai_provider(
    bedrock: FakeBedrock, upstream: FakeUpstream, make_gateway: GatewayFactory
) -> None:
    gateway = await make_gateway(
        providers={
            "b": bedrock_provider(bedrock, model=CLAUDE),
            "oai": {"provider_type": "openai", "base_url": f"{upstream.url}/v1", "model": "gpt-4o"},
        },
        routing={"rules": [{"name": "all", "model_pattern": ".", "primary": "b", "fallbacks": ["oai"]}]},
    )
    bedrock.enqueue(Reply(status=503))
    upstream.enqueue(Reply(answer=Answer(text="From the fallback.")))
    async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key="k", max_retries=0) as client:
        message = await client.messages.create(
            model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert message.content[0].text == "From the fallback."  # type: ignore[union-attr]
    assert len(bedrock.requests) == 1
    assert upstream.last_request.path == "/v1/chat/completions"


async def test_bedrock_exchange_is_recorded_with_usage_and_cost(
    bedrock: FakeBedrock, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await make_gateway(
        providers={"claude": bedrock_provider(bedrock, model=CLAUDE)},
        routing={"rules": [{"name": "all", "model_pattern": ".", "primary": "claude"}]},
        session_recording={
            "enabled": True,
            "jsonl": {"directory": str(tmp_path / "sessions")},
            "sqlite": {"path": str(tmp_path / "sessions.db")},
            "journal_directory": str(tmp_path / "journal"),
        },
    )
    bedrock.enqueue(Reply(answer=Answer(text="Recorded.", usage=Usage(input_tokens=1000, output_tokens=500))))
    async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key="k", max_retries=0) as client:
        await client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=600,
            metadata={"user_id": "bedrock-session-1"},
            messages=[{"role": "user", "content": "x"}],
        )
    assert gateway.app is not None
    capture = gateway.app[GATEWAY].capture
    assert capture is not None
    await capture.drain()
    [path] = list((tmp_path / "sessions").rglob("*.jsonl"))
    [completed] = [e for e in read_session_file(path).events if isinstance(e, Completed)]
    assert completed.provider == "claude"
    assert (completed.total_input, completed.total_output) == (1000, 500)
    assert completed.estimated_cost is not None
    assert completed.estimated_cost.model == CLAUDE
    assert completed.estimated_cost.total_cost_usd == pytest.approx((1000 * 3.3 + 500 * 16.5) / 1e6)


async def test_count_tokens_is_estimated_and_embeddings_are_refused(
    bedrock: FakeBedrock, ant: anthropic.AsyncAnthropic, oai: openai.AsyncOpenAI
) -> None:
    raw = await ant.messages.with_raw_response.count_tokens(
        model="claude-sonnet-4-6", messages=[{"role": "user", "content": "hello there"}]
    )
    assert raw.headers["x-lunaroute-estimated"] == "true"
    assert (await raw.parse()).input_tokens > 0
    with pytest.raises(openai.BadRequestError, match="bedrock dialect"):
        await oai.embeddings.create(model="amazon.titan-embed-text-v2:0", input="hello")
    assert bedrock.requests == []
