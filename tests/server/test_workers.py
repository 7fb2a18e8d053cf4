"""`lunaroute serve --workers N`: worker processes sharing the port, one `/metrics` for all of them, one recorder
recording every worker's exchanges exactly once (a killed worker included, which is restarted), a graceful drain
on SIGTERM, limits exact across workers through Redis, and the in-process limits refused."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families
from tests.recording._builders import FOREGROUND_RECORDER
from tests.server._process import free_port
from tests.state.conftest import REDIS_URL, open_redis

from lunaroute.testing import Answer, FakeUpstream, Reply

BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def write_config(tmp_path: Path, upstream: FakeUpstream, **extra: Any) -> Path:
    raw = {
        "providers": {"openai": {"base_url": upstream.openai_base_url}},
        "session_recording": {
            "jsonl": {"directory": str(tmp_path / "sessions")},
            "sqlite": {"path": str(tmp_path / "sessions.db")},
            "journal_directory": str(tmp_path / "journal"),
            "worker": FOREGROUND_RECORDER,
        },
        "ui": {"enabled": False},
        **extra,
    }
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw))
    return config


async def start(config: Path, port: int, workers: int = 2, *, new_session: bool = False) -> asyncio.subprocess.Process:
    """`lunaroute serve --workers N`, once every worker accepts on the port (its log in
    `<config dir>/gateway.log`); `new_session`: in a process group of its own, to be killed whole."""
    log = (config.parent / "gateway.log").open("ab")
    env = {**os.environ, "LUNAROUTE_HOME": str(config.parent / "home")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lunaroute", "serve", "--config", str(config), "--port", str(port),
        "--workers", str(workers), env=env, stdout=log, stderr=log, start_new_session=new_session,
    )  # fmt: skip
    log.close()
    log_path = config.parent / "gateway.log"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.returncode is None:
        # The supervisor says "listening" once every worker accepts (a single process once it does).
        lines = log_path.read_text().splitlines()
        if any('"msg": "listening"' in line and f'"port": {port}' in line for line in lines):
            return process
        await asyncio.sleep(0.05)
    process.kill()
    await process.wait()
    raise AssertionError(f"the gateway did not start:\n{(config.parent / 'gateway.log').read_text()}")


def worker_pids(supervisor: int) -> list[int]:
    """The pids of the supervisor's worker processes (not its recorder): its children running the worker module."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == supervisor and b"lunaroute.server._worker" in cmdline:
            pids.append(int(entry.name))
    return sorted(pids)


async def post(url: str, headers: dict[str, str] | None = None) -> tuple[int, str | None]:
    """One request on a connection of its own (so that the kernel may hand it to any worker)."""
    connector = aiohttp.TCPConnector(force_close=True)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.post(f"{url}/v1/chat/completions", json=BODY, headers=headers or {}) as response,
    ):
        await response.read()
        return response.status, response.headers.get("x-lunaroute-request-id")


async def metric_total(url: str, name: str, **labels: str) -> float:
    """The sum of `name`'s samples (those with `labels`) in the gateway's `/metrics`."""
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session, session.get(f"{url}/metrics") as response:
        text = await response.text()
    return sum(
        s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == name and labels.items() <= s.labels.items()
    )


