"""The official Google Gen AI SDK (Gemini API and Vertex AI) and Anthropic's Vertex client parse everything the
fake upstream renders on its Google routes, and the fake refuses what the real services refuse."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anthropic
import pytest
from google import genai
from google.genai import errors, types
from google.oauth2 import service_account

from lunaroute.testing import Answer, FakeUpstream, Reply, ToolCall, Usage, write_service_account

# google-genai subclasses aiohttp's ClientSession for its async transport, which aiohttp warns about.
pytestmark = pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning")

FULL = Answer(
    text="It is sunny.",
    thinking="The user wants the weather.",
    thinking_signature="c2lnbmF0dXJl",
    tool_calls=(ToolCall(name="get_weather", arguments='{"city": "Paris", "days": [1, 2]}'),),
    usage=Usage(input_tokens=20, output_tokens=9, cache_read_tokens=100),
)
MODEL = "gemini-2.5-flash"


@pytest.fixture
async def client(up: FakeUpstream) -> AsyncIterator[genai.Client]:
    client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=up.url, api_version="v1beta"))
    yield client
    await client.aio.aclose()


@pytest.fixture
def credentials(up: FakeUpstream, tmp_path: Path) -> service_account.Credentials:
    path = write_service_account(tmp_path / "sa.json", up.token_uri)
    return service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
        str(path), scopes=["https://www.googleapis.com/auth/cloud-platform"]
    )


async def test_generate_content(up: FakeUpstream, client: genai.Client) -> None:
    up.enqueue(Reply(answer=FULL))
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True))
    response = await client.aio.models.generate_content(model=MODEL, contents="Weather?", config=config)
    assert response.model_version == MODEL
    assert response.candidates is not None
    content = response.candidates[0].content
    assert content is not None
    assert content.parts is not None
    thought, text, call = content.parts
    assert thought.thought
    assert thought.text == FULL.thinking
    assert text.text == "It is sunny."
    assert text.thought_signature == b"signature"
    assert call.function_call is not None
    assert call.function_call.args == {"city": "Paris", "days": [1, 2]}
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    usage = response.usage_metadata
    assert usage is not None
    assert (usage.prompt_token_count, usage.cached_content_token_count, usage.candidates_token_count) == (120, 100, 9)
    assert usage.thoughts_token_count == 5
    sent = up.last_request
    assert sent.path == f"/v1beta/models/{MODEL}:generateContent"
    assert sent.header("x-goog-api-key") == "k"


async def test_stream(up: FakeUpstream, client: genai.Client) -> None:
    up.enqueue(Reply(answer=Answer(text="Hello there, friend.", usage=Usage(input_tokens=3, output_tokens=4))))
    chunks = [chunk async for chunk in await client.aio.models.generate_content_stream(model=MODEL, contents="Hi")]
    assert "".join(chunk.text or "" for chunk in chunks) == "Hello there, friend."
    assert len(chunks) == 4
    last = chunks[-1]
    assert last.candidates is not None
    assert last.candidates[0].finish_reason == types.FinishReason.STOP
    assert last.usage_metadata is not None
    assert last.usage_metadata.candidates_token_count == 4
    assert up.last_request.query_string == "alt=sse"


async def test_function_call_with_id_and_refusal(up: FakeUpstream, client: genai.Client) -> None:
    up.enqueue(
        Reply(answer=Answer(tool_calls=(ToolCall(id="fc_1", name="lookup", arguments='{"q": "x"}'),))),
        Reply(answer=Answer(stop_reason="refusal")),
    )
    response = await client.aio.models.generate_content(model=MODEL, contents="Look it up")
    assert response.function_calls is not None
    assert (response.function_calls[0].id, response.function_calls[0].name) == ("fc_1", "lookup")
    refused = await client.aio.models.generate_content(model=MODEL, contents="Something bad")
    assert refused.candidates is not None
    assert refused.candidates[0].finish_reason == types.FinishReason.SAFETY
    assert refused.text is None


async def test_count_tokens(up: FakeUpstream, client: genai.Client) -> None:
    up.enqueue(Reply(answer=Answer(usage=Usage(input_tokens=42))))
    counted = await client.aio.models.count_tokens(model=MODEL, contents="How many tokens is this?")
    assert counted.total_tokens == 42
    assert up.last_request.path == f"/v1beta/models/{MODEL}:countTokens"


async def test_errors_are_google_errors(up: FakeUpstream, client: genai.Client) -> None:
    up.enqueue(Reply(status=429, error_message="Quota exceeded."), Reply(status=503))
    with pytest.raises(errors.ClientError) as rate_limited:
        await client.aio.models.generate_content(model=MODEL, contents="Hi")
    assert (rate_limited.value.code, rate_limited.value.status) == (429, "RESOURCE_EXHAUSTED")
    assert rate_limited.value.message == "Quota exceeded."
    with pytest.raises(errors.ServerError) as unavailable:
        await client.aio.models.generate_content(model=MODEL, contents="Hi")
    assert unavailable.value.status == "UNAVAILABLE"


async def test_refuses_what_the_api_refuses(up: FakeUpstream, client: genai.Client) -> None:
    keyless = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=up.url, headers={"x-goog-api-key": ""}))
    with pytest.raises(errors.ClientError) as denied:
        await keyless.aio.models.generate_content(model=MODEL, contents="Hi")
    await keyless.aio.aclose()
    assert denied.value.code == 403
    with pytest.raises(errors.ClientError) as bad:
        await client.aio.models.generate_content(
            model=MODEL, contents="Hi", config=types.GenerateContentConfig(http_options={"extra_body": {"bogus": 1}})
        )
    assert bad.value.code == 400
    assert "bogus" in (bad.value.message or "")


async def test_vertex_gemini_with_service_account(up: FakeUpstream, credentials: service_account.Credentials) -> None:
    client = genai.Client(
        vertexai=True,
        project="fake-project",
        location="europe-west1",
        credentials=credentials,
        http_options=types.HttpOptions(base_url=up.url, api_version="v1"),
    )
    up.enqueue(Reply(answer=Answer(text="From Vertex.")))
    response = await client.aio.models.generate_content(model=MODEL, contents="Hi")
    await client.aio.aclose()
    assert response.text == "From Vertex."
    assert up.tokens.issued == ["ya29.fake-1"]
    sent = up.last_request
    assert sent.path == (
        f"/v1/projects/fake-project/locations/europe-west1/publishers/google/models/{MODEL}:generateContent"
    )
    assert sent.header("authorization") == "Bearer ya29.fake-1"


async def test_vertex_refuses_tokens_it_did_not_issue(up: FakeUpstream) -> None:
    client = anthropic.AsyncAnthropicVertex(
        region="us-east5", project_id="p", access_token="ya29.forged", base_url=f"{up.url}/v1", max_retries=0
    )
    async with client:
        with pytest.raises(anthropic.AuthenticationError):
            await client.messages.create(
                model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "Hi"}]
            )


@pytest.fixture
async def claude(
    up: FakeUpstream, credentials: service_account.Credentials
) -> AsyncIterator[anthropic.AsyncAnthropicVertex]:
    client = anthropic.AsyncAnthropicVertex(
        region="us-east5", project_id="fake-project", credentials=credentials, base_url=f"{up.url}/v1", max_retries=0
    )
    yield client
    await client.close()


async def test_vertex_claude_raw_predict(up: FakeUpstream, claude: anthropic.AsyncAnthropicVertex) -> None:
    up.enqueue(Reply(answer=FULL))
    message = await claude.messages.create(
        model="claude-sonnet-4-5@20250929", max_tokens=50, messages=[{"role": "user", "content": "Weather?"}]
    )
    assert [block.type for block in message.content] == ["thinking", "text", "tool_use"]
    assert message.model == "claude-sonnet-4-5@20250929"
    sent = up.last_request
    assert sent.path.endswith("/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict")
    assert "anthropic_version" in sent.json()
    assert "model" not in sent.json()


async def test_vertex_claude_stream_and_count(up: FakeUpstream, claude: anthropic.AsyncAnthropicVertex) -> None:
    up.enqueue(Reply(answer=Answer(text="Streamed from Vertex.")), Reply(answer=Answer(usage=Usage(input_tokens=7))))
    async with claude.messages.stream(
        model="claude-sonnet-4-5", max_tokens=50, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        text = "".join([piece async for piece in stream.text_stream])
    assert text == "Streamed from Vertex."
    assert up.last_request.path.endswith(":streamRawPredict")
    counted = await claude.messages.count_tokens(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "Hi"}]
    )
    assert counted.input_tokens > 0
    assert up.last_request.path.endswith("/publishers/anthropic/models/count-tokens:rawPredict")
