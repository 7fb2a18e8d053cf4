"""The recording tap through a real gateway: a stream's chunks and their arrival offsets as relayed, and the capture
limit (`max_capture_bytes`) keeping a prefix of the stream with no gap after it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp

from lunaroute.recording import read_session_file
from lunaroute.recording.events import Completed, ResponseRecorded, SessionEvent, StreamStarted
from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import FakeUpstream, GatewayFactory, GatewayServer, Reply

from ._builders import recorded_events


def _event(text: str) -> bytes:
    chunk = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "model": "gpt-x",
        "choices": [{"index": 0, "delta": {"content": text}}],
    }
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


async def _streamed(gateway: GatewayServer, tmp_path: Path, session: str) -> list[SessionEvent]:
    body = {"model": "gpt-x", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    return await recorded_events(gateway, tmp_path / "sessions", session, body)


def _recording(tmp_path: Path, **extra: object) -> dict[str, object]:
    return {
        "jsonl": {"directory": str(tmp_path / "sessions")},
        "sqlite": {"enabled": False},
        "journal_directory": str(tmp_path / "journal"),
        **extra,
    }


async def test_a_stream_is_recorded_chunk_by_chunk_with_its_first_byte_time(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await make_gateway(session_recording=_recording(tmp_path))
    pieces = [_event(f"part {i}. ") for i in range(6)] + [b"data: [DONE]\n\n"]
    upstream.default = Reply(raw_chunks=pieces, content_type="text/event-stream", chunk_delay=0.02)
    events = await _streamed(gateway, tmp_path, "whole")
    [response] = [e for e in events if isinstance(e, ResponseRecorded)]
    [first] = [e for e in events if isinstance(e, StreamStarted)]
    assert response.response_text == "".join(f"part {i}. " for i in range(6))
    assert response.chunk_count == len(pieces)
    # Six gaps of 20 ms between the first chunk and the last: the offsets are the relay's own clock readings.
    assert response.streaming_duration_ms is not None
    assert response.streaming_duration_ms >= 100
    assert first.time_to_first_token_ms >= 0
    [done] = [e for e in events if isinstance(e, Completed)]
    assert done.success


async def test_the_capture_limit_keeps_a_prefix_of_the_stream_and_says_so(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    pieces = [_event(f"part {i}. ") for i in range(8)]
    limit = 3 * len(pieces[0]) + len(pieces[0]) // 2
    gateway = await make_gateway(session_recording=_recording(tmp_path, max_capture_bytes=limit))
    # The [DONE] line would still fit after the cut: it is not kept either, so nothing follows a gap.
    upstream.default = Reply(
        raw_chunks=[*pieces, b"data: [DONE]\n\n"], content_type="text/event-stream", chunk_delay=0.01
    )
    events = await _streamed(gateway, tmp_path, "cut")
    [response] = [e for e in events if isinstance(e, ResponseRecorded)]
    assert response.chunk_count == 3
    assert response.response_text == "part 0. part 1. part 2. "
    [done] = [e for e in events if isinstance(e, Completed)]
    assert done.error is not None
    assert "truncated by the recorder" in done.error


async def test_a_stream_exactly_at_the_capture_limit_is_kept_whole(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    pieces = [_event(f"part {i}. ") for i in range(4)] + [b"data: [DONE]\n\n"]
    gateway = await make_gateway(session_recording=_recording(tmp_path, max_capture_bytes=sum(map(len, pieces))))
    upstream.default = Reply(raw_chunks=pieces, content_type="text/event-stream", chunk_delay=0.01)
    events = await _streamed(gateway, tmp_path, "exact")
    [response] = [e for e in events if isinstance(e, ResponseRecorded)]
    assert response.chunk_count == len(pieces)
    assert response.response_text == "part 0. part 1. part 2. part 3. "
    [done] = [e for e in events if isinstance(e, Completed)]
    assert done.error is None
    assert done.success


async def test_one_byte_past_the_capture_limit_is_cut(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    pieces = [_event(f"part {i}. ") for i in range(4)] + [b"data: [DONE]\n\n"]
    gateway = await make_gateway(session_recording=_recording(tmp_path, max_capture_bytes=sum(map(len, pieces)) - 1))
    upstream.default = Reply(raw_chunks=pieces, content_type="text/event-stream", chunk_delay=0.01)
    events = await _streamed(gateway, tmp_path, "past")
    [response] = [e for e in events if isinstance(e, ResponseRecorded)]
    assert response.chunk_count == len(pieces) - 1
    [done] = [e for e in events if isinstance(e, Completed)]
    assert done.error is not None
    assert "truncated by the recorder" in done.error


async def test_a_whole_body_at_the_capture_limit_is_kept_and_one_byte_more_is_cut(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    answer = {
        "id": "c1",
        "object": "chat.completion",
        "model": "gpt-x",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "whole"}, "finish_reason": "stop"}],
    }
    raw = json.dumps(answer).encode()
    request = {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]}
    for limit, session, cut in ((len(raw), "body-exact", False), (len(raw) - 1, "body-past", True)):
        directory = tmp_path / session
        gateway = await make_gateway(session_recording=_recording(directory, max_capture_bytes=limit))
        upstream.default = Reply(raw_chunks=[raw], content_type="application/json")
        events = await recorded_events(gateway, directory / "sessions", session, request)
        [done] = [e for e in events if isinstance(e, Completed)]
        if cut:
            assert done.error is not None
            assert "truncated by the recorder" in done.error
        else:
            assert done.error is None
            [response] = [e for e in events if isinstance(e, ResponseRecorded)]
            assert response.response_text == "whole"
            assert response.response_size_bytes == len(raw)


async def test_a_gzip_stream_is_recorded_as_the_decoded_events_the_client_got(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await make_gateway(session_recording=_recording(tmp_path))
    pieces = [_event(f"zipped {i}. ") for i in range(5)] + [b"data: [DONE]\n\n"]
    upstream.default = Reply(raw_chunks=pieces, content_type="text/event-stream", chunk_delay=0.01, gzip=True)
    body = {"model": "gpt-x", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession(auto_decompress=False) as client:
        async with client.post(
            f"{gateway.url}/v1/chat/completions", json=body, headers={"session_id": "gz", "accept-encoding": "gzip"}
        ) as response:
            assert "content-encoding" not in response.headers
            received = await response.read()
    assert received == b"".join(pieces)
    assert gateway.app is not None
    capture = gateway.app[GATEWAY].capture
    assert capture is not None
    await asyncio.wait_for(capture.drain(), 30)
    [path] = (tmp_path / "sessions").rglob("gz.jsonl")
    events = list(read_session_file(path).events)
    [recorded] = [e for e in events if isinstance(e, ResponseRecorded)]
    assert recorded.response_text == "".join(f"zipped {i}. " for i in range(5))
    # The recorder's copy is what the client received: the decoded events, not the compressed bytes.
    assert recorded.response_size_bytes == len(received)
    assert recorded.chunk_count == len(pieces)
