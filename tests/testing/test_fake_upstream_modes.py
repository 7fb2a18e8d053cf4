"""Every `Reply` mode, the request log and abort detection, seen from a plain aiohttp client."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import zlib

import aiohttp
import pytest
import yarl

from lunaroute.testing import Answer, FakeUpstream, Reply

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
STREAM = {**CHAT, "stream": True}


async def _post(
    up: FakeUpstream, body: object, path: str = "/v1/chat/completions"
) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.post(up.url + path, json=body) as response,
    ):
        return response.status, dict(response.headers), await response.read()


async def test_fifo_queue_then_default(up: FakeUpstream) -> None:
    up.default = Reply(answer=Answer(text="default"))
    up.enqueue(Reply(answer=Answer(text="first")), Reply(answer=Answer(text="second")))
    assert up.pending == 2
    texts = []
    for _ in range(3):
        _, _, body = await _post(up, CHAT)
        texts.append(json.loads(body)["choices"][0]["message"]["content"])
    assert texts == ["first", "second", "default"]


async def test_request_log_keeps_method_path_query_header_case_and_body(up: FakeUpstream) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            up.url + "/v1/messages?beta=true", data=b'{"model":"c"}', headers={"X-Custom-Header": "Value"}
        ) as response,
    ):
        await response.read()
    await up.wait_for_requests(1)
    request = up.requests[0]
    assert (request.method, request.path, request.query_string) == ("POST", "/v1/messages", "beta=true")
    assert ("X-Custom-Header", "Value") in request.headers
    assert request.header("x-custom-header") == "Value"
    assert request.body == b'{"model":"c"}'
    assert request.received_at <= time.monotonic()


async def test_other_paths_are_echoed(up: FakeUpstream) -> None:
    async with aiohttp.ClientSession() as session, session.delete(up.url + "/v1/files/abc?x=1") as response:
        echo = await response.json()
    assert echo == {"method": "DELETE", "path": "/v1/files/abc", "query": "x=1", "body": ""}


async def test_paths_are_recorded_as_sent(up: FakeUpstream) -> None:
    url = yarl.URL(up.url + "/v1/files/a%2Fb", encoded=True)
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert (await response.json())["path"] == "/v1/files/a%2Fb"
    assert up.last_request.path == "/v1/files/a%2Fb"


async def test_garbage_body_gets_a_400_in_the_dialect(up: FakeUpstream) -> None:
    status, _, body = await _post(up, "not an object", "/v1/messages")
    assert status == 400
    assert json.loads(body)["error"]["type"] == "invalid_request_error"


async def test_paths_without_v1_are_served(up: FakeUpstream) -> None:
    status, _, body = await _post(up, {"model": "m", "input": "x"}, "/responses")
    assert status == 200
    assert json.loads(body)["object"] == "response"


async def test_streams_are_event_streams(up: FakeUpstream) -> None:
    status, headers, body = await _post(up, STREAM)
    assert status == 200
    assert headers["Content-Type"].startswith("text/event-stream")
    assert body.endswith(b"data: [DONE]\n\n")


async def test_headers_retry_after_and_content_type_override(up: FakeUpstream) -> None:
    up.enqueue(
        Reply(status=429, retry_after="12", headers={"x-ratelimit-remaining-requests": "0"}, content_type="text/plain")
    )
    status, headers, body = await _post(up, CHAT)
    assert status == 429
    assert headers["Retry-After"] == "12"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["Content-Type"] == "text/plain"
    assert json.loads(body)["error"]["type"] == "rate_limit_error"


async def test_html_page_for_cdn_errors(up: FakeUpstream) -> None:
    up.enqueue(Reply(status=503, content_type="text/html"))
    status, headers, body = await _post(up, CHAT)
    assert status == 503
    assert headers["Content-Type"].startswith("text/html")
    assert b"<title>503 Service Unavailable</title>" in body


async def test_raw_chunks_are_sent_verbatim(up: FakeUpstream) -> None:
    raw = [b"data: {not json}\n\n", b"data: [DONE]\n\n"]
    up.enqueue(Reply(raw_chunks=raw))
    _, headers, body = await _post(up, STREAM)
    assert body == b"".join(raw)
    assert headers["Content-Type"].startswith("text/event-stream")


async def test_gzip_non_streaming(up: FakeUpstream) -> None:
    up.enqueue(Reply(gzip=True))
    _, headers, body = await _post(up, CHAT)
    assert headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(body))["object"] == "chat.completion"


async def test_gzip_stream_is_decodable_chunk_by_chunk(up: FakeUpstream) -> None:
    up.enqueue(Reply(gzip=True, chunk_delay=0.02))
    decoder = zlib.decompressobj(wbits=31)
    events: list[bytes] = []
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.post(up.openai_base_url + "/chat/completions", json=STREAM) as response,
    ):
        assert response.headers["Content-Encoding"] == "gzip"
        async for chunk in response.content.iter_any():
            plain = decoder.decompress(chunk)
            if plain:
                events.append(plain)
    assert len(events) > 3
    assert all(e.endswith(b"\n\n") for e in events)
    assert b"".join(events).endswith(b"data: [DONE]\n\n")


async def test_delay_before_headers(up: FakeUpstream) -> None:
    up.enqueue(Reply(delay_before_headers=0.2))
    started = time.monotonic()
    await _post(up, CHAT)
    assert time.monotonic() - started >= 0.19


async def test_chunk_delay_paces_events(up: FakeUpstream) -> None:
    up.enqueue(Reply(chunk_delay=0.03, pieces=2))
    stamps = []
    async with aiohttp.ClientSession() as session, session.post(up.url + "/v1/messages", json=STREAM) as response:
        async for _ in response.content.iter_any():
            stamps.append(time.monotonic())
    assert len(stamps) >= 5
    assert stamps[-1] - stamps[0] >= 0.15


async def test_first_chunk_then_stall_then_the_rest(up: FakeUpstream) -> None:
    up.enqueue(Reply(first_chunk_then_stall=0.3))
    async with aiohttp.ClientSession() as session, session.post(up.url + "/v1/messages", json=STREAM) as response:
        first = await response.content.readuntil(b"\n\n")
        started = time.monotonic()
        rest = await response.content.read()
    assert first.startswith(b"event: message_start")
    assert time.monotonic() - started >= 0.25
    assert rest.endswith(b'data: {"type":"message_stop"}\n\n')


async def test_drip_sends_one_byte_at_a_time(up: FakeUpstream) -> None:
    up.enqueue(Reply(raw_chunks=[b"abcdef"], drip=0.02))
    pieces: list[bytes] = []
    async with aiohttp.ClientSession() as session, session.post(up.url + "/v1/x", json=CHAT) as response:
        async for chunk in response.content.iter_any():
            pieces.append(chunk)
    assert b"".join(pieces) == b"abcdef"
    assert len(pieces) >= 4


async def test_reset_after_chunks_cuts_the_stream(up: FakeUpstream) -> None:
    up.enqueue(Reply(reset_after_chunks=2))
    async with aiohttp.ClientSession() as session, session.post(up.url + "/v1/messages", json=STREAM) as response:
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    assert up.aborted == 0


async def test_reset_of_a_non_streaming_body(up: FakeUpstream) -> None:
    up.enqueue(Reply(raw_chunks=[b'{"partial":', b"true}"], reset_after_chunks=1))
    async with aiohttp.ClientSession() as session, session.post(up.url + "/v1/chat/completions", json=CHAT) as response:
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()


async def test_reset_before_headers(up: FakeUpstream) -> None:
    up.enqueue(Reply(reset_before_headers=True))
    with pytest.raises(aiohttp.ClientConnectionError):
        await _post(up, CHAT)
    assert len(up.requests) == 1


async def test_client_disconnect_during_a_stall_is_noticed_at_once(up: FakeUpstream) -> None:
    up.enqueue(Reply(first_chunk_then_stall=20.0))
    async with aiohttp.ClientSession() as session:
        response = await session.post(up.url + "/v1/messages", json=STREAM)
        await response.content.readuntil(b"\n\n")
        gone = time.monotonic()
        response.close()
        abort = await up.wait_for_abort(within=2.0)
    assert abort.noticed_at - gone < 1.0
    assert abort.chunks_sent == 1
    assert abort.request.path == "/v1/messages"
    assert up.aborted == 1


async def test_client_disconnect_before_headers_is_an_abort(up: FakeUpstream) -> None:
    up.enqueue(Reply(delay_before_headers=20.0))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.2)) as session:
        with pytest.raises(asyncio.TimeoutError):
            await session.post(up.url + "/v1/chat/completions", json=CHAT)
    abort = await up.wait_for_abort(within=2.0)
    assert abort.chunks_sent == 0


async def test_finished_responses_are_not_aborts(up: FakeUpstream) -> None:
    await _post(up, STREAM)
    await _post(up, CHAT)
    await asyncio.sleep(0.05)
    assert up.aborted == 0


async def test_replies_are_bounded_by_max_reply_seconds() -> None:
    async with FakeUpstream(max_reply_seconds=0.3) as up:
        up.enqueue(Reply(first_chunk_then_stall=60.0))
        started = time.monotonic()
        async with aiohttp.ClientSession() as session, session.post(up.url + "/v1/messages", json=STREAM) as response:
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()
        assert time.monotonic() - started < 2.0


async def test_stop_cancels_running_replies_without_counting_aborts() -> None:
    up = FakeUpstream()
    await up.start()
    up.enqueue(Reply(delay_before_headers=60.0))
    async with aiohttp.ClientSession() as session:
        pending = asyncio.create_task(session.post(up.url + "/v1/chat/completions", json=CHAT))
        await up.wait_for_requests(1)
        started = time.monotonic()
        await up.stop()
        assert time.monotonic() - started < 3.0
        with pytest.raises(aiohttp.ClientError):
            await pending
    assert up.aborted == 0
    with pytest.raises(RuntimeError):
        _ = up.url


async def test_addresses_and_reset() -> None:
    async with FakeUpstream() as up:
        assert up.url.startswith("http://127.0.0.1:")
        assert up.openai_base_url == up.url + "/v1"
        assert up.anthropic_base_url == up.url
        await _post(up, CHAT)
        up.enqueue(Reply())
        up.reset()
        assert (up.requests, up.aborts, up.pending) == ([], [], 0)
