"""Every exported metric family is counted: traffic through every path, then each family has moved."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import aiohttp
import anthropic
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import Answer, FakeUpstream, GatewayFactory, Reply, ToolCall, Usage

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
CANARY = "sk-canary-9f8e7d6c5b4a"


async def scrape(url: str) -> dict[str, float]:
    """Family name -> sum of its sample values (histograms: their `_count`)."""
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        text = await response.text()
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if family.type == "histogram" and not sample.name.endswith("_count"):
                continue
            if sample.name.endswith("_created"):
                continue
            totals[family.name] = totals.get(family.name, 0.0) + abs(sample.value)
    return totals


async def test_every_family_moves(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="lunaroute")
    async with FakeUpstream() as spare:
        gw = await make_gateway(
            providers={
                "main": {
                    "provider_type": "openai",
                    "base_url": upstream.openai_base_url,
                    "http_client": {"max_retries": 1},
                },
                "spare": {"provider_type": "openai", "base_url": spare.openai_base_url},
                "ant": {"provider_type": "anthropic", "base_url": upstream.anthropic_base_url, "api_key": CANARY},
                "oai2": {"provider_type": "openai", "base_url": upstream.openai_base_url},
                "dead": {"provider_type": "openai", "base_url": "http://127.0.0.1:9/v1"},
            },
            routing={
                "rules": [
                    {"name": "chain", "model_pattern": "^gpt-", "primary": "main", "fallbacks": ["spare"]},
                    {"name": "xl", "model_pattern": "^claude-", "primary": "oai2"},
                ],
                "circuit_breaker": {"failure_threshold": 2, "cooldown_secs": 60},
            },
            http_server={"sse_keepalive_interval_secs": 0.1},
            session_recording={
                "jsonl": {"directory": str(tmp_path / "s")},
                "sqlite": {"path": str(tmp_path / "s.db")},
                "journal_directory": str(tmp_path / "j"),
            },
            logging={"log_requests": True},
        )
        # retry (429 then ok), fallback (503 twice -> spare), breaker open, keepalive, disconnect, translation,
        # a stream with usage, an unreachable provider.
        upstream.enqueue(
            Reply(status=429, retry_after="0"),
            Reply(answer=Answer(text="ok", usage=Usage(input_tokens=10, output_tokens=2))),
            Reply(status=503),
            Reply(status=503),
            Reply(status=503),
        )
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                async with session.post(f"{gw.url}/v1/chat/completions", json=CHAT) as response:
                    await response.read()
            async with session.post(
                f"{gw.url}/v1/chat/completions", json=CHAT, headers={"x-lunaroute-provider": "dead"}
            ) as response:
                assert response.status == 502
            upstream.enqueue(Reply(first_chunk_then_stall=0.4, answer=Answer(text="slow stream")))
            async with session.post(
                f"{gw.url}/v1/chat/completions", json={**CHAT, "stream": True}, headers={"x-lunaroute-provider": "ant"}
            ) as response:
                await response.read()
            upstream.enqueue(Reply(first_chunk_then_stall=3.0))
            response = await session.post(
                f"{gw.url}/v1/messages",
                json={"model": "x", "max_tokens": 5, "stream": True, "messages": [{"role": "user", "content": "x"}]},
            )
            await response.content.readany()
            response.close()
        upstream.enqueue(Reply(answer=Answer(text="translated", tool_calls=(ToolCall(name="t", arguments="{}"),))))
        async with anthropic.AsyncAnthropic(base_url=gw.url, api_key="k", max_retries=0) as client:
            async with client.messages.stream(
                model="claude-x", max_tokens=20, messages=[{"role": "user", "content": "hello"}]
            ) as stream:
                await stream.get_final_message()
        await asyncio.sleep(0.2)
        assert gw.app is not None
        capture = gw.app[GATEWAY].capture
        assert capture is not None
        await capture.drain()
        totals = await scrape(gw.url)
    exported = {name for name in totals if name.startswith("lunaroute_")}
    expected_static = {
        "lunaroute_requests",
        "lunaroute_request_duration_seconds",
        "lunaroute_gateway_overhead_seconds",
        "lunaroute_upstream_ttfb_seconds",
        "lunaroute_stream_first_byte_seconds",
        "lunaroute_stream_duration_seconds",
        "lunaroute_translation_seconds",
        "lunaroute_upstream_errors",
        "lunaroute_sse_keepalives",
        "lunaroute_client_disconnects",
        "lunaroute_stream_chunks",
        "lunaroute_fallbacks",
        "lunaroute_retries",
        "lunaroute_breaker_skips",
        "lunaroute_breaker_transitions",
        "lunaroute_tokens",
        "lunaroute_cost_usd",
        "lunaroute_recorder_events_written",
        "lunaroute_recorder_exchanges",
        "lunaroute_upstream_pool_connections",
        "lunaroute_upstream_pool_connections_opened",
        "lunaroute_upstream_pool_connections_reused",
    }
    not_moved = sorted(name for name in expected_static if totals.get(name, 0.0) <= 0)
    assert not_moved == []
    # Every family exported at all is one the test knows about (a new family needs a line here).
    known = expected_static | {
        "lunaroute_requests_in_flight",
        "lunaroute_connections_open",
        # Moved by tests/server/test_connections.py (caps and deadlines are not reached by this traffic).
        "lunaroute_connections_refused",
        "lunaroute_connection_timeouts",
        "lunaroute_requests_shed",
        "lunaroute_breaker_state",
        "lunaroute_provider_health",
        "lunaroute_provider_success_rate",
        "lunaroute_provider_in_flight",
        # Moved by tests/server/test_recording_health.py (a full disk).
        "lunaroute_recording_degraded",
        "lunaroute_recording_degraded_episodes",
        "lunaroute_requests_refused_unrecorded",
        "lunaroute_recorder_queue_depth",
        "lunaroute_recorder_events_failed",
        "lunaroute_recorder_events_spooled",
        "lunaroute_recorder_events_lost",
        "lunaroute_recorder_journal_backlog_bytes",
        "lunaroute_recorder_journal_errors",
        "lunaroute_recorder_process_restarts",
        "lunaroute_recorder_disk_free_bytes",
        "lunaroute_retention_runs",
        "lunaroute_retention_removed",
        "lunaroute_retention_errors",
    }
    assert exported <= known, exported - known
    # The canary key of a provider never shows in any log line at any level.
    assert all(CANARY not in record.getMessage() and CANARY not in str(record.__dict__) for record in caplog.records)


async def test_model_labels_are_bounded(upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path) -> None:
    gw = await make_gateway(
        observability={"metrics": {"max_model_labels": 2}},
        session_recording={
            "jsonl": {"directory": str(tmp_path / "s")},
            "sqlite": {"path": str(tmp_path / "s.db")},
            "journal_directory": str(tmp_path / "j"),
        },
    )
    upstream.default = Reply(answer=Answer(text="x", usage=Usage(input_tokens=3, output_tokens=1)))
    async with aiohttp.ClientSession() as session:
        for i in range(6):
            async with session.post(f"{gw.url}/v1/chat/completions", json={**CHAT, "model": f"m{i}"}) as response:
                await response.read()
    assert gw.app is not None
    capture = gw.app[GATEWAY].capture
    assert capture is not None
    await capture.drain()
    async with aiohttp.ClientSession() as session, session.get(f"{gw.url}/metrics") as response:
        text = await response.text()
    models = set(re.findall(r'lunaroute_tokens_total\{[^}]*model="([^"]+)"', text))
    assert models == {"m0", "m1", "other"}


async def test_metrics_can_be_switched_off(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(observability={"metrics": {"enabled": False}})
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gw.url}/v1/chat/completions", json=CHAT) as response:
            assert response.status == 200
        async with session.get(f"{gw.url}/metrics") as response:
            assert response.status == 404