def stored_request_ids(tmp_path: Path) -> Counter[str]:
    with sqlite3.connect(tmp_path / "sessions.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return Counter(row[0] for row in conn.execute("SELECT request_id FROM session_stats"))


async def stop(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 60) == 0


async def test_workers_share_the_port_and_metrics_report_every_worker(tmp_path: Path) -> None:
    async with FakeUpstream(default=Reply(answer=Answer(text="ok"))) as upstream:
        port = free_port()
        process = await start(write_config(tmp_path, upstream), port)
        url = f"http://127.0.0.1:{port}"
        answers = [await post(url) for _ in range(40)]
        assert [status for status, _ in answers] == [200] * 40
        # A request id starts with a prefix of the process that answered: both workers took connections.
        assert len({rid[:16] for _, rid in answers if rid}) == 2
        for _ in range(4):  # whichever worker answers, /metrics counts the requests of both
            assert await metric_total(url, "lunaroute_requests_total") == 40
        await stop(process)
    stored = stored_request_ids(tmp_path)
    assert sorted(stored) == sorted(rid for _, rid in answers)
    assert set(stored.values()) == {1}
    assert list((tmp_path / "journal").rglob("journal-*")) == []


async def traffic(url: str, acknowledged: list[str], halt: asyncio.Event) -> None:
    while not halt.is_set():
        try:
            status, rid = await post(url)
        except (TimeoutError, aiohttp.ClientError):
            continue  # the connection went to the worker that was killed
        if status == 200 and rid is not None:
            acknowledged.append(rid)


async def test_a_killed_worker_is_restarted_and_nothing_is_lost_or_recorded_twice(tmp_path: Path) -> None:
    reply = Reply(answer=Answer(text="recorded answer"), chunk_delay=0.002)
    async with FakeUpstream(default=reply) as upstream:
        port = free_port()
        process = await start(write_config(tmp_path, upstream), port)
        url = f"http://127.0.0.1:{port}"
        before = worker_pids(process.pid)
        acknowledged: list[str] = []
        halt = asyncio.Event()
        tasks = [asyncio.create_task(traffic(url, acknowledged, halt)) for _ in range(4)]
        await asyncio.sleep(0.5)
        os.kill(before[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = worker_pids(process.pid)
            if len(now) == 2 and before[0] not in now:
                break
            await asyncio.sleep(0.05)
        assert len(now) == 2
        assert before[0] not in now
        assert before[1] in now
        served = len(acknowledged)
        await asyncio.sleep(1.0)
        halt.set()
        await asyncio.gather(*tasks)
        assert len(acknowledged) > served  # the restarted worker and the other one kept serving
        assert await metric_total(url, "lunaroute_worker_restarts_total") == 1
        await stop(process)
    stored = stored_request_ids(tmp_path)
    assert [rid for rid in acknowledged if rid not in stored] == []
    assert max(stored.values()) == 1
    assert list((tmp_path / "journal").rglob("journal-*")) == []


async def test_exchanges_a_killed_worker_cut_short_are_recorded_as_interrupted_while_the_gateway_runs(
    tmp_path: Path,
) -> None:
    slow = Reply(answer=Answer(text="slow"), delay_before_headers=4.0)
    async with FakeUpstream(default=slow) as upstream:
        port = free_port()
        process = await start(write_config(tmp_path, upstream), port)
        url = f"http://127.0.0.1:{port}"
        pending = [asyncio.create_task(post(url)) for _ in range(12)]
        await upstream.wait_for_requests(12, within=30)
        await asyncio.sleep(0.3)  # the starts of exchanges that long are in the journal
        os.kill(worker_pids(process.pid)[0], signal.SIGKILL)
        results = await asyncio.gather(*pending, return_exceptions=True)
        cut = sum(isinstance(result, BaseException) for result in results)
        assert 0 < cut < 12  # both workers had some (12 connections on one: 1 in 2,048)
        # The restarted worker journals from a new segment; once the recorder reaches it, the dead worker's
        # open exchanges are recorded as interrupted, without waiting for the gateway to stop.
        deadline = time.monotonic() + 30
        interrupted = 0.0
        while time.monotonic() < deadline and interrupted < cut:
            interrupted = await metric_total(url, "lunaroute_recorder_exchanges_total", stage="interrupted")
            await asyncio.sleep(0.2)
        assert interrupted == cut
        await stop(process)


async def test_sigterm_lets_the_requests_in_flight_of_every_worker_finish(tmp_path: Path) -> None:
    slow = Reply(answer=Answer(text="slow"), delay_before_headers=1.5)
    async with FakeUpstream(default=slow) as upstream:
        port = free_port()
        process = await start(write_config(tmp_path, upstream), port)
        url = f"http://127.0.0.1:{port}"
        pending = [asyncio.create_task(post(url)) for _ in range(6)]
        await upstream.wait_for_requests(6, within=10)
        process.send_signal(signal.SIGTERM)
        results = await asyncio.gather(*pending)
        assert [status for status, _ in results] == [200] * 6
        assert await asyncio.wait_for(process.wait(), 60) == 0
    assert sorted(stored_request_ids(tmp_path)) == sorted(rid for _, rid in results)


async def test_limits_are_exact_across_workers_with_redis(tmp_path: Path) -> None:
    prefix = f"lunaroute-test:{uuid.uuid4().hex[:10]}:"
    probe = await open_redis(prefix)  # skips (or fails in CI) without a Redis server
    await probe.aclose()
    async with FakeUpstream(default=Reply(answer=Answer(text="ok"))) as upstream:
        state = {"backend": "redis", "redis_url": REDIS_URL, "key_prefix": prefix}
        config = write_config(tmp_path, upstream, limits=[{"model": "gpt-4o", "rpm": 5}], state=state)
        port = free_port()
        process = await start(config, port)
        url = f"http://127.0.0.1:{port}"
        answers = [await post(url) for _ in range(12)]
        assert len({rid[:16] for _, rid in answers if rid}) == 2
        assert sorted(status for status, _ in answers) == [200] * 5 + [429] * 7
        await stop(process)


def test_in_process_limits_are_refused_with_several_workers(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"workers": 2, "limits": [{"model": "*", "rpm": 10}]}))
    env = {**os.environ, "LUNAROUTE_HOME": str(tmp_path / "home")}
    check = subprocess.run(
        [sys.executable, "-m", "lunaroute", "config", "check", str(config)], capture_output=True, text=True, env=env
    )
    assert check.returncode == 2
    assert "$.state.backend" in check.stderr
    assert "state.backend: redis" in check.stderr
    config.write_text(yaml.safe_dump({"limits": [{"model": "*", "rpm": 10}]}))
    serve = subprocess.run(
        [sys.executable, "-m", "lunaroute", "serve", "--config", str(config), "--workers", "3"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert serve.returncode == 2
    assert "with 3 workers" in serve.stderr


async def test_journals_left_by_a_crash_are_recorded_by_the_next_run_whatever_its_worker_count(tmp_path: Path) -> None:
    """kill -9 of every process of a 2-worker gateway, then of a 1-process one, each followed by a start with the
    other layout: what each acknowledged is recorded once, and the last graceful stop leaves no journal."""
    reply = Reply(answer=Answer(text="recorded answer"), chunk_delay=0.002)
    acknowledged: list[str] = []
    async with FakeUpstream(default=reply) as upstream:
        config = write_config(tmp_path, upstream)
        for workers in (2, 1, 2):
            port = free_port()
            process = await start(config, port, workers=workers, new_session=True)
            halt = asyncio.Event()
            tasks = [asyncio.create_task(traffic(f"http://127.0.0.1:{port}", acknowledged, halt)) for _ in range(4)]
            await asyncio.sleep(0.6)
            os.killpg(process.pid, signal.SIGKILL)  # the supervisor, its workers and its recorder at once
            await process.wait()
            halt.set()
            await asyncio.gather(*tasks)
        port = free_port()
        await stop(await start(config, port, workers=1))
    assert len(acknowledged) > 20
    stored = stored_request_ids(tmp_path)
    assert [rid for rid in acknowledged if rid not in stored] == []
    assert max(stored.values()) == 1
    assert list((tmp_path / "journal").rglob("journal-*")) == []
