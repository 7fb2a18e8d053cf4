"""The Responses API over a WebSocket (`GET /v1/responses` with an Upgrade): translated and passthrough answers as
frames, error frames that keep the connection, one response in flight, continuation on the same connection."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from lunaroute.testing import Answer, FakeUpstream, GatewayFactory, GatewayServer, Reply

pytestmark = pytest.mark.e2e


@pytest.fixture
async def gateway(upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path) -> GatewayServer:
    """claude-* → an Anthropic provider (translated); anything else → the OpenAI provider (passthrough)."""
    return await make_gateway(
        providers={"ant": {"provider_type": "anthropic", "base_url": upstream.url}},
        routing={"rules": [{"name": "claude", "model_pattern": "^claude-", "primary": "ant"}]},
        responses={"database": str(tmp_path / "responses.db")},
    )


@pytest.fixture
async def socket(gateway: GatewayServer) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    async with aiohttp.ClientSession() as session:
        headers = {"authorization": "Bearer sk-client"}
        async with session.ws_connect(f"{gateway.url}/v1/responses", headers=headers, autoping=False) as ws:
            yield ws


async def _answer(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Frames up to the end of one response (its terminal event or an error frame)."""
    frames: list[dict[str, Any]] = []
    while True:
        message = await asyncio.wait_for(ws.receive(), 10)
        assert message.type is aiohttp.WSMsgType.TEXT, message
        frame = json.loads(message.data)
        frames.append(frame)
        if frame["type"] in ("response.completed", "response.incomplete", "response.failed", "error"):
            return frames


def _create(**body: Any) -> str:
    return json.dumps({"type": "response.create", **body})


async def test_translated_answer_as_frames_and_continued_on_the_connection(
    upstream: FakeUpstream, socket: aiohttp.ClientWebSocketResponse
) -> None:
    upstream.enqueue(Reply(answer=Answer(text="First.")), Reply(answer=Answer(text="Second.")))
    await socket.send_str(_create(model="claude-sonnet-4-6", input="one", store=False))
    frames = await _answer(socket)
    assert frames[0]["type"] == "response.created"
    assert [f["sequence_number"] for f in frames] == list(range(len(frames)))
    completed = frames[-1]["response"]
    assert completed["output"][0]["content"][0]["text"] == "First."
    assert upstream.requests[0].path == "/v1/messages"
    assert upstream.requests[0].json()["stream"] is True

    await socket.send_str(
        _create(model="claude-sonnet-4-6", previous_response_id=completed["id"], input="two", store=False)
    )
    second = await _answer(socket)
    assert second[-1]["type"] == "response.completed"
    sent = upstream.requests[1].json()["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"][0]["text"] == "First."


async def test_passthrough_to_a_responses_provider(
    upstream: FakeUpstream, socket: aiohttp.ClientWebSocketResponse
) -> None:
    upstream.enqueue(Reply(answer=Answer(text="From OpenAI.")))
    await socket.send_str(_create(model="gpt-5.5", input="hi"))
    frames = await _answer(socket)
    assert frames[-1]["type"] == "response.completed"
    assert "From OpenAI." in json.dumps(frames[-1]["response"]["output"])
    received = upstream.requests[0]
    assert received.path == "/v1/responses"
    body = received.json()
    assert body["stream"] is True
    assert "type" not in body
    assert received.header("authorization") == "Bearer sk-client"
    assert received.header("upgrade") is None
    assert received.header("sec-websocket-key") is None


async def test_errors_are_frames_and_the_connection_stays_open(
    upstream: FakeUpstream, socket: aiohttp.ClientWebSocketResponse
) -> None:
    await socket.send_str(_create(model="claude-sonnet-4-6", input="news?", tools=[{"type": "web_search"}]))
    [refused] = await _answer(socket)
    assert refused["type"] == "error"
    assert refused["status"] == 400
    assert "web_search" in refused["error"]["message"]
    await socket.send_str('{"type": "response.cancel"}')
    [wrong] = await _answer(socket)
    assert wrong["status"] == 400
    upstream.enqueue(Reply(status=429, retry_after="0"))
    await socket.send_str(_create(model="claude-sonnet-4-6", input="hi"))
    [limited] = await _answer(socket)
    assert limited["status"] == 429
    upstream.enqueue(Reply(answer=Answer(text="Still here.")))
    await socket.send_str(_create(model="claude-sonnet-4-6", input="hi"))
    frames = await _answer(socket)
    assert frames[-1]["type"] == "response.completed"


async def test_one_response_in_flight_and_pings_answered(
    upstream: FakeUpstream, socket: aiohttp.ClientWebSocketResponse
) -> None:
    upstream.enqueue(Reply(answer=Answer(text="slow"), delay_before_headers=0.5))
    await socket.send_str(_create(model="claude-sonnet-4-6", input="one"))
    await socket.send_str(_create(model="claude-sonnet-4-6", input="two"))
    await socket.ping(b"hello")
    seen: list[Any] = []
    while not any(isinstance(s, dict) and s.get("type") == "response.completed" for s in seen):
        message = await asyncio.wait_for(socket.receive(), 10)
        seen.append(
            json.loads(message.data) if message.type is aiohttp.WSMsgType.TEXT else (message.type, message.data)
        )
    assert (aiohttp.WSMsgType.PONG, b"hello") in seen
    busy = [s for s in seen if isinstance(s, dict) and s.get("type") == "error"]
    assert "already in progress" in busy[0]["error"]["message"]
    assert len(upstream.requests) == 1


async def test_closing_the_socket_cancels_the_upstream_call(upstream: FakeUpstream, gateway: GatewayServer) -> None:
    upstream.enqueue(Reply(answer=Answer(text="never read"), first_chunk_then_stall=5.0))
    async with aiohttp.ClientSession() as session, session.ws_connect(f"{gateway.url}/v1/responses") as ws:
        await ws.send_str(_create(model="claude-sonnet-4-6", input="hi"))
        first = json.loads((await asyncio.wait_for(ws.receive(), 10)).data)
        assert first["type"] == "response.created"
    for _ in range(100):
        if upstream.aborts:
            break
        await asyncio.sleep(0.05)
    assert len(upstream.aborts) == 1


async def test_plain_get_is_still_not_allowed(gateway: GatewayServer) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{gateway.url}/v1/responses") as answer:
        assert answer.status == 405


async def test_warm_up_frame_answers_at_once_without_a_model_call(
    upstream: FakeUpstream, socket: aiohttp.ClientWebSocketResponse
) -> None:
    await socket.send_str(_create(model="claude-sonnet-4-6", input="warm", generate=False, store=False))
    frames = await _answer(socket)
    assert frames[-1]["type"] == "response.completed"
    assert frames[-1]["response"]["output"] == []
    assert upstream.requests == []
