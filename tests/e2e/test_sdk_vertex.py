"""The official OpenAI and Anthropic SDKs through the gateway to Vertex AI providers: Gemini models (the Gemini
wire) and Claude models (rawPredict), with OAuth tokens from a service-account file and the fake token endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anthropic
import openai
import pytest

from lunaroute.testing import (
    Answer,
    FakeUpstream,
    GatewayFactory,
    GatewayServer,
    Reply,
    ToolCall,
    Usage,
    write_service_account,
)

pytestmark = pytest.mark.e2e

ROOT = "/v1/projects/acme-ml/locations/us-east5/publishers"


@pytest.fixture
async def gateway(upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path) -> GatewayServer:
    """vx-* models go to Gemini 2.5 Pro on Vertex; claude-* to Claude on Vertex."""
    key = write_service_account(tmp_path / "sa.json", upstream.token_uri, project="acme-ml")
    common = {"provider_type": "vertex", "base_url": upstream.url, "project": "acme-ml", "location": "us-east5"}
    return await make_gateway(
        providers={
            "vx": {**common, "credentials_file": str(key), "model": "gemini-2.5-pro"},
            "vclaude": {**common, "credentials_file": str(key), "publisher": "anthropic"},
        },
        routing={
            "rules": [
                {"name": "vertex-gemini", "model_pattern": "^vx-", "primary": "vx"},
                {"name": "vertex-claude", "model_pattern": "^claude-", "primary": "vclaude"},
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


async def test_openai_sdk_to_gemini_on_vertex_reuses_its_token(upstream: FakeUpstream, oai: openai.AsyncOpenAI) -> None:
    upstream.enqueue(Reply(answer=Answer(text="One.")), Reply(answer=Answer(text="Two.")))
    for expected in ("One.", "Two."):
        completion = await oai.chat.completions.create(model="vx-any", messages=[{"role": "user", "content": "Hi"}])
        assert completion.choices[0].message.content == expected
    assert upstream.tokens.issued == ["ya29.fake-1"]
    sent = upstream.last_request
    assert sent.path == f"{ROOT}/google/models/gemini-2.5-pro:generateContent"
    assert sent.header("authorization") == "Bearer ya29.fake-1"
    assert sent.header("x-goog-api-key") is None


async def test_a_token_about_to_expire_is_renewed_first(upstream: FakeUpstream, oai: openai.AsyncOpenAI) -> None:
    upstream.tokens.lifetime_secs = 120  # inside the refresh margin: each request needs a new token
    upstream.enqueue(Reply(answer=Answer(text="a")), Reply(answer=Answer(text="b")))
    for _ in range(2):
        await oai.chat.completions.create(model="vx-any", messages=[{"role": "user", "content": "Hi"}])
    assert upstream.tokens.issued == ["ya29.fake-1", "ya29.fake-2"]
    assert upstream.last_request.header("authorization") == "Bearer ya29.fake-2"


async def test_anthropic_sdk_streams_tools_from_gemini_on_vertex(
    upstream: FakeUpstream, ant: anthropic.AsyncAnthropic
) -> None:
    upstream.enqueue(Reply(answer=Answer(text="Checking.", tool_calls=(ToolCall(name="ls", arguments="{}"),))))
    async with ant.messages.stream(
        model="vx-any",
        max_tokens=100,
        tools=[{"name": "ls", "input_schema": {"type": "object"}}],
        messages=[{"role": "user", "content": "List files"}],
    ) as stream:
        message = await stream.get_final_message()
    assert [block.type for block in message.content] == ["text", "tool_use"]
    assert upstream.last_request.path == f"{ROOT}/google/models/gemini-2.5-pro:streamGenerateContent"


async def test_anthropic_sdk_passes_through_to_claude_on_vertex(
    upstream: FakeUpstream, ant: anthropic.AsyncAnthropic
) -> None:
    upstream.enqueue(Reply(answer=Answer(text="Hello from Claude.", usage=Usage(input_tokens=9, output_tokens=4))))
    message = await ant.messages.create(
        model="claude-sonnet-4-5@20250929", max_tokens=50, messages=[{"role": "user", "content": "Hi"}]
    )
    assert message.content[0].text == "Hello from Claude."  # type: ignore[union-attr]
    assert message.usage.input_tokens == 9
    sent = upstream.last_request
    assert sent.path == f"{ROOT}/anthropic/models/claude-sonnet-4-5@20250929:rawPredict"
    body = sent.json()
    assert body["anthropic_version"] == "vertex-2023-10-16"
    assert "model" not in body
    assert sent.header("authorization") == "Bearer ya29.fake-1"
    assert sent.header("x-api-key") is None
    assert sent.header("anthropic-version") is None
    counted = await ant.messages.count_tokens(model="claude-sonnet-4-5", messages=[{"role": "user", "content": "Hi"}])
    assert counted.input_tokens == len(upstream.last_request.body) // 4  # the fake's estimate
    sent = upstream.last_request
    assert sent.path == f"{ROOT}/anthropic/models/count-tokens:rawPredict"
    assert sent.json()["model"] == "claude-sonnet-4-5"


async def test_openai_sdk_streams_from_claude_on_vertex(upstream: FakeUpstream, oai: openai.AsyncOpenAI) -> None:
    upstream.enqueue(Reply(answer=Answer(text="Streamed by Claude.", usage=Usage(input_tokens=6, output_tokens=3))))
    stream = await oai.chat.completions.create(
        model="claude-haiku-4-5",
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Streamed by Claude."
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3
    sent = upstream.last_request
    assert sent.path == f"{ROOT}/anthropic/models/claude-haiku-4-5:streamRawPredict"
    assert sent.json()["stream"] is True


async def test_vertex_errors_map_to_each_dialect(
    upstream: FakeUpstream, oai: openai.AsyncOpenAI, ant: anthropic.AsyncAnthropic
) -> None:
    upstream.enqueue(Reply(status=429, error_message="Quota exceeded for aiplatform."), Reply(status=529))
    with pytest.raises(openai.RateLimitError, match="Quota exceeded for aiplatform"):
        await oai.chat.completions.create(model="vx-any", messages=[{"role": "user", "content": "Hi"}])
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        await ant.messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=[{"role": "user", "content": "Hi"}])
    assert overloaded.value.status_code == 529


async def test_a_missing_key_file_is_an_upstream_failure(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    gateway = await make_gateway(
        providers={
            "vx": {
                "provider_type": "vertex",
                "base_url": upstream.url,
                "project": "acme-ml",
                "credentials_file": str(tmp_path / "missing.json"),
            }
        },
        routing={"rules": [{"name": "all", "model_pattern": "^vx-", "primary": "vx"}]},
    )
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="k", max_retries=0) as client:
        with pytest.raises(openai.APIStatusError) as failed:
            await client.chat.completions.create(model="vx-any", messages=[{"role": "user", "content": "Hi"}])
    assert failed.value.status_code == 502
    assert "could not get a Google access token" in str(failed.value)
    assert upstream.requests == []
