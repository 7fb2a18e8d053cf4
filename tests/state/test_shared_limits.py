"""Two gateway processes sharing Redis and one key store: a key's limits hold for the pair, not per process."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path

import aiohttp
from tests.server._process import serve_in_process
from tests.state.conftest import REDIS_URL, open_redis

from lunaroute.keys import KeyManager, KeySpec, open_key_store
from lunaroute.testing import Answer, FakeUpstream, Reply


async def _post(http: aiohttp.ClientSession, url: str, secret: str) -> tuple[int, str | None]:
    async with http.post(
        f"{url}/v1/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {secret}"},
    ) as r:
        await r.read()
        return r.status, r.headers.get("retry-after")


async def test_rpm_and_max_parallel_hold_across_two_processes(tmp_path: Path) -> None:
    prefix = f"lunaroute-test:{uuid.uuid4().hex[:10]}:"
    probe = await open_redis(prefix)  # skips (or fails in CI) without a Redis server
    await probe.aclose()
    db = tmp_path / "keys.db"
    store = await open_key_store(str(db))
    keys = KeyManager(store)
    rpm_key = await keys.create(KeySpec(name="rpm", rpm=30))
    parallel_key = await keys.create(KeySpec(name="parallel", max_parallel=3))
    await store.aclose()
    async with FakeUpstream() as upstream:
        config = (
            "session_recording: {enabled: false}\n"
            f"providers: {{openai: {{base_url: '{upstream.url}/v1', api_key: sk-provider}}}}\n"
            f"auth: {{mode: keys, database: '{db}'}}\n"
            f"state: {{backend: redis, redis_url: '{REDIS_URL}', key_prefix: '{prefix}'}}\n"
        )
        with contextlib.ExitStack() as stack:
            urls = [stack.enter_context(serve_in_process(config, tmp_path, name=f"gw{i}")) for i in range(2)]
            upstream.enqueue(*(Reply(answer=Answer(text="ok")) for _ in range(30)))
            async with aiohttp.ClientSession() as http:
                answers = [await _post(http, urls[i % 2], rpm_key.secret) for i in range(100)]
                assert sum(status == 200 for status, _ in answers) == 30
                refused = [retry for status, retry in answers if status == 429]
                assert len(refused) == 70
                assert all(retry is not None and 1 <= int(retry) <= 60 for retry in refused)

                upstream.enqueue(*(Reply(answer=Answer(text="slow"), delay_before_headers=1.0) for _ in range(3)))
                burst = await asyncio.gather(*(_post(http, urls[i % 2], parallel_key.secret) for i in range(10)))
                assert sorted(status for status, _ in burst) == [200] * 3 + [429] * 7
