"""`kill -9` in a loop: of the gateway, of its recorder process, and of both at once, in the middle of traffic.

After every round of kills and a last graceful stop, for every store configured (JSONL and SQLite):
- every exchange whose answer reached its client (a 200 read to its end) is recorded exactly once;
- every exchange that reached the upstream is recorded at least (as `interrupted` when it was cut off).

Each request is its own session (a `session_id` header naming it), so a session file or row belongs to one
request, and the fake upstream's log says which requests reached it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
import yaml

from lunaroute.recording import Completed, read_session_file
from lunaroute.testing import Answer, FakeUpstream, Reply

from . import test_crash as crash
from ._builders import FOREGROUND_RECORDER
from .test_crash import free_port

CLIENTS = 16


async def start_gateway(config: Path, port: int) -> asyncio.subprocess.Process:
    """The gateway, its log appended to `gateway.log` beside `config` (read it when this test fails)."""
    return await crash.start_gateway(config, port, log=config.parent / "gateway.log")


def recorder_pid(gateway_pid: int) -> int | None:
    """The gateway's recorder process (its child running `lunaroute.recording.worker`), if running."""
    try:
        children = Path(f"/proc/{gateway_pid}/task/{gateway_pid}/children").read_text().split()
    except OSError:
        return None
    for child in children:
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"lunaroute.recording.worker" in cmdline:
            return int(child)
    return None


async def wait_for_recorder(gateway_pid: int) -> int:
    for _ in range(200):
        pid = recorder_pid(gateway_pid)
        if pid is not None:
            return pid
        await asyncio.sleep(0.05)
    raise AssertionError("no recorder process")


async def recorder_restarted(port: int, times: int) -> None:
    """Wait until the gateway has restarted its recorder process `times` times (its metric says so)."""
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                text = await response.text()
            for line in text.splitlines():
                if line.startswith("lunaroute_recorder_process_restarts_total ") and float(line.split()[1]) >= times:
                    return
            await asyncio.sleep(0.05)
    raise AssertionError("the recorder process was not restarted")


async def client(port: int, name: str, answered: set[str], stop: asyncio.Event) -> None:
    """Requests one after the other, each its own session; `answered` gets those read whole with a 200."""
    n = 0
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            session_id = f"{name}-{n}"
            n += 1
            body = {"model": "gpt-x", "stream": n % 2 == 0, "messages": [{"role": "user", "content": session_id}]}
            try:
                async with session.post(
                    f"http://127.0.0.1:{port}/v1/chat/completions", json=body, headers={"session_id": session_id}
                ) as response:
                    data = await response.read()
                    if response.status == 200 and (b"[DONE]" in data or b'"choices"' in data):
                        answered.add(session_id)
            except (TimeoutError, aiohttp.ClientError):
                await asyncio.sleep(0.05)  # the gateway is down: try again once it is back


def jsonl_records(sessions: Path) -> dict[str, Counter[str]]:
    """Session id -> how many times each event type of it was stored (a session holds one request here)."""
    found: dict[str, Counter[str]] = {}
    for path in sessions.rglob("*.jsonl"):
        counts = found.setdefault(path.stem, Counter())
        for event in read_session_file(path).events:
            counts[type(event).__name__] += 1
            if isinstance(event, Completed):
                counts["request:" + event.request_id] += 1
    return found


@pytest.mark.parametrize("target", ["gateway", "recorder", "both"])
async def test_kill_9_loop_records_every_answer_once_and_every_upstream_call(tmp_path: Path, target: str) -> None:
    if not Path("/proc/self/task").is_dir():
        pytest.skip("finding the recorder process needs /proc")
    reply = Reply(answer=Answer(text="an answer in a few pieces"), pieces=6, chunk_delay=0.01)
    async with FakeUpstream(default=reply) as upstream:
        config = tmp_path / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "providers": {"openai": {"base_url": upstream.openai_base_url}},
                    "session_recording": {
                        "jsonl": {"directory": str(tmp_path / "sessions")},
                        "sqlite": {"path": str(tmp_path / "sessions.db")},
                        "journal_directory": str(tmp_path / "journal"),
                        "worker": FOREGROUND_RECORDER,
                    },
                }
            )
        )
        answered: set[str] = set()
        port = free_port()
        process = await start_gateway(config, port)
        stop = asyncio.Event()
        clients = [asyncio.create_task(client(port, f"{target}{c}", answered, stop)) for c in range(CLIENTS)]
        try:
            for round_ in range(3):
                await asyncio.sleep(0.5 + 0.13 * round_)
                if target in ("recorder", "both"):
                    os.kill(await wait_for_recorder(process.pid), signal.SIGKILL)
                if target in ("gateway", "both"):
                    process.send_signal(signal.SIGKILL)
                    await process.wait()
                    process = await start_gateway(config, port)
                elif target == "recorder":
                    await recorder_restarted(port, round_ + 1)
            await asyncio.sleep(0.5)
        finally:
            stop.set()
            await asyncio.gather(*clients)
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), 60) == 0
        # A last start records whatever the stopped run left in the journal; a graceful stop flushes it.
        process = await start_gateway(config, port)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 60) == 0
        reached = {request.header("session_id") for request in upstream.requests}
    reached.discard(None)
    assert len(answered) > 50
    assert answered <= reached

    jsonl = jsonl_records(tmp_path / "sessions")
    with sqlite3.connect(tmp_path / "sessions.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = Counter(row[0] for row in conn.execute("SELECT session_id FROM session_stats"))
    for store, counts in (("jsonl", {k: v["Completed"] for k, v in jsonl.items()}), ("sqlite", rows)):
        missing = sorted(s for s in reached if not counts.get(s))
        assert missing == [], f"{store}: exchanges that reached the upstream are not recorded"
        twice = sorted(s for s in answered if counts.get(s, 0) != 1)
        assert twice == [], f"{store}: answered exchanges not recorded exactly once"
    repeated = {s: c for s, c in jsonl.items() if s in answered and any(n != 1 for n in c.values())}
    assert repeated == {}, "jsonl: an answered exchange has an event stored more than once"
