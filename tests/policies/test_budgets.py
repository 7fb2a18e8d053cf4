"""Budgets on a running gateway: racing requests never overspend by more than one reservation, spend survives a
restart, a reroute model serves what does not fit, a soft limit is announced, streams and disconnects settle."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from click.testing import CliRunner

from lunaroute.cli._main import cli
from lunaroute.keys import CreatedKey, KeyManager, KeySpec, open_key_store, period_key
from lunaroute.policies._budgets import output_cap, price
from lunaroute.testing import Answer, FakeUpstream, Reply, Usage
from lunaroute.testing._gateway import GatewayFactory, GatewayServer

MODEL = "gpt-4o"
USAGE = Usage(input_tokens=30, output_tokens=100)


def body(max_tokens: int = 100, stream: bool = False) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": max_tokens, "messages": [{"role": "user", "content": "hi"}], "stream": stream}


async def _key(db: str, **spec: Any) -> CreatedKey:
    store = await open_key_store(db)
    try:
        return await KeyManager(store).create(KeySpec(name=spec.pop("name", "k"), **spec))
    finally:
        await store.aclose()


async def _spent(db: str, scope: str, period: str = "day") -> tuple[float, float]:
    store = await open_key_store(db)
    try:
        now = time.time()
        return await store.spend(scope, period_key(period, now), now)  # type: ignore[arg-type]
    finally:
        await store.aclose()


def test_the_output_cap_comes_from_the_body() -> None:
    assert output_cap(b'{"max_tokens": 7}') == 7
    assert output_cap(b'{"max_completion_tokens": 9}') == 9
    assert output_cap(b'{"max_output_tokens": 11}') == 11
    assert output_cap(b'{"model": "x"}') == 4096
    assert output_cap(b"not json") == 4096


async def test_racing_requests_never_overspend(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    db = str(tmp_path / "keys.db")
    request_bytes = len(json.dumps(body()).encode())  # what aiohttp's json= sends
    reservation = price("", MODEL, request_bytes // 4, 100) or 0.0
    assert reservation > 0
    budget = reservation * 10.5  # about ten requests
    key = await _key(db, budget_usd=budget, budget_period="day")
    gateway = await make_gateway(auth={"mode": "keys", "database": db})
    upstream.enqueue(*(Reply(answer=Answer(text="ok", usage=USAGE)) for _ in range(50)))
    barrier = asyncio.Event()

    async def call(http: aiohttp.ClientSession, i: int) -> int:
        await barrier.wait()
        async with http.post(
            f"{gateway.url}/v1/chat/completions",
            json=body(stream=i % 3 == 0) | ({"stream_options": {"include_usage": True}} if i % 3 == 0 else {}),
            headers={"authorization": f"Bearer {key.secret}"},
        ) as r:
            await r.read()
            return r.status

    async with aiohttp.ClientSession() as http:
        tasks = [asyncio.create_task(call(http, i)) for i in range(50)]
        await asyncio.sleep(0.05)
        barrier.set()
        statuses = await asyncio.gather(*tasks)
    await asyncio.sleep(0.3)  # settlements
    ok = statuses.count(200)
    assert 5 <= ok <= 10
    assert statuses.count(429) == 50 - ok
    spent, held = await _spent(db, f"key:{key.record.id}")
    assert held == 0
    assert spent <= budget + reservation
    assert spent == pytest.approx(ok * (price("openai", MODEL, 30, 100) or 0), rel=1e-6)


async def test_spend_survives_a_restart(make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path) -> None:
    db = str(tmp_path / "keys.db")
    one = price("openai", MODEL, 30, 100) or 0.0
    key = await _key(db, budget_usd=one * 1.5, budget_period="total")
    first = await make_gateway(auth={"mode": "keys", "database": db})
    upstream.enqueue(Reply(answer=Answer(text="ok", usage=USAGE)))
    async with openai.AsyncOpenAI(base_url=f"{first.url}/v1", api_key=key.secret, max_retries=0) as client:
        await client.chat.completions.create(**body(max_tokens=10))
    await first.stop()
    second = await make_gateway(auth={"mode": "keys", "database": db})
    async with openai.AsyncOpenAI(base_url=f"{second.url}/v1", api_key=key.secret, max_retries=0) as client:
        with pytest.raises(openai.RateLimitError) as refused:
            await client.chat.completions.create(**body())
    assert refused.value.code == "budget_exceeded"
    assert "budget" in refused.value.message
    assert (await _spent(db, f"key:{key.record.id}", "total"))[0] == pytest.approx(one)
    async with aiohttp.ClientSession() as http, http.get(f"{second.url}/metrics") as r:
        text = await r.text()
    assert 'lunaroute_rate_limited_total{kind="budget",scope="key"} 1.0' in text
    used = re.search(rf'lunaroute_budget_utilisation_ratio{{budget="{key.record.id}",scope="key"}} (\S+)', text)
    assert used is not None
    assert float(used.group(1)) == pytest.approx(1 / 1.5)  # one request's cost of a budget of one and a half


async def test_a_team_budget_reroutes_to_a_cheaper_model(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    db = str(tmp_path / "keys.db")
    key = await _key(db, team="research")
    gateway = await make_gateway(
        auth={"mode": "keys", "database": db},
        teams={"research": {"budget_usd": 0.0001, "budget_period": "day", "budget_reroute_model": "gpt-4o-mini"}},
    )
    upstream.enqueue(Reply(answer=Answer(text="cheap", usage=Usage(input_tokens=5, output_tokens=5))))
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=key.secret, max_retries=0) as client:
        answer = await client.chat.completions.create(**body(max_tokens=20))
    assert answer.choices[0].message.content == "cheap"
    assert upstream.last_request.json()["model"] == "gpt-4o-mini"


async def test_a_soft_limit_adds_the_remaining_budget(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    db = str(tmp_path / "keys.db")
    one = price("", MODEL, 40, 100) or 0.0
    key = await _key(db, budget_usd=one * 3, budget_period="day", budget_soft_limit=0.5)
    gateway = await make_gateway(auth={"mode": "keys", "database": db})
    upstream.enqueue(*(Reply(answer=Answer(text="ok", usage=USAGE)) for _ in range(2)))
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=key.secret, max_retries=0) as client:
        first = await client.chat.completions.with_raw_response.create(**body())
        assert "x-lunaroute-budget-remaining-usd" not in first.headers
        await asyncio.sleep(0.2)
        second = await client.chat.completions.with_raw_response.create(**body())
        remaining = float(second.headers["x-lunaroute-budget-remaining-usd"])
    assert 0 <= remaining < one * 2


async def test_a_disconnect_mid_stream_settles_what_was_relayed(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    db = str(tmp_path / "keys.db")
    key = await _key(db, budget_usd=1.0, budget_period="day")
    gateway: GatewayServer = await make_gateway(auth={"mode": "keys", "database": db})
    upstream.enqueue(Reply(answer=Answer(text="word " * 200, usage=USAGE), chunk_delay=0.05, pieces=40))

    async def partial() -> None:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{gateway.url}/v1/chat/completions",
                json=body(stream=True),
                headers={"authorization": f"Bearer {key.secret}"},
            ) as r:
                await r.content.readany()

    await partial()
    await asyncio.sleep(0.5)
    spent, held = await _spent(db, f"key:{key.record.id}")
    assert held == 0
    assert 0 < spent < (price("", MODEL, 100, 4096) or 1)


def test_keys_show_prints_the_spend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUNAROUTE_HOME", str(tmp_path))
    monkeypatch.delenv("LUNAROUTE_CONFIG", raising=False)
    runner = CliRunner()
    created = runner.invoke(
        cli, ["keys", "create", "--name", "b", "--budget", "5", "--budget-period", "week", "--json"]
    )
    assert created.exit_code == 0, created.output
    key_id = json.loads(created.stdout)["id"]
    shown = runner.invoke(cli, ["keys", "show", key_id])
    assert "$5.00 per week; spent $0.0000 this period" in shown.output
    as_json = json.loads(runner.invoke(cli, ["keys", "show", key_id, "--json"]).stdout)
    assert as_json["spent_usd"] == 0.0
    bad = runner.invoke(cli, ["keys", "update", key_id, "--budget-soft-limit", "2"])
    assert bad.exit_code == 2


async def test_the_ui_shows_each_budget_against_its_spend(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    from aiohttp import web

    from lunaroute.ui import build_ui_app

    db = str(tmp_path / "keys.db")
    key = await _key(db, team="research", budget_usd=5.0, budget_period="week")
    gateway = await make_gateway(
        auth={"mode": "keys", "database": db},
        teams={"research": {"budget_usd": 50.0, "budget_period": "month"}},
        session_recording={
            "enabled": True,
            "jsonl": {"enabled": False},
            "sqlite": {"path": str(tmp_path / "sessions.db")},
            "journal_directory": str(tmp_path / "journal"),
        },
    )
    upstream.enqueue(Reply(answer=Answer(text="ok", usage=USAGE)))
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=key.secret, max_retries=0) as client:
        await client.chat.completions.create(**body())
    await asyncio.sleep(0.3)
    runner = web.AppRunner(build_ui_app(gateway.config))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{runner.addresses[0][1]}/api/budgets") as r:
                statuses = {s["scope"]: s for s in await r.json()}
    finally:
        await runner.cleanup()
    one = price("openai", MODEL, 30, 100) or 0.0
    assert statuses["key"]["name"] == "k"
    assert statuses["key"]["period"] == "week"
    assert statuses["key"]["spent_usd"] == pytest.approx(one)
    assert statuses["key"]["reserved_usd"] == 0
    assert statuses["team"]["budget_usd"] == 50.0
    assert statuses["team"]["spent_usd"] == pytest.approx(one)


async def test_a_model_with_no_price_is_refused_under_a_budget(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """Its spend could not be counted: refused with 403 naming the model, before anything is sent upstream."""
    db = str(tmp_path / "keys.db")
    key = await _key(db, budget_usd=1.0, budget_period="day")
    gateway = await make_gateway(auth={"mode": "keys", "database": db})
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=key.secret, max_retries=0) as client:
        with pytest.raises(openai.PermissionDeniedError) as refused:
            await client.chat.completions.create(**(body() | {"model": "house-llm-7b"}))
    assert refused.value.code == "model_unpriced"
    assert "'house-llm-7b' has no known price" in refused.value.message
    assert upstream.requests == []
    assert await _spent(db, f"key:{key.record.id}") == (0.0, 0.0)


async def test_a_model_with_no_price_spends_at_the_configured_fallback_price(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    db = str(tmp_path / "keys.db")
    key = await _key(db, budget_usd=1.0, budget_period="day")
    gateway = await make_gateway(
        auth={"mode": "keys", "database": db},
        budgets={"unpriced_model_price": {"input_usd_per_mtok": 10.0, "output_usd_per_mtok": 30.0}},
    )
    upstream.enqueue(Reply(answer=Answer(text="ok", usage=USAGE)))
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=key.secret, max_retries=0) as client:
        await client.chat.completions.create(**(body() | {"model": "house-llm-7b"}))
    await asyncio.sleep(0.3)  # the settlement
    spent, held = await _spent(db, f"key:{key.record.id}")
    assert held == 0
    assert spent == pytest.approx((30 * 10.0 + 100 * 30.0) / 1e6)
