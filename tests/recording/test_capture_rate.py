"""Capture rate: every request gets exactly one terminal record, whatever happened to it.

The tally is the load generator's own (the request ids it chose), never the gateway's. The full 10,000-request
run is `bench/capture_rate.py`; the suite runs the same mix at a smaller size.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

import aiohttp

from lunaroute.recording import Completed, read_session_file
from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import Answer, FakeUpstream, GatewayFactory, GatewayServer, Reply

REQUESTS = 400


async def one_request(
    session: aiohttp.ClientSession, gateway: GatewayServer, upstream: FakeUpstream, request_id: str, kind: str
) -> str:
    """Send one request of `kind`; returns the gateway's id of the exchange (its record's identity)."""
    body: dict[str, object] = {"model": "gpt-x", "messages": [{"role": "user", "content": request_id}]}
    headers = {"x-request-id": request_id}
    if kind == "stream":
        body["stream"] = True
    elif kind == "rejected":
        body["stream"] = "yes"
    elif kind == "disconnect":
        body["stream"] = True
        async with session.post(f"{gateway.url}/v1/chat/completions", json=body, headers=headers) as response:
            await response.content.readany()
        return response.headers["x-lunaroute-request-id"]  # leaving the block closes the connection mid-stream
    async with session.post(f"{gateway.url}/v1/chat/completions", json=body, headers=headers) as response:
        await response.read()
        return response.headers["x-lunaroute-request-id"]


async def test_every_request_has_exactly_one_terminal_record(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await make_gateway(
        session_recording={
            "jsonl": {"directory": str(tmp_path / "sessions")},
            "sqlite": {"path": str(tmp_path / "sessions.db")},
            "journal_directory": str(tmp_path / "journal"),
        }
    )
    rng = random.Random(7)
    kinds = rng.choices(["plain", "stream", "error", "rejected", "disconnect"], weights=[4, 4, 1, 1, 1], k=REQUESTS)
    for kind in kinds:
        if kind == "error":
            upstream.enqueue(Reply(status=500))
        elif kind == "disconnect":
            upstream.enqueue(Reply(answer=Answer(text="long answer " * 20), first_chunk_then_stall=0.5))
        elif kind in ("plain", "stream"):
            upstream.enqueue(Reply(answer=Answer(text="ok")))
    # Requests are issued one by one so each takes the reply queued for it; the recorder sees them back to back.
    ids = []
    async with aiohttp.ClientSession() as session:
        for n, kind in enumerate(kinds):
            ids.append(await one_request(session, gateway, upstream, f"req-{n:05d}", kind))
    await asyncio.sleep(0.3)
    assert gateway.app is not None
    capture = gateway.app[GATEWAY].capture
    assert capture is not None
    await capture.drain()
    terminal: Counter[str] = Counter()
    for path in (tmp_path / "sessions").rglob("*.jsonl"):
        for event in read_session_file(path).events:
            if isinstance(event, Completed):
                terminal[event.request_id] += 1
    assert set(terminal) == set(ids)
    assert set(terminal.values()) == {1}
    assert capture.recorder_stats.extraction_failures == 0
    assert capture.recorder_stats.events_lost == 0
