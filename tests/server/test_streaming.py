"""Streams through the gateway: incremental relay, keepalive, compression, disconnects, upstream faults."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import aiohttp
import pytest

from lunaroute.recording import Completed, read_session_file
from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import Answer, FakeUpstream, Reply
from lunaroute.testing._gateway import GatewayFactory

STREAM_CHAT = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
STREAM_MESSAGES = {"model": "m", "stream": True, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


async def read_events(response: aiohttp.ClientResponse) -> list[bytes]:
    raw = await response.read()
    return [block for block in raw.replace(b"\r\n", b"\n").split(b"\n\n") if block]


async def test_first_chunk_arrives_before_upstream_finishes(
    upstream: FakeUpstream, make_gateway: GatewayFactory
) -> None:
    gw = await make_gateway()
    upstream.enqueue(Reply(first_chunk_then_stall=1.0))
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        async with session.post(f"{gw.url}/v1/chat/completions", json=STREAM_CHAT) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            first = await response.content.readany()
            first_at = time.monotonic() - started
            rest = await response.read()
    assert first.startswith(b"data: ")
    assert first_at < 0.5
    assert rest.rstrip().endswith(b"data: [DONE]")


async def test_keepalive_comments_while_upstream_is_silent(
    upstream: FakeUpstream, make_gateway: GatewayFactory
) -> None:
    gw = await make_gateway(http_server={"sse_keepalive_interval_secs": 0.2})
    upstream.enqueue(Reply(first_chunk_then_stall=0.9))
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gw.url}/v1/messages", json=STREAM_MESSAGES) as response:
            events = await read_events(response)
    keepalives = [e for e in events if e == b": keepalive"]
    assert 2 <= len(keepalives) <= 5
    # Every other block is a whole Anthropic event: keepalives never split one.
    for event in events:
        if event != b": keepalive":
            assert event.startswith(b"event: "), event
    assert events[-1].startswith(b"event: message_stop")
    async with aiohttp.ClientSession() as session, session.get(f"{gw.url}/metrics") as response:
        assert "lunaroute_sse_keepalives_total" in await response.text()


def _anthropic_events() -> list[bytes]:
    def event(name: str, data: dict[str, object]) -> bytes:
        return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n".encode()

    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [], "usage": {}}
    return [
        event("message_start", {"message": message}),
        event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "a long first piece"}}),
        event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "and the second"}}),
        event("content_block_stop", {"index": 0}),
        event("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}),
        event("message_stop", {}),
    ]


async def test_keepalive_comments_never_split_an_event_the_upstream_stalls_in(
    upstream: FakeUpstream, make_gateway: GatewayFactory
) -> None:
    """The upstream pauses once between events (keepalives are welcome there) and twice in the middle of an
    event (a comment there would corrupt it): the client gets the upstream's events whole, comments between."""
    gw = await make_gateway(http_server={"sse_keepalive_interval_secs": 0.1})
    events = _anthropic_events()
    chunks = [
        events[0] + events[1],  # then a pause at an event boundary
        events[2][:25],  # then a pause inside an event
        events[2][25:] + events[3][:30],  # and inside the next one
        events[3][30:] + b"".join(events[4:]),
    ]
    upstream.enqueue(Reply(raw_chunks=chunks, content_type="text/event-stream", chunk_delay=0.45))
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gw.url}/v1/messages", json=STREAM_MESSAGES) as response:
            received = await response.read()
    blocks = [block + b"\n\n" for block in received.split(b"\n\n") if block]
    keepalives = [i for i, block in enumerate(blocks) if block == b": keepalive\n\n"]
    assert keepalives, "a pause at an event boundary gets keepalive comments"
    assert [block for block in blocks if block != b": keepalive\n\n"] == events
    # Every keepalive was written during the pause after the second event.
    assert all(blocks[i - 1] in (events[1], b": keepalive\n\n") for i in keepalives)


async def test_gzip_event_stream_is_decoded_for_the_client(
    upstream: FakeUpstream, make_gateway: GatewayFactory
) -> None:
    gw = await make_gateway()
    upstream.enqueue(Reply(gzip=True, answer=Answer(text="compressed stream")))
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        async with session.post(
            f"{gw.url}/v1/chat/completions", json=STREAM_CHAT, headers={"accept-encoding": "gzip"}
        ) as response:
            assert "content-encoding" not in response.headers
            events = await read_events(response)
    assert upstream.last_request.header("accept-encoding") == "identity"
    text = "".join(
        chunk["choices"][0]["delta"].get("content") or ""
        for chunk in (json.loads(e[6:]) for e in events if e.startswith(b"data: {"))
        if chunk["choices"]
    )
    assert text == "compressed stream"


