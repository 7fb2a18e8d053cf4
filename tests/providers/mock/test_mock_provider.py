"""`MockProvider`: every endpoint in every mode, pacing, bad bodies, caching."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import pytest

from lunaroute.config._schema import MockConfig
from lunaroute.providers.mock import MockProvider
from lunaroute.types import Endpoint, Provider, UpstreamCall, UpstreamResponse

TEXT = "one two three four five six"


def _call(endpoint: Endpoint, body: object | bytes, *, stream: bool = False, path: str = "/x") -> UpstreamCall:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    method = "GET" if endpoint is Endpoint.OPENAI_MODELS else "POST"
    return UpstreamCall(endpoint, method, path, "", [], raw, stream, None, "req-1")


def _provider(**settings: object) -> MockProvider:
    return MockProvider("mock", MockConfig(response_text=TEXT, **settings))  # type: ignore[arg-type]


def _header(response: UpstreamResponse, name: str) -> str | None:
    return next((v for k, v in response.headers if k == name), None)


def test_implements_the_provider_protocol() -> None:
    provider: Provider = _provider()
    assert provider.dialect == "any"
    assert provider.name == "mock"


async def test_anthropic_messages_non_streaming() -> None:
    body = {"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    response = await _provider().send(_call(Endpoint.ANTHROPIC_MESSAGES, body))
    assert response.status == 200
    assert _header(response, "content-type") == "application/json"
    assert not response.is_event_stream
    message = json.loads(await response.read())
    assert message["model"] == "claude-x"
    assert message["content"] == [{"type": "text", "text": TEXT}]
    assert message["usage"]["output_tokens"] == 6
    assert message["usage"]["input_tokens"] == len(json.dumps(body)) // 4


@pytest.mark.parametrize(
    ("endpoint", "body", "marker"),
    [
        (Endpoint.ANTHROPIC_MESSAGES, {"model": "m"}, b"event: message_stop"),
        (Endpoint.OPENAI_CHAT, {"model": "m"}, b"data: [DONE]"),
        (Endpoint.OPENAI_COMPLETIONS, {"model": "m"}, b"data: [DONE]"),
        (Endpoint.OPENAI_RESPONSES, {"model": "m"}, b"event: response.completed"),
    ],
)
async def test_streams_when_the_call_streams(endpoint: Endpoint, body: object, marker: bytes) -> None:
    response = await _provider(stream_chunks=3).send(_call(endpoint, body, stream=True))
    assert response.is_event_stream
    assert _header(response, "content-type") == "text/event-stream"
    chunks = [chunk async for chunk in response.iter_chunks()]
    assert all(chunk.endswith(b"\n\n") for chunk in chunks)
    assert marker in chunks[-1]
    joined = b"".join(chunks)
    assert joined.count(b'"model":"m"') >= 1


@pytest.mark.parametrize("pieces", [1, 3, 8])
async def test_stream_chunks_sets_the_number_of_text_deltas(pieces: int) -> None:
    response = await _provider(stream_chunks=pieces).send(_call(Endpoint.OPENAI_CHAT, {"model": "m"}, stream=True))
    chunks = [chunk async for chunk in response.iter_chunks()]
    deltas = [c for c in chunks if b'"content":"' in c and b'"role"' not in c]
    assert len(deltas) == pieces


async def test_chat_usage_chunk_follows_stream_options() -> None:
    provider = _provider()
    with_usage = {"model": "m", "stream": True, "stream_options": {"include_usage": True}}
    chunks = [
        c async for c in (await provider.send(_call(Endpoint.OPENAI_CHAT, with_usage, stream=True))).iter_chunks()
    ]
    assert b'"choices":[],"usage":{' in chunks[-2]
    plain = [
        c async for c in (await provider.send(_call(Endpoint.OPENAI_CHAT, {"model": "m"}, stream=True))).iter_chunks()
    ]
    assert all(b'"choices":[]' not in c for c in plain)


@pytest.mark.parametrize(
    ("endpoint", "check"),
    [
        (Endpoint.OPENAI_CHAT, lambda b: b["choices"][0]["message"]["content"] == TEXT),
        (Endpoint.OPENAI_COMPLETIONS, lambda b: b["choices"][0]["text"] == TEXT),
        (Endpoint.OPENAI_RESPONSES, lambda b: b["output"][0]["content"][0]["text"] == TEXT),
        (Endpoint.ANTHROPIC_COUNT_TOKENS, lambda b: b["input_tokens"] > 0),
        (Endpoint.OPENAI_EMBEDDINGS, lambda b: len(b["data"]) == 1 and len(b["data"][0]["embedding"]) == 16),
    ],
)
async def test_non_streaming_endpoints(endpoint: Endpoint, check: object) -> None:
    response = await _provider().send(_call(endpoint, {"model": "m", "input": "hello"}))
    assert response.status == 200
    assert check(json.loads(await response.read()))  # type: ignore[operator]


async def test_models_list_needs_no_body() -> None:
    response = await _provider().send(_call(Endpoint.OPENAI_MODELS, b""))
    assert json.loads(await response.read())["data"][0]["id"] == "mock"


async def test_embeddings_honour_dimensions_and_base64() -> None:
    body = {"model": "e", "input": ["a", "b"], "dimensions": 4, "encoding_format": "base64"}
    data = json.loads(await (await _provider().send(_call(Endpoint.OPENAI_EMBEDDINGS, body))).read())["data"]
    assert len(data) == 2
    assert all(isinstance(item["embedding"], str) for item in data)


@pytest.mark.parametrize(
    ("endpoint", "shape"),
    [(Endpoint.ANTHROPIC_OTHER, "anthropic"), (Endpoint.OPENAI_OTHER, "openai")],
)
async def test_unknown_endpoints_get_a_404_in_their_dialect(endpoint: Endpoint, shape: str) -> None:
    response = await _provider().send(_call(endpoint, {"model": "m"}))
    assert response.status == 404
    body = json.loads(await response.read())
    if shape == "anthropic":
        assert body["type"] == "error"
        assert body["error"]["type"] == "not_found_error"
    else:
        assert body["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("garbage", [b"", b"not json", b"[1, 2]", b'{"model": 5}', b'{"stream": "yes"}'])
@pytest.mark.parametrize("endpoint", [Endpoint.ANTHROPIC_MESSAGES, Endpoint.OPENAI_CHAT, Endpoint.OPENAI_EMBEDDINGS])
async def test_garbage_bodies_get_a_400_in_the_dialect(garbage: bytes, endpoint: Endpoint) -> None:
    if endpoint is Endpoint.OPENAI_EMBEDDINGS and garbage == b'{"stream": "yes"}':
        garbage = b'{"input": {"no": 1}}'
    response = await _provider().send(_call(endpoint, garbage, stream=True))
    assert response.status == 400
    assert not response.is_event_stream
    body = json.loads(await response.read())
    if endpoint.dialect == "anthropic":
        assert body["error"]["type"] == "invalid_request_error"
    else:
        assert body["error"]["type"] == "invalid_request_error"
        assert "Could not parse" in body["error"]["message"]


async def test_latency_delays_the_head() -> None:
    started = time.monotonic()
    await _provider(latency_ms=50).send(_call(Endpoint.OPENAI_CHAT, {"model": "m"}))
    assert time.monotonic() - started >= 0.045


async def test_chunk_delay_paces_the_stream() -> None:
    response = await _provider(chunk_delay_ms=20, stream_chunks=2).send(
        _call(Endpoint.ANTHROPIC_MESSAGES, {"model": "m"}, stream=True)
    )
    stamps = []
    async for _ in response.iter_chunks():
        stamps.append(time.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert len(stamps) == 7
    assert min(gaps) >= 0.015


async def test_read_joins_a_paced_stream() -> None:
    response = await _provider(chunk_delay_ms=1).send(_call(Endpoint.OPENAI_CHAT, {"model": "m"}, stream=True))
    assert (await response.read()).endswith(b"data: [DONE]\n\n")


async def test_close_stops_the_stream() -> None:
    response = await _provider(chunk_delay_ms=1).send(_call(Endpoint.OPENAI_CHAT, {"model": "m"}, stream=True))
    seen = []
    async for chunk in response.iter_chunks():
        seen.append(chunk)
        response.close()
    assert len(seen) == 1


async def test_cancellation_during_latency_propagates() -> None:
    task = asyncio.create_task(_provider(latency_ms=10_000).send(_call(Endpoint.OPENAI_CHAT, {"model": "m"})))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_equal_requests_reuse_the_rendered_bytes() -> None:
    provider = _provider()
    call = _call(Endpoint.OPENAI_RESPONSES, {"model": "m"}, stream=True)
    first = [c async for c in (await provider.send(call)).iter_chunks()]
    second = [c async for c in (await provider.send(call)).iter_chunks()]
    assert first == second
    assert all(a is b for a, b in zip(first, second, strict=True))
    other = [
        c
        async for c in (
            await provider.send(_call(Endpoint.OPENAI_RESPONSES, {"model": "n"}, stream=True))
        ).iter_chunks()
    ]
    assert b'"model":"n"' in other[0]
    await provider.aclose()
