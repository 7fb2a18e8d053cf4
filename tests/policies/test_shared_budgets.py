"""Two gateway processes sharing one PostgreSQL ledger: a burst of racing requests spread over both never
overspends a key's budget by more than one reservation — streams and client disconnects in the mix — and the
spend is still there after both restart."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.server._process import serve_in_process

from lunaroute.keys import KeyManager, KeySpec, open_key_store, period_key
from lunaroute.policies._budgets import price
from lunaroute.testing import Answer, FakeUpstream, Reply, Usage

MODEL = "gpt-4o"
USAGE = Usage(input_tokens=30, output_tokens=100)
BURST = 50


def _body(i: int) -> dict[str, Any]:
    body: dict[str, Any] = {"model": MODEL, "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    if i % 3 == 0:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


async def _call(http: aiohttp.ClientSession, url: str, secret: str, i: int, barrier: asyncio.Event) -> int:
    """One request of the burst; every seventh is a stream its client leaves after the first bytes."""
    await barrier.wait()
    leave = i % 7 == 0
    body = _body(i) | ({"stream": True} if leave else {})
    async with http.post(
        f"{url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {secret}"}
    ) as answer:
        if leave and answer.status == 200:
            await answer.content.readany()
            answer.close()
            return answer.status
        await answer.read()
        return answer.status


async def _burst(urls: list[str], secret: str) -> list[int]:
    barrier = asyncio.Event()
    async with aiohttp.ClientSession() as http:
        tasks = [asyncio.create_task(_call(http, urls[i % 2], secret, i, barrier)) for i in range(BURST)]
        await asyncio.sleep(0.1)  # every request waiting at the barrier
        barrier.set()
        return await asyncio.gather(*tasks)


async def _ledger(dsn: str, scope: str) -> tuple[float, float]:
    """(spent, held) for `scope` today; waits for the holds of the burst to be settled."""
    store = await open_key_store(dsn)
    try:
        deadline = time.monotonic() + 10
        while True:
            now = time.time()
            spent, held = await store.spend(scope, period_key("day", now), now)
            if held == 0 or time.monotonic() > deadline:
                return spent, held
            await asyncio.sleep(0.1)
    finally:
        await store.aclose()


@contextlib.contextmanager
def _pair(config: str, tmp_path: Path, generation: int) -> Iterator[list[str]]:
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(serve_in_process(config, tmp_path, name=f"gw{generation}-{i}")) for i in range(2)]


async def test_a_burst_over_two_processes_never_overspends_and_survives_a_restart(pg_dsn: str, tmp_path: Path) -> None:
    request_bytes = len(json.dumps(_body(1)).encode())
    reservation = price("", MODEL, request_bytes // 4 + 10, 100) or 0.0
    full_cost = price("openai", MODEL, USAGE.input_tokens, USAGE.output_tokens) or 0.0
    assert reservation > 0
    budget = reservation * 10.5  # about ten requests' reservations
    store = await open_key_store(pg_dsn)
    key = await KeyManager(store).create(KeySpec(name="shared", budget_usd=budget, budget_period="day"))
    await store.aclose()
    scope = f"key:{key.record.id}"
    async with FakeUpstream() as upstream:
        config = (
            "session_recording: {enabled: false}\n"
            f"providers: {{openai: {{base_url: '{upstream.url}/v1', api_key: sk-provider}}}}\n"
            f"auth: {{mode: keys, database: '{pg_dsn}'}}\n"
        )
        # Slow enough streams that a client leaving after the first bytes leaves mid-stream.
        upstream.enqueue(
            *[Reply(answer=Answer(text="word " * 40, usage=USAGE), pieces=8, chunk_delay=0.05)] * (2 * BURST)
        )
        with _pair(config, tmp_path, 0) as urls:
            first = await _burst(urls, key.secret)
            spent, held = await _ledger(pg_dsn, scope)
        admitted = first.count(200)
        assert first.count(429) == BURST - admitted
        assert 5 <= admitted <= 11
        assert held == pytest.approx(0.0, abs=1e-12)
        assert 0 < spent <= budget + reservation
        assert spent <= admitted * full_cost + 1e-9  # a request left early costs no more than a whole one

        with _pair(config, tmp_path, 1) as urls:  # both processes started again: the ledger remembers
            second = await _burst(urls, key.secret)
            total, held = await _ledger(pg_dsn, scope)
        assert second.count(200) + second.count(429) == BURST
        assert held == pytest.approx(0.0, abs=1e-12)
        assert spent <= total <= budget + reservation
        assert second.count(200) <= (budget + reservation - spent) / full_cost + 1