async def test_disconnect_before_answer_cancels_upstream(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await make_gateway()
    upstream.enqueue(Reply(delay_before_headers=5.0))
    async with aiohttp.ClientSession() as session:
        with pytest.raises(asyncio.TimeoutError):
            await session.post(
                f"{gw.url}/v1/chat/completions",
                json={"model": "m", "messages": []},
                timeout=aiohttp.ClientTimeout(total=0.3),
            )
    gone_at = time.monotonic()
    abort = await upstream.wait_for_abort(within=2.0)
    assert abort.noticed_at - gone_at < 1.0


async def test_disconnect_mid_stream_cancels_upstream(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await make_gateway()
    upstream.enqueue(Reply(first_chunk_then_stall=5.0))
    async with aiohttp.ClientSession() as session:
        response = await session.post(f"{gw.url}/v1/messages", json=STREAM_MESSAGES)
        await response.content.readany()
        response.close()
    gone_at = time.monotonic()
    abort = await upstream.wait_for_abort(within=2.0)
    assert abort.noticed_at - gone_at < 1.0
    await asyncio.sleep(0.1)
    async with aiohttp.ClientSession() as session, session.get(f"{gw.url}/metrics") as response:
        text = await response.text()
    assert 'lunaroute_client_disconnects_total{endpoint="anthropic.messages",listener="anthropic"} 1.0' in text


async def test_upstream_reset_mid_stream_ends_with_dialect_error(
    upstream: FakeUpstream, make_gateway: GatewayFactory
) -> None:
    gw = await make_gateway()
    upstream.enqueue(Reply(reset_after_chunks=2), Reply(reset_after_chunks=2))
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gw.url}/v1/messages", json=STREAM_MESSAGES) as response:
            events = await read_events(response)
        assert events[-1].startswith(b"event: error\ndata: ")
        error = json.loads(events[-1].split(b"data: ", 1)[1])
        assert error["type"] == "error"
        assert error["error"]["type"] == "api_error"
        async with session.post(f"{gw.url}/v1/chat/completions", json=STREAM_CHAT) as response:
            events = await read_events(response)
        assert json.loads(events[-1][6:])["error"]["type"] == "api_error"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_upstream_is_502_in_dialect(make_gateway: GatewayFactory) -> None:
    port = closed_port()
    gw = await make_gateway(
        providers={
            "openai": {"base_url": f"http://127.0.0.1:{port}/v1"},
            "anthropic": {"base_url": f"http://127.0.0.1:{port}"},
        }
    )
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gw.url}/v1/chat/completions", json={"model": "m", "messages": []}) as response:
            assert response.status == 502
            assert (await response.json())["error"]["code"] == "upstream_unreachable"
        async with session.post(f"{gw.url}/v1/messages", json={"model": "m"}) as response:
            assert response.status == 502
            assert (await response.json())["error"]["type"] == "api_error"
        async with session.get(f"{gw.url}/metrics") as response:
            assert 'lunaroute_upstream_errors_total{kind="upstream_unreachable",provider="openai"} 1.0' in (
                await response.text()
            )


async def test_slow_upstream_is_504_in_dialect(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(providers={"anthropic": {"http_client": {"timeout_secs": 0.3}}})
    upstream.enqueue(Reply(delay_before_headers=3.0))
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gw.url}/v1/messages", json={"model": "m"}) as response:
            assert response.status == 504
            assert (await response.json())["error"]["type"] == "timeout_error"


async def test_body_limit_is_413_before_reading(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(http_server={"max_request_body_bytes": 1000})
    async with aiohttp.ClientSession() as session:
        big = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * 2000}]})
        async with session.post(f"{gw.url}/v1/messages", data=big, headers={"content-type": "application/json"}) as r:
            assert r.status == 413
            assert (await r.json())["error"]["type"] == "request_too_large"

        async def chunked():  # type: ignore[no-untyped-def]
            for _ in range(10):
                yield b"x" * 500

        async with session.post(
            f"{gw.url}/v1/chat/completions", data=chunked(), headers={"content-type": "application/json"}
        ) as r:
            assert r.status == 413
    assert upstream.requests == []


async def test_header_limits_are_431(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await make_gateway()
    async with aiohttp.ClientSession() as session:
        many = {f"x-h{i}": "v" for i in range(120)}
        async with session.post(f"{gw.url}/v1/messages", json={"model": "m"}, headers=many) as response:
            assert response.status == 431
            assert (await response.json())["type"] == "error"
        async with session.post(
            f"{gw.url}/v1/chat/completions", json={"model": "m", "messages": []}, headers={"x-big": "v" * 9000}
        ) as response:
            assert response.status == 431
            assert (await response.json())["error"]["code"] == "request_header_fields_too_large"
        total = {f"x-h{i}": "v" * 7000 for i in range(10)}
        async with session.post(f"{gw.url}/v1/messages", json={"model": "m"}, headers=total) as response:
            assert response.status == 431
    assert upstream.requests == []


async def test_request_line_limit_is_414(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await make_gateway()
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.url}/v1/models?q={'x' * 9000}") as response:
            assert response.status == 414
            assert (await response.json())["error"]["code"] == "uri_too_long"
    assert upstream.requests == []


async def test_a_stream_past_max_response_bytes_is_cut_with_an_error_event(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gw = await make_gateway(
        http_server={"max_response_bytes": 4096},
        session_recording={
            "enabled": True,
            "jsonl": {"directory": str(tmp_path / "sessions")},
            "sqlite": {"path": str(tmp_path / "sessions.db")},
            "journal_directory": str(tmp_path / "journal"),
        },
    )
    upstream.enqueue(Reply(answer=Answer(text="endless " * 2000), pieces=400))
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{gw.url}/v1/chat/completions",
            json={"model": "gpt-x", "stream": True, "messages": [{"role": "user", "content": "go on"}]},
        ) as response:
            assert response.status == 200
            body = await response.read()
            request_id = response.headers["x-lunaroute-request-id"]
    assert len(body) < 4096 + 512  # the cap, then the error event
    last = [line for line in body.split(b"\n") if line.startswith(b"data: ")][-1]
    assert json.loads(last[6:])["error"]["code"] == "response_too_large"
    assert gw.app is not None
    capture = gw.app[GATEWAY].capture
    assert capture is not None
    await capture.drain()
    [path] = (tmp_path / "sessions").rglob("*.jsonl")
    [completed] = [e for e in read_session_file(path).events if isinstance(e, Completed)]
    assert completed.request_id == request_id
    assert not completed.success
