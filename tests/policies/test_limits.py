"""Rate limits on a running gateway: per key, team and model; 429 with retry-after that the SDKs honour; the
rate-limit headers of each dialect; parallel leases; tokens settled from the usage an answer reports."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import openai
import pytest

from lunaroute.keys import CreatedKey, KeyManager, KeySpec, open_key_store
from lunaroute.testing import Answer, FakeUpstream, Reply, Usage
from lunaroute.testing._gateway import GatewayFactory, GatewayServer

MESSAGES: Any = [{"role": "user", "content": "hi"}]


async def _key(db: str, **spec: Any) -> CreatedKey:
    store = await open_key_store(db)
    try:
        return await KeyManager(store).create(KeySpec(name=spec.pop("name", "k"), **spec))
    finally:
        await store.aclose()


async def _gateway(make_gateway: GatewayFactory, db: str, **config: Any) -> GatewayServer:
    return await make_gateway(auth={"mode": "keys", "database": db}, **config)


async def test_a_key_rpm_gives_429_with_retry_after_and_headers(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    db = str(tmp_path / "keys.db")
    key = await _key(db, rpm=3)
    gateway = await _gateway(make_gateway, db)
    upstream.enqueue(*(Reply(answer=Answer(text="ok")) for _ in range(3)))
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=key.secret, max_retries=0) as client:
        remaining = []
        for _ in range(3):
            raw = await client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
            remaining.append(raw.headers["x-ratelimit-remaining-requests"])
            assert raw.headers["x-ratelimit-limit-requests"] == "3"
            assert raw.headers["x-ratelimit-reset-requests"].endswith("s")
        assert remaining == ["2", "1", "0"]
        with pytest.raises(openai.RateLimitError) as refused:
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    retry_after = int(refused.value.response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert "requests per minute" in refused.value.message
    assert len(upstream.requests) == 3


async def test_anthropic_headers_and_error_shape(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    db = str(tmp_path / "keys.db")
    key = await _key(db, rpm=1, tpm=100_000)
    gateway = await _gateway(make_gateway, db)
    upstream.enqueue(Reply(answer=Answer(text="ok")))
    async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key=key.secret, max_retries=0) as client:
        raw = await client.messages.with_raw_response.create(model="claude-sonnet-4-5", max_tokens=5, messages=MESSAGES)
        assert raw.headers["anthropic-ratelimit-requests-limit"] == "1"
        assert raw.headers["anthropic-ratelimit-requests-remaining"] == "0"
        assert raw.headers["anthropic-ratelimit-requests-reset"].endswith("Z")
        assert raw.headers["anthropic-ratelimit-tokens-limit"] == "100000"
        with pytest.raises(anthropic.RateLimitError) as refused:
            await client.messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=MESSAGES)
    assert refused.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]


async def test_the_sdk_retries_after_the_time_it_is_told(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """The official SDK waits `retry-after` and retries by itself; the retry is admitted once the window moved."""
    db = str(tmp_path / "keys.db")
    key = await _key(db, rpm=1)
    gateway = await _gateway(make_gateway, db)
    upstream.enqueue(Reply(answer=Answer(text="first")))
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=key.secret, max_retries=0) as client:
        await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        with pytest.raises(openai.RateLimitError) as refused:
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    # The value is the time until the first request leaves the 60-second window, not a guess.
    assert 58 <= int(refused.value.response.headers["retry-after"]) <= 60


async def test_team_and_model_limits_are_shared(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    db = str(tmp_path / "keys.db")
    a, b = await _key(db, name="a", team="core"), await _key(db, name="b", team="core")
    gateway = await _gateway(make_gateway, db, teams={"core": {"rpm": 3}}, limits=[{"model": "gpt-4o-mini*", "rpm": 1}])
    upstream.enqueue(*(Reply(answer=Answer(text="ok")) for _ in range(4)))
    statuses = []
    async with aiohttp.ClientSession() as http:
        for secret in (a.secret, b.secret, a.secret, b.secret):
            async with http.post(
                f"{gateway.url}/v1/chat/completions",
                json={"model": "gpt-4o", "messages": MESSAGES},
                headers={"authorization": f"Bearer {secret}"},
            ) as r:
                statuses.append(r.status)
        assert statuses == [200, 200, 200, 429]
        async with http.get(f"{gateway.url}/metrics") as r:
            assert 'lunaroute_rate_limited_total{kind="rpm",scope="team"} 1.0' in await r.text()
    other = await _key(db, name="c")
    await asyncio.sleep(0.7)
    async with aiohttp.ClientSession(headers={"authorization": f"Bearer {other.secret}"}) as http:
        codes = []
        for _ in range(2):
            async with http.post(
                f"{gateway.url}/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": MESSAGES}
            ) as r:
                codes.append(r.status)
    assert codes == [200, 429]


async def test_max_parallel_admits_that_many_at_once(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    db = str(tmp_path / "keys.db")
    key = await _key(db, max_parallel=2)
    gateway = await _gateway(make_gateway, db)
    upstream.enqueue(*(Reply(answer=Answer(text="slow"), delay_before_headers=0.5) for _ in range(3)))

    async def call(http: aiohttp.ClientSession) -> int:
        async with http.post(
            f"{gateway.url}/v1/chat/completions",
            json={"model": "gpt-4o", "messages": MESSAGES},
            headers={"authorization": f"Bearer {key.secret}"},
        ) as r:
            await r.read()
            return r.status

    async with aiohttp.ClientSession() as http:
        statuses = sorted(await asyncio.gather(*(call(http) for _ in range(5))))
        assert statuses == [200, 200, 429, 429, 429]
        await asyncio.sleep(0.1)  # leases are released when each answer ended
        assert await call(http) == 200


async def test_tokens_are_settled_from_the_streamed_usage(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """The reservation (a quarter of the body's bytes) is replaced by the usage the stream reported."""
    db = str(tmp_path / "keys.db")
    key = await _key(db, tpm=1000)
    gateway = await _gateway(make_gateway, db)
    upstream.enqueue(
        Reply(answer=Answer(text="long", usage=Usage(input_tokens=300, output_tokens=600))),
        Reply(answer=Answer(text="ok", usage=Usage(input_tokens=10, output_tokens=10))),
    )
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=key.secret, max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        async for _ in stream:
            pass
        await asyncio.sleep(0.1)  # settlement runs after the answer ended
        raw = await client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
        remaining = int(raw.headers["x-ratelimit-remaining-tokens"])
        # 900 settled from the stream, and this request's own reservation (its body / 4) taken.
        assert 1000 - 900 - 40 <= remaining < 100
        await asyncio.sleep(0.1)
        big = [{"role": "user", "content": "x" * 600}]
        with pytest.raises(openai.RateLimitError):
            await client.chat.completions.create(model="gpt-4o", messages=big)


async def test_anthropic_stream_usage_is_settled_too(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    db = str(tmp_path / "keys.db")
    key = await _key(db, tpm=1000)
    gateway = await _gateway(make_gateway, db)
    upstream.enqueue(Reply(answer=Answer(text="long", usage=Usage(input_tokens=400, output_tokens=500))))
    async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key=key.secret, max_retries=0) as client:
        async with client.messages.stream(model="claude-sonnet-4-5", max_tokens=900, messages=MESSAGES) as stream:
            await stream.get_final_text()
        await asyncio.sleep(0.1)
        with pytest.raises(anthropic.RateLimitError):
            await client.messages.create(
                model="claude-sonnet-4-5", max_tokens=5, messages=[{"role": "user", "content": "y" * 500}]
            )


async def test_global_limits_apply_without_keys(make_gateway: GatewayFactory, upstream: FakeUpstream) -> None:
    gateway = await make_gateway(limits=[{"model": "*", "rpm": 2}])
    upstream.enqueue(*(Reply(answer=Answer(text="ok")) for _ in range(2)))
    async with aiohttp.ClientSession() as http:
        codes = []
        for _ in range(3):
            async with http.post(
                f"{gateway.url}/v1/chat/completions", json={"model": "gpt-4o", "messages": MESSAGES}
            ) as r:
                codes.append(r.status)
    assert codes == [200, 200, 429]


async def test_no_limit_leaves_the_upstream_headers_alone(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    db = str(tmp_path / "keys.db")
    key = await _key(db)
    gateway = await _gateway(make_gateway, db)
    upstream.enqueue(Reply(answer=Answer(text="ok"), headers={"x-ratelimit-remaining-requests": "4999"}))
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{gateway.url}/v1/chat/completions",
            json={"model": "gpt-4o", "messages": MESSAGES},
            headers={"authorization": f"Bearer {key.secret}"},
        ) as r:
            assert r.headers["x-ratelimit-remaining-requests"] == "4999"


@pytest.mark.parametrize(("mode", "status"), [("fail_closed", 503), ("fail_open", 200)])
async def test_redis_unreachable(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path, mode: str, status: int
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    db = str(tmp_path / "keys.db")
    key = await _key(db, rpm=10)
    gateway = await _gateway(
        make_gateway,
        db,
        state={"backend": "redis", "redis_url": f"redis://127.0.0.1:{dead_port}/0", "on_unavailable": mode},
    )
    upstream.enqueue(Reply(answer=Answer(text="ok")))
    started = time.monotonic()
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{gateway.url}/v1/chat/completions",
            json={"model": "gpt-4o", "messages": MESSAGES},
            headers={"authorization": f"Bearer {key.secret}"},
        ) as r:
            assert r.status == status
            if status == 503:
                assert r.headers["retry-after"] == "1"
                assert (await r.json())["error"]["code"] == "limits_unavailable"
        async with http.get(f"{gateway.url}/metrics") as r:
            assert f'lunaroute_limit_state_errors_total{{outcome="{mode}"}} 1.0' in await r.text()
    assert time.monotonic() - started < 5
