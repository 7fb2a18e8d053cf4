"""Throughput of the recorder into the SQLite and JSONL writers (run by hand; not a test).

    PYTHONPATH=.:src python tests/recording/bench_recorder.py [--events 50000]

Prints events/s from the first `record()` to the end of `aclose()` (everything written and flushed).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from lunaroute.recording.jsonl import JsonlWriter
from lunaroute.recording.recorder import Recorder
from lunaroute.recording.sqlite import SqliteWriter


async def run(kind: str, n_events: int, root: Path) -> float:
    from tests.recording._builders import request_events

    writer: JsonlWriter | SqliteWriter
    if kind == "sqlite":
        writer = await SqliteWriter.open(root / "sessions.db")
    else:
        writer = JsonlWriter(root / "sessions")
    recorder = Recorder([writer], spool_dir=root / f"spool-{kind}", max_queue_events=1_000_000)
    await recorder.start()
    per_request = len(request_events("s", "r", tools=3))
    requests = [request_events(f"s{i % 500}", f"r{i}", tools=3) for i in range(n_events // per_request)]
    total = sum(map(len, requests))
    start = time.perf_counter()
    for i, evs in enumerate(requests):
        for ev in evs:
            recorder.record(ev)
        if i % 50 == 0:
            await asyncio.sleep(0)  # let the consumer run, as a live server would
    await recorder.aclose()
    elapsed = time.perf_counter() - start
    assert recorder.events_written[writer.name] == total
    assert recorder.events_lost == 0
    return total / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("sqlite", "jsonl"):
            rate = await run(kind, args.events, Path(tmp))
            print(f"{kind:>6}: {rate:>10,.0f} events/s ({args.events:,} events, batches of 100)")


if __name__ == "__main__":
    asyncio.run(main())
