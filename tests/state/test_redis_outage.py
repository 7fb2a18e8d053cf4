"""Redis cut in the middle of a run, through a relay the test controls: fail_closed answers 503 and fail_open
serves (both counted), and limits hold again once Redis is back."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path

import aiohttp
import pytest
from tests.state.conftest import open_redis

from lunaroute.keys import KeyManager, KeySpec, open_key_store
from lunaroute.testing import Answer, FakeUpstream, Reply
from lunaroute.testing._gateway import GatewayFactory


class Relay:
    """A TCP relay to Redis on 127.0.0.1:6379 that can be cut (every connection closed, new ones refused)."""

    def __init__(self) -> None:
        self.cut = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 6379)
        self._writers |= {writer, up_writer}

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    def sever(self) -> None:
        self.cut = True
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    async def close(self) -> None:
        self.sever()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.mark.parametrize(("mode", "during"), [("fail_closed", 503), ("fail_open", 200)])
async def test_limits_survive_redis_going_away_and_coming_back(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, mode: str, during: int
) -> None:
    await (await open_redis("probe:")).aclose()  # skips (or fails in CI) without Redis
    relay = Relay()
    port = await relay.start()
    db = str(tmp_path / "keys.db")
    store = await open_key_store(db)
    key = await KeyManager(store).create(KeySpec(name="k", rpm=3))
    await store.aclose()
    gateway = await make_gateway(
        auth={"mode": "keys", "database": db},
        state={
            "backend": "redis",
            "redis_url": f"redis://127.0.0.1:{port}/0",
            "key_prefix": f"lunaroute-test:{uuid.uuid4().hex[:10]}:",
            "on_unavailable": mode,
            "timeout_ms": 300,
        },
    )
    upstream.enqueue(*(Reply(answer=Answer(text="ok")) for _ in range(10)))

    async def status(http: aiohttp.ClientSession) -> int:
        async with http.post(
            f"{gateway.url}/v1/chat/completions",
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": f"Bearer {key.secret}"},
        ) as r:
            await r.read()
            return r.status

    try:
        async with aiohttp.ClientSession() as http:
            assert await status(http) == 200
            relay.sever()
            assert await status(http) == during
            assert await status(http) == during
            relay.cut = False
            # Back: the two requests counted before the cut leave room for one more, then the limit holds again.
            assert await status(http) == 200
            assert await status(http) == 200
            assert await status(http) == 429
            async with http.get(f"{gateway.url}/metrics") as r:
                assert f'lunaroute_limit_state_errors_total{{outcome="{mode}"}} 2.0' in await r.text()
    finally:
        await relay.close()
