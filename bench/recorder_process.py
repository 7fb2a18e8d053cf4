"""What the recorder process costs per exchange, and so how many exchanges a core of it keeps up with.

    python bench/recorder_process.py [--exchanges 10000] [--request chat|agent|both] [--reply json|stream|both]

Journals `--exchanges` exchanges shaped like `run.py`'s (a ~2 KB chat request, or with `--request agent` the ~67 KB
request of a coding agent: a long system prompt, 20 tools, 30 turns of history; a JSON reply, or the 10-event SSE
reply) through the real `Capture` as fast as it takes them, with the recorder process writing JSONL and SQLite in
a temporary directory; then waits until everything is recorded and stops it. Prints, per exchange, the CPU time
of the gateway side (journal only) and of the recorder process (its whole life, start-up included), and the
exchanges per second one core of recorder sustains (1,000,000 / its µs per exchange).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from pathlib import Path

from _payloads import agent_request, chat_request, json_reply, sse_events
from lunaroute.config import config_from_mapping
from lunaroute.recording._setup import open_recording
from lunaroute.types import Endpoint, ExchangeRecord

_REQUESTS = {"chat": chat_request, "agent": agent_request}


def _record(i: int, stream: bool, body: bytes) -> ExchangeRecord:
    return ExchangeRecord(
        request_id=f"req-{i}",
        started_at=time.time(),
        listener="openai",
        endpoint=Endpoint.OPENAI_CHAT,
        method="POST",
        path="/v1/chat/completions",
        request_headers=[("user-agent", "bench/1"), ("content-type", "application/json")],
        request_body=body,
        model_requested="gpt-4o-mini",
        is_streaming=stream,
    )


async def run(exchanges: int, stream: bool, request: str, root: Path) -> tuple[float, float]:
    """(gateway-side µs, recorder-process µs) of CPU per exchange."""
    config = config_from_mapping(
        {
            "session_recording": {
                "jsonl": {"directory": str(root / "sessions")},
                "sqlite": {"path": str(root / "sessions.db")},
                "journal_directory": str(root / "journal"),
                # In the default idle class the recorder gets no CPU while anything else keeps the cores busy;
                # its CPU time per exchange does not depend on the class, the wall time of the run does.
                "worker": {"nice": 0, "sched_idle": False},
            }
        }
    ).session_recording
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    stack = await open_recording(config)
    capture = stack.capture
    reply, chunks = json_reply().encode(), sse_events()
    body = _REQUESTS[request](stream)
    own = time.process_time()
    for i in range(exchanges):
        record = _record(i, stream, body)
        capture.begin(record)
        record.provider, record.provider_dialect, record.model_sent = "openai", "openai", "gpt-4o-mini"
        record.status, record.outcome = 200, "ok"
        if stream:
            record.response_headers = [("content-type", "text/event-stream")]
            record.stream_chunks = list(chunks)
            record.chunk_offsets_ms = [1.0 + k for k in range(len(chunks))]
        else:
            record.response_headers = [("content-type", "application/json")]
            record.response_body = reply
        record.upstream_sent_ms, record.upstream_head_ms, record.first_byte_ms, record.finished_ms = 0.1, 0.5, 0.6, 1
        capture.end(record)
        if i % 64 == 0:
            await asyncio.sleep(0)
    own = time.process_time() - own
    await capture.drain()
    assert capture.recorder_stats.exchanges_recorded == exchanges, capture.recorder_stats
    await stack.aclose()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = (after.ru_utime + after.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
    return own / exchanges * 1e6, child / exchanges * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--exchanges", type=int, default=10_000)
    parser.add_argument("--request", choices=("chat", "agent", "both"), default="chat")
    parser.add_argument("--reply", choices=("json", "stream", "both"), default="both")
    args = parser.parse_args()
    requests = ("chat", "agent") if args.request == "both" else (args.request,)
    streams = {"json": (False,), "stream": (True,), "both": (False, True)}[args.reply]
    print(
        "| request | reply | gateway side µs/exchange | recorder process µs/exchange | exchanges/s per recorder core |"
    )
    print("|---|---|--:|--:|--:|")
    for request in requests:
        for stream in streams:
            with tempfile.TemporaryDirectory() as tmp:
                own, child = await run(args.exchanges, stream, request, Path(tmp))
            reply = "stream" if stream else "json"
            print(f"| {request} | {reply} | {own:.0f} | {child:.0f} | {1e6 / child:,.0f} |")


if __name__ == "__main__":
    asyncio.run(main())
