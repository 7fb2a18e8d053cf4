"""Capture rate at full size: N requests (default 10,000) through a recording gateway process, a mix of plain,
streamed, upstream-error, refused and client-abandoned requests, then exactly one terminal record per request is
checked against this script's own tally of request ids (never the gateway's).

    python bench/capture_rate.py [--requests 10000] [--concurrency 16]

Prints the counts and the capture rate; exits 1 when any request lacks exactly one terminal record.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
import yaml

from lunaroute.recording import Completed, Started, read_session_file
from lunaroute.testing import Answer, FakeUpstream, Reply

KINDS = ("plain", "stream", "error", "rejected", "disconnect")
WEIGHTS = (4, 4, 1, 1, 1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_healthy(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise SystemExit("the gateway did not start")


async def one(session: aiohttp.ClientSession, url: str, request_id: str, kind: str) -> None:
    body: dict[str, object] = {"model": "gpt-x", "messages": [{"role": "user", "content": request_id}]}
    headers = {"x-request-id": request_id, "x-scenario": kind}
    if kind == "stream":
        body["stream"] = True
    elif kind == "rejected":
        body["stream"] = "yes"
    elif kind == "disconnect":
        body["stream"] = True
        async with session.post(f"{url}/v1/chat/completions", json=body, headers=headers) as response:
            await response.content.readany()
        return
    async with session.post(f"{url}/v1/chat/completions", json=body, headers=headers) as response:
        await response.read()


def reply_for(kind: str) -> Reply:
    if kind == "error":
        return Reply(status=500)
    if kind == "disconnect":
        return Reply(answer=Answer(text="long answer " * 20), first_chunk_then_stall=0.3)
    return Reply(answer=Answer(text="ok"))


async def run(requests: int, concurrency: int) -> int:
    rng = random.Random(11)
    kinds = rng.choices(KINDS, weights=WEIGHTS, k=requests)
    ids = [f"cap-{i:06d}" for i in range(requests)]
    with tempfile.TemporaryDirectory(prefix="lunaroute-capture-") as tmp:
        work = Path(tmp)
        # Requests run concurrently, so the upstream picks each answer from the scenario header.
        responder = lambda received: reply_for(received.header("x-scenario") or "plain")  # noqa: E731
        async with FakeUpstream(max_reply_seconds=10.0, responder=responder) as upstream:
            config = work / "config.yaml"
            config.write_text(
                yaml.safe_dump(
                    {
                        "providers": {"openai": {"base_url": upstream.openai_base_url}},
                        "session_recording": {
                            "jsonl": {"directory": str(work / "sessions")},
                            "sqlite": {"path": str(work / "sessions.db")},
                            "journal_directory": str(work / "journal"),
                        },
                        "ui": {"enabled": False},
                    }
                )
            )
            port = free_port()
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "lunaroute", "serve", "--config", str(config), "--port", str(port),
                env={**os.environ, "LUNAROUTE_HOME": str(work / "home")},
            )  # fmt: skip
            url = f"http://127.0.0.1:{port}"
            try:
                await wait_healthy(url)
                started = time.monotonic()
                queue = list(zip(ids, kinds, strict=True))
                async with aiohttp.ClientSession() as session:

                    async def worker() -> None:
                        while queue:
                            request_id, kind = queue.pop()
                            await one(session, url, request_id, kind)

                    await asyncio.gather(*(worker() for _ in range(concurrency)))
                elapsed = time.monotonic() - started
            finally:
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(process.wait(), 60)
        # Records are keyed by the gateway's own id; the script's id travels as the recorded `x-request-id` header.
        terminal: Counter[str] = Counter()
        client_id: dict[str, str] = {}
        completed: list[str] = []
        for path in (work / "sessions").rglob("*.jsonl*"):
            for event in read_session_file(path).events:
                if isinstance(event, Started):
                    client_id[event.request_id] = event.request_headers.get("x-request-id", event.request_id)
                elif isinstance(event, Completed):
                    completed.append(event.request_id)
        for gateway_id in completed:
            terminal[client_id.get(gateway_id, gateway_id)] += 1
    missing = [i for i in ids if terminal[i] == 0]
    doubled = [i for i in ids if terminal[i] > 1]
    stray = set(terminal) - set(ids)
    mix = Counter(kinds)
    print(f"requests sent: {requests:,} in {elapsed:.1f} s ({', '.join(f'{k} {mix[k]}' for k in KINDS)})")
    print(f"with exactly one terminal record: {requests - len(missing) - len(doubled):,}")
    print(f"missing: {len(missing)}, recorded twice or more: {len(doubled)}, unknown ids: {len(stray)}")
    print(f"capture rate: {(requests - len(missing)) / requests:.4%}")
    return 0 if not missing and not doubled and not stray else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    return asyncio.run(run(args.requests, args.concurrency))


if __name__ == "__main__":
    raise SystemExit(main())
