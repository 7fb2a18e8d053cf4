"""Crash consistency: `kill -9` of a recording gateway in the middle of traffic, repeated.

Every exchange acknowledged to its client before a kill is in the store after a restart, the database passes
`integrity_check`, and nothing is stored twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import sys
from collections import Counter
from pathlib import Path

import aiohttp
import yaml

from lunaroute.testing import Answer, FakeUpstream, Reply

from ._builders import FOREGROUND_RECORDER

ROUNDS = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_gateway(config: Path, port: int, *, log: Path | None = None) -> asyncio.subprocess.Process:
    """`lunaroute serve` on `port`; its log is appended to `log` when given (else discarded)."""
    env = {**os.environ, "LUNAROUTE_HOME": str(config.parent / "home")}
    with open(log or os.devnull, "ab") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "lunaroute", "serve", "--config", str(config), "--port", str(port),
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return process
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    process.kill()
    raise AssertionError("the gateway did not start")


async def traffic(port: int, prefix: str, acknowledged: list[str], stop: asyncio.Event) -> None:
    async with aiohttp.ClientSession() as session:
        n = 0
        while not stop.is_set():
            request_id = f"{prefix}-{n}"
            n += 1
            body = {"model": "gpt-x", "stream": n % 2 == 0, "messages": [{"role": "user", "content": request_id}]}
            try:
                async with session.post(
                    f"http://127.0.0.1:{port}/v1/chat/completions", json=body, headers={"x-request-id": request_id}
                ) as response:
                    await response.read()
                    if response.status == 200:
                        acknowledged.append(response.headers["x-lunaroute-request-id"])
            except (TimeoutError, aiohttp.ClientError):
                return


async def test_kill_9_loses_no_acknowledged_session(tmp_path: Path) -> None:
    async with FakeUpstream(default=Reply(answer=Answer(text="recorded answer"), chunk_delay=0.002)) as upstream:
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
        acknowledged: list[str] = []
        for round_ in range(ROUNDS):
            port = free_port()
            process = await start_gateway(config, port)
            stop = asyncio.Event()
            workers = [asyncio.create_task(traffic(port, f"r{round_}w{w}", acknowledged, stop)) for w in range(6)]
            await asyncio.sleep(0.4 + 0.2 * round_)
            process.send_signal(signal.SIGKILL)
            await process.wait()
            stop.set()
            await asyncio.gather(*workers)
        # A last start replays what the killed processes journaled; a graceful stop flushes it.
        port = free_port()
        process = await start_gateway(config, port)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    assert len(acknowledged) > 20
    with sqlite3.connect(tmp_path / "sessions.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = Counter(row[0] for row in conn.execute("SELECT request_id FROM session_stats"))
    missing = [rid for rid in acknowledged if rid not in stored]
    assert missing == []
    assert max(stored.values()) == 1
    # The last graceful stop recorded everything journaled and deleted the journal.
    assert sorted(p.name for p in (tmp_path / "journal").glob("journal-*")) == []
