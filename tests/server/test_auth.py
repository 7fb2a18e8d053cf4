"""Gateway keys on the request path: the official SDKs with a key, refusals in each dialect, scopes, the key
never forwarded, revocation and rotation seen by a running gateway, bad-key throttling."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import anthropic
import openai
import pytest

from lunaroute.keys import CreatedKey, KeyManager, KeySpec, open_key_store
from lunaroute.testing import Answer, FakeUpstream, Reply
from lunaroute.testing._gateway import GatewayFactory, GatewayServer

OPENAI_KEY = "sk-provider-openai-0000"
ANTHROPIC_KEY = "sk-ant-provider-0000"


@dataclass
class Keyed:
    gateway: GatewayServer
    keys: KeyManager
    key: CreatedKey


@pytest.fixture
async def keyed(make_gateway: GatewayFactory, tmp_path: Path) -> AsyncIterator[Keyed]:
    db = str(tmp_path / "keys.db")
    store = await open_key_store(db)
    keys = KeyManager(store)
    key = await keys.create(KeySpec(name="ci", team="platform"))
    gateway = await make_gateway(
        auth={"mode": "keys", "database": db, "refresh_interval_ms": 100},
        providers={"openai": {"api_key": OPENAI_KEY}, "anthropic": {"api_key": ANTHROPIC_KEY}},
    )
    yield Keyed(gateway, keys, key)
    await store.aclose()


def oai(gateway: GatewayServer, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0)


def ant(gateway: GatewayServer, key: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=gateway.url, api_key=key, max_retries=0)


MESSAGES = [{"role": "user", "content": "hi"}]


async def test_openai_sdk_with_a_key_reaches_the_upstream_with_the_provider_key(
    keyed: Keyed, upstream: FakeUpstream
) -> None:
    upstream.enqueue(Reply(answer=Answer(text="hello")), Reply(answer=Answer(text="streamed")))
    async with oai(keyed.gateway, keyed.key.secret) as client:
        result = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
        assert result.choices[0].message.content == "hello"
        stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text == "streamed"
    for sent in upstream.requests:
        assert sent.header("authorization") == f"Bearer {OPENAI_KEY}"
        assert keyed.key.secret not in repr(sent.headers)
        assert keyed.key.secret.encode() not in sent.body


async def test_anthropic_sdk_with_a_key_in_x_api_key(keyed: Keyed, upstream: FakeUpstream) -> None:
    upstream.enqueue(Reply(answer=Answer(text="hello")), Reply(answer=Answer(text="streamed")))
    async with ant(keyed.gateway, keyed.key.secret) as client:
        message = await client.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=MESSAGES)  # type: ignore[arg-type]
        assert message.content[0].text == "hello"  # type: ignore[union-attr]
        async with client.messages.stream(model="claude-sonnet-4-5", max_tokens=10, messages=MESSAGES) as stream:  # type: ignore[arg-type]
            assert await stream.get_final_text() == "streamed"
    for sent in upstream.requests:
        assert sent.header("x-api-key") == ANTHROPIC_KEY
        assert keyed.key.secret not in repr(sent.headers)


async def test_the_sdks_raise_their_own_authentication_errors(keyed: Keyed, upstream: FakeUpstream) -> None:
    async with oai(keyed.gateway, "lr-" + "x" * 43) as client:
        with pytest.raises(openai.AuthenticationError) as oerr:
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
    assert oerr.value.status_code == 401
    assert oerr.value.code == "invalid_api_key"
    assert "invalid LunaRoute API key" in oerr.value.message
    async with ant(keyed.gateway, "not-a-key") as aclient:
        with pytest.raises(anthropic.AuthenticationError) as aerr:
            await aclient.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=MESSAGES)  # type: ignore[arg-type]
    assert aerr.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": aerr.value.body["error"]["message"]},
    }  # type: ignore[index]
    assert upstream.requests == []


async def test_missing_key_is_401_in_each_dialect(keyed: Keyed) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{keyed.gateway.url}/v1/chat/completions", json={"model": "m", "messages": []}) as r:
            assert r.status == 401
            assert r.headers["x-should-retry"] == "false"  # the SDKs and Claude Code do not retry a bad key
            body = await r.json()
            assert body["error"]["type"] == "authentication_error"
            assert "x-lunaroute-key" in body["error"]["message"]
        async with http.post(
            f"{keyed.gateway.url}/v1/messages",
            json={"model": "m", "max_tokens": 1, "messages": []},
            headers={"anthropic-version": "2023-06-01"},
        ) as r:
            assert r.status == 401
            assert (await r.json())["type"] == "error"


async def test_scopes_give_403_and_the_sdks_raise_permission_denied(
    keyed: Keyed, upstream: FakeUpstream, make_gateway: GatewayFactory
) -> None:
    scoped = await keyed.keys.create(KeySpec(name="haiku-only", models=["claude-*-haiku-*", "gpt-4o-mini"]))
    embeddings = await keyed.keys.create(KeySpec(name="emb", endpoints=["/v1/embeddings"]))
    await asyncio.sleep(0.3)  # the running gateway picks new keys up within refresh_interval_ms
    async with ant(keyed.gateway, scoped.secret) as client:
        with pytest.raises(anthropic.PermissionDeniedError) as aerr:
            await client.messages.create(model="claude-opus-4-1", max_tokens=10, messages=MESSAGES)  # type: ignore[arg-type]
        assert "claude-opus-4-1" in str(aerr.value)
        upstream.enqueue(Reply(answer=Answer(text="ok")))
        ok = await client.messages.create(model="claude-3-5-haiku-20241022", max_tokens=10, messages=MESSAGES)  # type: ignore[arg-type]
        assert ok.content[0].text == "ok"  # type: ignore[union-attr]
    async with oai(keyed.gateway, embeddings.secret) as oclient:
        with pytest.raises(openai.PermissionDeniedError) as oerr:
            await oclient.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
        assert oerr.value.code == "endpoint_not_allowed"
    assert len(upstream.requests) == 1


async def test_own_provider_credentials_with_x_lunaroute_key(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """With no provider key configured, the client's own credentials go upstream; the gateway key never does."""
    db = str(tmp_path / "keys.db")
    store = await open_key_store(db)
    key = await KeyManager(store).create(KeySpec(name="byok"))
    await store.aclose()
    gateway = await make_gateway(auth={"mode": "keys", "database": db})
    upstream.enqueue(Reply(answer=Answer(text="ok")))
    client = openai.AsyncOpenAI(
        base_url=f"{gateway.url}/v1",
        api_key="sk-users-own-key",
        default_headers={"x-lunaroute-key": key.secret},
        max_retries=0,
    )
    async with client:
        await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
    sent = upstream.last_request
    assert sent.header("authorization") == "Bearer sk-users-own-key"
    assert sent.header("x-lunaroute-key") is None
    assert key.secret not in repr(sent.headers)


