"""Two gateway processes sharing one PostgreSQL key store: a key created, revoked or rotated through one (or
the CLI) is honoured by both within a second."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import aiohttp
from tests.server._process import serve_in_process

from lunaroute.keys import KeyManager, KeySpec, open_key_store
from lunaroute.testing import Answer, FakeUpstream, Reply

ADMIN = "admin-secret-0123456789"


async def _status(http: aiohttp.ClientSession, url: str, secret: str) -> int:
    async with http.post(
        f"{url}/v1/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {secret}"},
    ) as r:
        await r.read()
        return r.status


async def test_revocation_and_rotation_reach_every_process(pg_dsn: str, tmp_path: Path) -> None:
    async with FakeUpstream() as upstream:
        config = (
            "session_recording: {enabled: false}\n"
            f"providers: {{openai: {{base_url: '{upstream.url}/v1', api_key: sk-provider}}}}\n"
            f"auth: {{mode: keys, admin_key: {ADMIN}, database: '{pg_dsn}'}}\n"
        )
        store = await open_key_store(pg_dsn)
        keys = KeyManager(store)
        with contextlib.ExitStack() as stack:
            urls = [stack.enter_context(serve_in_process(config, tmp_path, name=f"gw{i}")) for i in range(2)]
            async with aiohttp.ClientSession() as http:
                # A key made through gateway 0's admin API works on both.
                async with http.post(
                    f"{urls[0]}/admin/keys", json={"name": "shared"}, headers={"authorization": f"Bearer {ADMIN}"}
                ) as r:
                    created = await r.json()
                await asyncio.sleep(1.0)
                for url in urls:
                    upstream.enqueue(Reply(answer=Answer(text="ok")))
                    assert await _status(http, url, created["key"]) == 200

                # Revoked in the store by another client (the CLI's path): both refuse within a second.
                await keys.revoke(created["id"])
                revoked_at = time.monotonic()
                refused: set[str] = set()
                while refused != set(urls):
                    assert time.monotonic() - revoked_at < 1.0, f"still accepted by {set(urls) - refused}"
                    for url in set(urls) - refused:
                        upstream.enqueue(Reply(answer=Answer(text="ok")))
                        if await _status(http, url, created["key"]) == 401:
                            refused.add(url)
                    await asyncio.sleep(0.02)

                # Rotation without grace: the new secret works everywhere, the old one nowhere.
                other = await keys.create(KeySpec(name="rotating"))
                rotated = await keys.rotate(other.record.id)
                await asyncio.sleep(1.0)
                for url in urls:
                    upstream.enqueue(Reply(answer=Answer(text="ok")))
                    assert await _status(http, url, rotated.secret) == 200
                    assert await _status(http, url, other.secret) == 401
        await store.aclose()
    for sent in upstream.requests:
        assert sent.header("authorization") == "Bearer sk-provider"