async def test_revocation_and_expiry_take_effect_within_a_second(keyed: Keyed, upstream: FakeUpstream) -> None:
    upstream.enqueue(Reply(answer=Answer(text="ok")))
    short = await keyed.keys.create(KeySpec(name="short", expires_at=time.time() + 1.0))
    await asyncio.sleep(0.3)
    async with oai(keyed.gateway, keyed.key.secret) as client:
        await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
        await keyed.keys.revoke(keyed.key.record.id)
        revoked_at = time.monotonic()
        refusal = ""
        while not refusal:
            try:
                upstream.enqueue(Reply(answer=Answer(text="ok")))
                await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
            except openai.AuthenticationError as exc:
                refusal = exc.message
            assert time.monotonic() - revoked_at < 1.0, "a revoked key still worked after 1 s"
            await asyncio.sleep(0.02)
        assert "revoked" in refusal
    await asyncio.sleep(max(0.0, short.record.expires_at - time.time()))  # type: ignore[operator]
    async with oai(keyed.gateway, short.secret) as client:
        with pytest.raises(openai.AuthenticationError, match="expired"):
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]


async def test_rotation_grace_on_a_running_gateway(keyed: Keyed, upstream: FakeUpstream) -> None:
    # Timed from the rotation, so that a slow machine cannot make the grace run out before the first requests.
    grace = 4.0
    rotated_at = time.monotonic()
    rotated = await keyed.keys.rotate(keyed.key.record.id, grace_secs=grace)
    await asyncio.sleep(0.3)  # the running gateway picks the new key up within refresh_interval_ms
    for secret in (rotated.secret, keyed.key.secret):
        upstream.enqueue(Reply(answer=Answer(text="ok")))
        async with oai(keyed.gateway, secret) as client:
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
    assert time.monotonic() - rotated_at < grace, "the machine was too slow to test the grace period"
    await asyncio.sleep(grace + 0.3 - (time.monotonic() - rotated_at))
    async with oai(keyed.gateway, keyed.key.secret) as client:
        with pytest.raises(openai.AuthenticationError, match="rotated"):
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]


async def test_repeated_bad_keys_from_one_address_get_429(keyed: Keyed) -> None:
    async with aiohttp.ClientSession() as http:
        statuses = []
        for i in range(22):
            async with http.get(
                f"{keyed.gateway.url}/v1/models", headers={"authorization": f"Bearer lr-guess{i:040d}"}
            ) as r:
                statuses.append(r.status)
                retry_after = r.headers.get("retry-after")
        assert statuses[:20] == [401] * 20
        assert statuses[20:] == [429, 429]
        assert retry_after is not None
        assert 1 <= int(retry_after) <= 60
        # The right key is refused too while the address is throttled: guessing must not be able to continue.
        async with http.get(
            f"{keyed.gateway.url}/v1/models", headers={"authorization": f"Bearer {keyed.key.secret}"}
        ) as r:
            assert r.status == 429
        async with http.get(f"{keyed.gateway.url}/metrics") as r:
            metrics = await r.text()
    assert 'lunaroute_auth_failures_total{reason="unknown"} 20.0' in metrics
    assert 'lunaroute_auth_failures_total{reason="throttled"} 3.0' in metrics


async def test_health_and_metrics_need_no_key(keyed: Keyed) -> None:
    async with aiohttp.ClientSession() as http:
        for path in ("/healthz", "/readyz", "/metrics", "/"):
            async with http.get(f"{keyed.gateway.url}{path}") as r:
                assert r.status == 200, path


async def test_the_key_appears_in_no_log_line(
    keyed: Keyed, upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    upstream.enqueue(Reply(status=500, error_message="boom"))
    async with oai(keyed.gateway, keyed.key.secret) as client:
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
    assert caplog.records
    assert keyed.key.secret not in caplog.text


async def test_the_model_list_shows_only_the_models_a_key_may_use(keyed: Keyed, upstream: FakeUpstream) -> None:
    listing = {
        "object": "list",
        "data": [
            {"id": "gpt-4o", "object": "model", "owned_by": "openai"},
            {"id": "gpt-4o-mini", "object": "model", "owned_by": "openai"},
            {"id": "o3", "object": "model", "owned_by": "openai"},
        ],
    }
    scoped = await keyed.keys.create(KeySpec(name="mini", models=["gpt-4o-mini", "o*"]))
    await asyncio.sleep(0.3)
    upstream.enqueue(
        Reply(raw_chunks=[json.dumps(listing).encode()], content_type="application/json"),
        Reply(raw_chunks=[json.dumps(listing).encode()], content_type="application/json"),
    )
    async with oai(keyed.gateway, scoped.secret) as client:
        assert [m.id async for m in client.models.list()] == ["gpt-4o-mini", "o3"]
    assert upstream.last_request.header("accept-encoding") in (None, "identity")
    async with oai(keyed.gateway, keyed.key.secret) as client:  # an unscoped key sees the whole list
        assert [m.id async for m in client.models.list()] == ["gpt-4o", "gpt-4o-mini", "o3"]
